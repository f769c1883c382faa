//! Pieces the pages share.

pub mod avatar;
pub mod banner;
pub mod chart;
pub mod field;
pub mod layout;
pub mod markdown;
pub mod menu;
pub mod pager;
pub mod secret;
