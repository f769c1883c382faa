//! Live rooms: admins make them, everyone may join, and the room's character answers per the
//! room's reply mode. `hub` holds who is connected and carries the frames; `reply` writes the
//! character's replies.

pub mod hub;
mod reply;

use std::sync::Arc;

use troupe_types::{CreateRoom, ReplyMode, RoomMessageKind, UpdateRoom, rules::RuleViolation};

pub use self::hub::{Hub, LiveRoom, Membership, Outgoing};
use self::reply::Replier;
use super::{Characters, Prompts, catalog::ModelCatalog, generation::GenerationLimits};
use crate::{
    clock::now_millis,
    domain::{CharacterId, MessageText, Room, RoomChange, RoomDraft, RoomId, RoomMessage, RoomMessageId, User, UserId},
    error::AppError,
    providers::ProviderSet,
    shared::Shared,
    storage::{
        Db,
        rooms::{self, NewRoomMessage},
        users,
    },
};

/// Messages a history page holds at most.
pub const MAX_PAGE: i64 = 200;

#[derive(Clone)]
pub struct Rooms {
    db: Db,
    characters: Characters,
    hub: Arc<Hub>,
    replier: Arc<Replier>,
}

impl Rooms {
    pub fn new(
        db: Db,
        characters: Characters,
        (catalog, providers): (Arc<ModelCatalog>, Arc<ProviderSet>),
        prompts: Prompts,
        limits: Arc<GenerationLimits>,
        (max_rooms_per_user, shared): (usize, &Shared),
    ) -> Self {
        let locks = shared.locks();
        let replier = Arc::new(Replier { db: db.clone(), catalog, providers, prompts, limits, locks });
        Self { hub: Hub::new(db.clone(), max_rooms_per_user, shared), db, characters, replier }
    }

    /// Every room, with its participants now.
    pub async fn list(&self) -> Result<Vec<troupe_types::Room>, AppError> {
        let mut listed = Vec::new();
        for room in rooms::list(&self.db).await? {
            listed.push(room.to_wire(self.hub.participants(room.id).await));
        }
        Ok(listed)
    }

    pub async fn get(&self, id: RoomId) -> Result<Room, AppError> {
        rooms::find(&self.db, id).await?.ok_or(AppError::NotFound)
    }

    pub async fn to_wire(&self, room: &Room) -> troupe_types::Room {
        room.to_wire(self.hub.participants(room.id).await)
    }

    pub async fn create(&self, admin: &User, input: CreateRoom) -> Result<Room, AppError> {
        admin.require_admin()?;
        let draft = RoomDraft::parse(input)?;
        self.check_character(admin, draft.character_id).await?;
        Ok(rooms::insert(&self.db, &draft).await?)
    }

    pub async fn update(&self, admin: &User, id: RoomId, input: UpdateRoom) -> Result<Room, AppError> {
        admin.require_admin()?;
        let change = RoomChange::parse(input)?;
        if let Some(character) = change.character_id {
            self.check_character(admin, character).await?;
        }
        rooms::update(&self.db, id, &change).await?.ok_or(AppError::NotFound)
    }

    /// Deletes the room with its messages, and closes its connections.
    pub async fn delete(&self, admin: &User, id: RoomId) -> Result<(), AppError> {
        admin.require_admin()?;
        if !rooms::delete(&self.db, id).await? {
            return Err(AppError::NotFound);
        }
        self.hub.close(id);
        Ok(())
    }

    /// A room's character must exist (and not be deleted).
    async fn check_character(&self, admin: &User, id: CharacterId) -> Result<(), AppError> {
        match self.characters.get(admin, id).await {
            Err(AppError::NotFound) => {
                Err(RuleViolation::new("character_id", "unknown_character", "there is no such character").into())
            }
            other => other.map(drop),
        }
    }

