//! Who is online, over every instance (`shared::online`).

use std::sync::Arc;

use crate::{
    domain::UserId,
    shared::{Online, Shared},
};

#[derive(Clone)]
pub struct Presence {
    online: Arc<dyn Online>,
}

impl Presence {
    pub fn new(shared: &Shared) -> Self {
        Self { online: shared.online() }
    }

    pub fn touch(&self, user: UserId) {
        self.online.touch(user);
    }

    /// Users who made a request in the last 5 minutes.
    pub async fn online(&self) -> usize {
        self.online.count().await
    }
}
