//! The live rooms' addresses. The rest of the site is the other apps' (`app/routes.rs`,
//! `admin/routes.rs`, `account/routes.rs`), reached with plain links.

use yew_router::prelude::*;

#[derive(Clone, Debug, PartialEq, Routable)]
pub enum Route {
    #[at("/rooms")]
    List,
    #[at("/rooms/:id")]
    Room { id: i64 },
    #[not_found]
    #[at("/rooms/404")]
    NotFound,
}