    /// Up to `limit` (1–`MAX_PAGE`) messages before `before` (the latest when `None`), oldest
    /// first.
    pub async fn messages(
        &self,
        id: RoomId,
        before: Option<RoomMessageId>,
        limit: i64,
    ) -> Result<Vec<RoomMessage>, AppError> {
        self.get(id).await?;
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(RuleViolation::new("limit", "invalid_limit", format!("limit must be 1 to {MAX_PAGE}")).into());
        }
        Ok(rooms::page(&self.db, id, before, limit).await?)
    }

    /// Up to `limit` messages after `after`, oldest first: what a reconnecting client missed.
    pub async fn missed(&self, id: RoomId, after: RoomMessageId, limit: i64) -> Result<Vec<RoomMessage>, AppError> {
        Ok(rooms::after(&self.db, id, after, limit).await?)
    }

    /// An admin deletes a message; everyone in the room sees it go.
    pub async fn delete_message(&self, admin: &User, id: RoomId, message: RoomMessageId) -> Result<(), AppError> {
        admin.require_admin()?;
        if !rooms::delete_message(&self.db, id, message).await? {
            return Err(AppError::NotFound);
        }
        self.hub.room(id).deleted(message);
        Ok(())
    }

    /// An admin mutes `user` in the room for `minutes` (0 lifts the mute).
    pub async fn mute(&self, admin: &User, id: RoomId, user: UserId, minutes: i64) -> Result<(), AppError> {
        admin.require_admin()?;
        troupe_types::rules::check_mute_minutes(minutes)?;
        self.get(id).await?;
        if users::find_by_id(&self.db, user).await?.is_none() {
            return Err(RuleViolation::new("user_id", "unknown_user", "there is no such user").into());
        }
        rooms::mute(&self.db, id, user, now_millis() + minutes * 60_000).await?;
        Ok(())
    }

    /// A connection of `user` to `room`, receiving from now on.
    pub fn join(&self, room: &Room, user: &User) -> Result<Membership, AppError> {
        self.hub.join(room.id, user)
    }

    /// `user` says `content` in the room: checked (length, mute, slow mode, message rate), stored,
    /// sent to everyone, and answered by the character when the reply mode says so.
    /// The user is read afresh: an admin's change (quota, role) holds from their next message.
    pub async fn post(&self, live: &Arc<LiveRoom>, user: UserId, content: &str) -> Result<(), AppError> {
        let limits = &self.replier.limits;
        let text = MessageText::parse(content, limits.max_message_chars())?;
        let user = &users::find_by_id(&self.db, user).await?.ok_or(AppError::NotFound)?;
        let room = self.get(live.id).await?;
        if let Some(until) = rooms::muted_until(&self.db, room.id, user.id).await? {
            let minutes = ((until - now_millis()) as u64).div_ceil(60_000).max(1) as i64;
            return Err(AppError::Muted { minutes });
        }
        if !user.is_admin {
            live.take_turn(user.id, room.slow_mode_secs)?;
        }
        limits.check_rate(user).await?;
        let kind = if user.is_admin { RoomMessageKind::Admin } else { RoomMessageKind::User };
        let message = NewRoomMessage {
            room_id: room.id,
            kind,
            author: &user.username,
            user_id: Some(user.id),
            content: text.as_str(),
        };
        live.publish(&message).await?;
        if asks_for_reply(&room, text.as_str()) {
            self.replier.ask(live.clone(), user.clone());
        }
        Ok(())
    }
}

/// Whether the room's character answers `text`: always, or when it is named (any case).
fn asks_for_reply(room: &Room, text: &str) -> bool {
    match room.reply_mode {
        ReplyMode::EveryMessage => true,
        ReplyMode::Mention => text.to_lowercase().contains(&room.character_name.to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(reply_mode: ReplyMode) -> Room {
        Room {
            id: RoomId::new(1),
            name: "Lobby".into(),
            character_id: CharacterId::new(1),
            character_name: "Aria Vale".into(),
            slow_mode_secs: 0,
            reply_mode,
            created_at: 0,
        }
    }

    #[test]
    fn mention_mode_answers_messages_that_name_the_character() {
        assert!(asks_for_reply(&room(ReplyMode::Mention), "hey ARIA VALE, sing"));
        assert!(!asks_for_reply(&room(ReplyMode::Mention), "hey everyone"));
        assert!(asks_for_reply(&room(ReplyMode::EveryMessage), "hey everyone"));
    }
}
