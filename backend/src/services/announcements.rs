//! Announcements: admins post them, every signed-in user reads the active ones, and connected
//! users receive new ones at once (`/api/events`).

use tokio::sync::broadcast;
use troupe_types::{Announcement, NewAnnouncement, rules};

use crate::{
    clock::{now_millis, rfc3339},
    domain::{AnnouncementId, User},
    error::AppError,
    shared::{Shared, Topic},
    storage::{
        Db,
        announcements::{self, AnnouncementRow},
    },
};

const HOUR_MS: i64 = 3_600_000;

#[derive(Clone)]
pub struct Announcements {
    db: Db,
    /// New ones, to every instance's connected users.
    topic: Topic<Announcement>,
}

impl Announcements {
    pub fn new(db: Db, shared: &Shared) -> Self {
        Self { db, topic: shared.topic("announcements", 64) }
    }

    /// Posts an announcement and pushes it to every connected user.
    pub async fn post(&self, author: &User, new: NewAnnouncement) -> Result<Announcement, AppError> {
        let text = new.text.trim();
        rules::check_text("text", text, rules::ANNOUNCEMENT_MAX_CHARS, true)?;
        let hours = new.duration_hours.unwrap_or(rules::ANNOUNCEMENT_DEFAULT_HOURS);
        rules::check_announcement_hours(hours)?;
        let now = now_millis();
        let row = announcements::insert(&self.db, author.id, text, new.level, now, now + hours * HOUR_MS).await?;
        let announcement = announcement(row);
        self.topic.publish(announcement.clone());
        Ok(announcement)
    }

    /// Active announcements, newest first.
    pub async fn active(&self) -> Result<Vec<Announcement>, AppError> {
        Ok(announcements::active(&self.db, now_millis()).await?.into_iter().map(announcement).collect())
    }

    pub async fn end(&self, id: AnnouncementId) -> Result<(), AppError> {
        Ok(announcements::end(&self.db, id, now_millis()).await?)
    }

    /// New announcements as they are posted.
    pub fn subscribe(&self) -> broadcast::Receiver<Announcement> {
        self.topic.subscribe()
    }
}

fn announcement(row: AnnouncementRow) -> Announcement {
    Announcement {
        id: row.id.get(),
        text: row.text,
        level: row.level,
        created_at: rfc3339(row.created_at),
        expires_at: rfc3339(row.expires_at),
    }
}
