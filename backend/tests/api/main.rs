//! Integration tests: the real server on port 0, on SQLite and on PostgreSQL.

mod helpers;

mod admin;
mod auth;
mod cards;
mod catalog;
mod characters;
mod chats;
mod cli;
mod conversation_tools;
mod faults;
mod first_run;
mod gateway;
mod hardening;
mod instances;
mod keys;
mod lore;
mod openai;
mod openapi;
mod rooms;
mod service;
mod storage;
