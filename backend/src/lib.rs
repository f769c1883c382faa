//! Troupe's server: a multi-user character chat platform over an HTTP API.
//!
//! Layers, outside in: `http` (cross-cutting middleware) → `api` (operations and the one
//! error mapping) → `services` (the rules, one module per subject) → `storage` (SQL for SQLite
//! and PostgreSQL) and `providers` (one module per model wire format); `domain` holds the
//! values every layer shares. `state` is the one application state handed to requests. See
//! `docs/architecture.md`.
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
pub mod shared;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;

pub use config::Config;
pub use startup::Application;
