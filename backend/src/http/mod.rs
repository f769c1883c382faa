//! Cross-cutting HTTP concerns, wrapped around every route by `startup`.

pub mod allow;
pub mod body_limit;
pub mod boundary;
pub mod csrf;
pub mod embed;
pub mod nodelay;
pub mod spa;

pub use body_limit::BodyLimit;
pub use boundary::RequestBoundary;
pub use csrf::CsrfGuard;
