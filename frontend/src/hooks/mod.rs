//! Hooks the pages share.

mod use_load;
mod use_refresh;

pub use use_load::use_load;
pub use use_refresh::{liveness, use_refresh};
