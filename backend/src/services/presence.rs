//! Who is online (a request in the last few minutes) and the announcement channel. Both live
//! in this process's memory: with several server instances, each knows its own clients.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::broadcast;
use troupe_types::Announcement;

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

/// Fans new announcements out to every connected client.
#[derive(Clone)]
pub struct AnnouncementHub {
    sender: broadcast::Sender<Announcement>,
}

impl Default for AnnouncementHub {
    fn default() -> Self {
        Self { sender: broadcast::channel(64).0 }
    }
}

impl AnnouncementHub {
    pub fn publish(&self, announcement: Announcement) {
        // Nobody listening is fine.
        let _ = self.sender.send(announcement);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Announcement> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_distinct_recent_users() {
        let presence = Presence::default();
        presence.touch(1);
        presence.touch(2);
        presence.touch(1);
        assert_eq!(presence.online(), 2);
    }
}
