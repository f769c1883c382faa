//! Every page's address: the one list of client-side routes.

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
    #[at("/prompts")]
    Prompts,
    #[at("/admin")]
    Admin,
    #[at("/admin/users")]
    AdminUsers,
    #[at("/admin/conversations")]
    AdminConversations,
    #[not_found]
    #[at("/404")]
    NotFound,
}
