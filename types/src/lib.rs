//! Troupe's wire types: the JSON bodies of the HTTP API, shared by the server and the web app.
//!
//! Plain serde structs; with the `openapi` feature they also derive poem-openapi's `Object`
//! so the server documents exactly what it sends. Times are RFC 3339 strings in UTC.
#![forbid(unsafe_code)]

pub mod auth;
pub mod error;
pub mod rules;

pub use auth::{AuthResponse, LoginRequest, RegisterRequest, User};
pub use error::{ErrorBody, ErrorDetail};
