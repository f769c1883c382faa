//! The account pages' addresses. The rest of the site is the other apps'
//! (`app/routes.rs`, `admin/routes.rs`), reached with plain links.

use yew_router::prelude::*;

#[derive(Clone, Debug, PartialEq, Routable)]
pub enum Route {
    #[at("/account")]
    Home,
    #[at("/account/keys")]
    Keys,
    #[not_found]
    #[at("/account/404")]
    NotFound,
}
