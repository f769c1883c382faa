//! Live rooms: many people and one character in one live conversation.

use troupe_types::{
    CreateRoom, ReplyMode, RoomMessageKind, UpdateRoom,
    rules::{self, ROOM_NAME_MAX_CHARS, RuleViolation},
};

use super::{CharacterId, RoomId, RoomMessageId, UserId};
use crate::clock::{Millis, rfc3339};

/// A stored room, with its character's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    pub id: RoomId,
    pub name: String,
    pub character_id: CharacterId,
    pub character_name: String,
    pub slow_mode_secs: i64,
    pub reply_mode: ReplyMode,
    pub created_at: Millis,
}

impl Room {
    /// The wire form, with the participants counted now.
    pub fn to_wire(&self, participants: usize) -> troupe_types::Room {
        troupe_types::Room {
            id: self.id.get(),
            name: self.name.clone(),
            character_id: self.character_id.get(),
            character_name: self.character_name.clone(),
            participants: participants as i64,
            slow_mode_secs: self.slow_mode_secs,
            reply_mode: self.reply_mode,
            created_at: rfc3339(self.created_at),
        }
    }
}

/// A new room, checked.
pub struct RoomDraft {
    pub name: String,
    pub character_id: CharacterId,
    pub slow_mode_secs: i64,
    pub reply_mode: ReplyMode,
}

impl RoomDraft {
    pub fn parse(input: CreateRoom) -> Result<Self, RuleViolation> {
        Ok(Self {
            name: room_name(&input.name)?,
            character_id: CharacterId::new(input.character_id),
            slow_mode_secs: slow_mode(input.slow_mode_secs)?,
            reply_mode: input.reply_mode,
        })
    }
}

/// Changes to a room, checked; `None` keeps a field.
#[derive(Default)]
pub struct RoomChange {
    pub name: Option<String>,
    pub character_id: Option<CharacterId>,
    pub slow_mode_secs: Option<i64>,
    pub reply_mode: Option<ReplyMode>,
}

impl RoomChange {
    pub fn parse(input: UpdateRoom) -> Result<Self, RuleViolation> {
        Ok(Self {
            name: input.name.as_deref().map(room_name).transpose()?,
            character_id: input.character_id.map(CharacterId::new),
            slow_mode_secs: input.slow_mode_secs.map(slow_mode).transpose()?,
            reply_mode: input.reply_mode,
        })
    }
}

fn room_name(raw: &str) -> Result<String, RuleViolation> {
    let name = raw.trim();
    rules::check_text("name", name, ROOM_NAME_MAX_CHARS, true)?;
    Ok(name.to_owned())
}

fn slow_mode(secs: i64) -> Result<i64, RuleViolation> {
    rules::check_slow_mode(secs).map(|()| secs)
}

/// A stored room message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomMessage {
    pub id: RoomMessageId,
    pub room_id: RoomId,
    pub kind: RoomMessageKind,
    pub author: String,
    pub user_id: Option<UserId>,
    pub content: String,
    pub created_at: Millis,
}

impl From<&RoomMessage> for troupe_types::RoomMessage {
    fn from(m: &RoomMessage) -> Self {
        Self {
            id: m.id.get(),
            room_id: m.room_id.get(),
            kind: m.kind,
            author: m.author.clone(),
            user_id: m.user_id.map(UserId::get),
            content: m.content.clone(),
            created_at: rfc3339(m.created_at),
        }
    }
}
