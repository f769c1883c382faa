//! Who is online: a request in the last few minutes. In this process's memory: with several
//! server instances, each knows its own clients.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::domain::UserId;

/// A user counts as online this long after their last request.
pub const ONLINE_WINDOW: Duration = Duration::from_secs(5 * 60);

#[derive(Clone, Default)]
pub struct Presence {
    seen: Arc<Mutex<HashMap<UserId, Instant>>>,
}

impl Presence {
    pub fn touch(&self, user: UserId) {
        self.seen.lock().expect("presence lock").insert(user, Instant::now());
    }

    /// Users seen within `ONLINE_WINDOW`; forgets the others.
    pub fn online(&self) -> usize {
        let mut seen = self.seen.lock().expect("presence lock");
        seen.retain(|_, at| at.elapsed() < ONLINE_WINDOW);
        seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_recent_users() {
        let presence = Presence::default();
        let (one, two) = (UserId::new(1), UserId::new(2));
        presence.touch(one);
        presence.touch(two);
        presence.touch(one);
        assert_eq!(presence.online(), 2);
    }
}
