//! Troupe's server: a multi-user character chat platform over an HTTP API.
//!
//! Layers, outside in: `http` (cross-cutting middleware) → `api` (operations and the one
//! error mapping) → `services` (domain rules) → `storage` (SQL for SQLite and PostgreSQL).
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod providers;
pub mod services;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
