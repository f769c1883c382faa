//! Every page's address in this app: the one list of its client-side routes. The admin
//! console (`/admin/…`) is another app, with routes of its own (`admin/routes.rs`).

use yew_router::prelude::*;

#[derive(Clone, Debug, PartialEq, Routable)]
pub enum Route {
    #[at("/")]
    Home,
    #[at("/chats/:id")]
    Chat { id: i64 },
    #[at("/signin")]
    SignIn,
    #[at("/register")]
    Register,
    #[at("/characters")]
    Characters,
    #[at("/characters/new")]
    NewCharacter,
    #[at("/characters/:id/edit")]
    EditCharacter { id: i64 },
    #[at("/personas")]
    Personas,
    #[at("/lorebooks")]
    Lorebooks,
    /// Moved to the admin console (`/admin/prompts`); kept so old links still lead there.
    #[at("/prompts")]
    Prompts,
    #[not_found]
    #[at("/404")]
    NotFound,
}
