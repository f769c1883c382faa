//! Credentials: password hashing and session tokens.

pub mod password;
pub mod secret;
pub mod token;

pub use token::{Claims, TokenError, TokenIssuer};
