//! Domain rules, between the HTTP layer and storage.

pub mod accounts;

pub use accounts::{Accounts, Session, SignedIn};
