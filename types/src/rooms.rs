//! Live rooms (`/api/rooms`): many people and one character in one live conversation, over a
//! WebSocket (`/api/rooms/{id}/ws`) whose frames are `ClientFrame` and `ServerFrame`.

use serde::{Deserialize, Serialize};

/// When the room's character answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
pub enum ReplyMode {
    /// Messages that name the character (its name anywhere in the text, any case).
    #[default]
    Mention,
    /// Every message of a person.
    EveryMessage,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Room {
    pub id: i64,
    pub name: String,
    pub character_id: i64,
    pub character_name: String,
    /// Distinct users connected now.
    pub participants: i64,
    /// Seconds a person must wait between two messages (admins never wait); 0: off.
    pub slow_mode_secs: i64,
    pub reply_mode: ReplyMode,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RoomList {
    pub items: Vec<Room>,
}

/// Body of `POST /api/rooms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CreateRoom {
    /// 1–80 characters.
    pub name: String,
    /// A public character, or one of the admin's own.
    pub character_id: i64,
    /// 0–3600; default 0 (off).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub slow_mode_secs: i64,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub reply_mode: ReplyMode,
}

/// Body of `PATCH /api/rooms/{id}`: absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct UpdateRoom {
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub character_id: Option<i64>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub slow_mode_secs: Option<i64>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub reply_mode: Option<ReplyMode>,
}

/// Who wrote a room message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", oai(rename_all = "lowercase"))]
pub enum RoomMessageKind {
    User,
    Character,
    /// A person who is an admin (shown highlighted).
    Admin,
    /// The room itself: `content` is `joined` or `left`, `author` the names concerned.
    System,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RoomMessage {
    /// Increases with every message of the server: replay after the last one you have.
    pub id: i64,
    pub room_id: i64,
    pub kind: RoomMessageKind,
    /// The person's username, the character's name, or for `system` the names that joined or
    /// left (`alice, bob`, with `+N` when there are many).
    pub author: String,
    /// The author's user id (`user` and `admin` messages), so admins can mute them.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub user_id: Option<i64>,
    pub content: String,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RoomMessageList {
    /// Oldest first.
    pub items: Vec<RoomMessage>,
}

/// Body of `POST /api/rooms/{id}/mutes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MuteUser {
    pub user_id: i64,
    /// 1–10080 (a week); 0 lifts a mute.
    pub minutes: i64,
}

/// A frame the client sends on the room's WebSocket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Message { content: String },
}

/// A frame the server sends on the room's WebSocket (JSON with a `type`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A new message, or a newer version of one already sent (same `id`: replace it). The
    /// character's reply comes first empty, as it starts, then whole once it is done.
    Message { message: RoomMessage },
    /// The next piece of the character's reply `message_id`.
    Delta { message_id: i64, text: String },
    /// Distinct users connected now.
    Presence { participants: i64 },
    /// An admin deleted this message.
    Deleted { message_id: i64 },
    /// Something this connection sent was refused (or the character could not answer it); only
    /// this connection's user is told, and the room goes on.
    Error {
        code: String,
        message: String,
        /// For `slow_mode` and `rate_limited`: seconds to wait.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<i64>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_by_type() {
        let frame = ServerFrame::Delta { message_id: 7, text: "Hi".into() };
        assert_eq!(serde_json::to_string(&frame).unwrap(), r#"{"type":"delta","message_id":7,"text":"Hi"}"#);
        let client: ClientFrame = serde_json::from_str(r#"{"type":"message","content":"hey"}"#).unwrap();
        assert_eq!(client, ClientFrame::Message { content: "hey".into() });
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"dance"}"#).is_err());
    }
}
