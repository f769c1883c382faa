//! Who is signed in, shared with every page through a context.

use std::rc::Rc;

use troupe_types::User;
use yew::prelude::*;

/// Whether someone is signed in; `Loading` until `/api/auth/me` has answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Session {
    Loading,
    SignedOut,
    SignedIn(Rc<User>),
}

impl Session {
    pub fn user(&self) -> Option<&User> {
        match self {
            Session::SignedIn(user) => Some(user),
            _ => None,
        }
    }
}

pub type SessionHandle = UseStateHandle<Session>;

#[hook]
pub fn use_session() -> SessionHandle {
    use_context::<SessionHandle>().expect("the session is provided by App")
}
