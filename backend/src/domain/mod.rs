//! Domain values, valid by construction: parse once at the boundary, trust afterwards.

pub mod user;

pub use user::{Email, Password, User, UserId, Username};

pub use troupe_types::rules::RuleViolation;
