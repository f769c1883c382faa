//! The admin console's addresses. The rest of the site (`/`, `/characters`, …) is the other
//! app's (`app/routes.rs`), reached with plain links.

use yew_router::prelude::*;

#[derive(Clone, Debug, PartialEq, Routable)]
pub enum Route {
    #[at("/admin")]
    Overview,
    #[at("/admin/users")]
    Users,
    #[at("/admin/conversations")]
    Conversations,
    #[at("/admin/systems")]
    Systems,
    #[at("/admin/prompts")]
    Prompts,
    #[not_found]
    #[at("/admin/404")]
    NotFound,
}
