//! Rooms, their messages and their mutes.

use sqlx::FromRow;
use troupe_types::{ReplyMode, RoomMessageKind};

use super::{
    Db, StorageError,
    generations::{self, OwnGeneration},
    text::DbText,
};
use crate::{
    clock::{Millis, now_millis},
    domain::{CharacterId, Room, RoomChange, RoomDraft, RoomId, RoomMessage, RoomMessageId, UserId},
};

impl DbText for ReplyMode {
    const WHAT: &'static str = "room reply mode";
    const TEXTS: &'static [(Self, &'static str)] = &[(Self::Mention, "mention"), (Self::EveryMessage, "every_message")];
}

impl DbText for RoomMessageKind {
    const WHAT: &'static str = "room message kind";
    const TEXTS: &'static [(Self, &'static str)] =
        &[(Self::User, "user"), (Self::Character, "character"), (Self::Admin, "admin"), (Self::System, "system")];
}

const ROOM_COLUMNS: &str = "r.id, r.name, r.character_id, c.name AS character_name, r.slow_mode_secs, r.reply_mode, \
                            r.created_at FROM rooms r JOIN characters c ON c.id = r.character_id";

#[derive(FromRow)]
struct RoomRow {
    id: i64,
    name: String,
    character_id: i64,
    character_name: String,
    slow_mode_secs: i64,
    reply_mode: String,
    created_at: i64,
}

impl TryFrom<RoomRow> for Room {
    type Error = StorageError;

    fn try_from(r: RoomRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: RoomId::new(r.id),
            name: r.name,
            character_id: CharacterId::new(r.character_id),
            character_name: r.character_name,
            slow_mode_secs: r.slow_mode_secs,
            reply_mode: ReplyMode::from_db(&r.reply_mode)?,
            created_at: r.created_at,
        })
    }
}

pub async fn insert(db: &Db, draft: &RoomDraft) -> Result<Room, StorageError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO rooms (name, character_id, slow_mode_secs, reply_mode, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&draft.name)
    .bind(draft.character_id)
    .bind(draft.slow_mode_secs)
    .bind(draft.reply_mode.to_db())
    .bind(now_millis())
    .fetch_one(db.writer())
    .await?;
    find(db, RoomId::new(id)).await?.ok_or(StorageError::NotFound)
}

/// Every room, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Room>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {ROOM_COLUMNS} ORDER BY r.id"));
    let rows: Vec<RoomRow> = sqlx::query_as(sql).fetch_all(db.pool()).await?;
    rows.into_iter().map(Room::try_from).collect()
}

pub async fn find(db: &Db, id: RoomId) -> Result<Option<Room>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {ROOM_COLUMNS} WHERE r.id = $1"));
    let row: Option<RoomRow> = sqlx::query_as(sql).bind(id).fetch_optional(db.pool()).await?;
    row.map(Room::try_from).transpose()
}

/// `None` when there is no such room.
pub async fn update(db: &Db, id: RoomId, change: &RoomChange) -> Result<Option<Room>, StorageError> {
    let updated = sqlx::query(
        "UPDATE rooms SET name = COALESCE($2, name), character_id = COALESCE($3, character_id), \
         slow_mode_secs = COALESCE($4, slow_mode_secs), reply_mode = COALESCE($5, reply_mode) WHERE id = $1",
    )
    .bind(id)
    .bind(change.name.as_deref())
    .bind(change.character_id)
    .bind(change.slow_mode_secs)
    .bind(change.reply_mode.map(ReplyMode::to_db))
    .execute(db.writer())
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    find(db, id).await
}

/// The room, its messages and mutes. `false` when there was no such room.
pub async fn delete(db: &Db, id: RoomId) -> Result<bool, StorageError> {
    let mut tx = db.writer().begin().await?;
    sqlx::query("DELETE FROM room_messages WHERE room_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM room_mutes WHERE room_id = $1").bind(id).execute(&mut *tx).await?;
    let deleted = sqlx::query("DELETE FROM rooms WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(deleted.rows_affected() > 0)
}

const MESSAGE_COLUMNS: &str = "id, room_id, kind, author, user_id, content, created_at";

#[derive(FromRow)]
struct MessageRow {
    id: i64,
    room_id: i64,
    kind: String,
    author: String,
    user_id: Option<i64>,
    content: String,
    created_at: i64,
}

impl TryFrom<MessageRow> for RoomMessage {
    type Error = StorageError;

    fn try_from(r: MessageRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: RoomMessageId::new(r.id),
            room_id: RoomId::new(r.room_id),
            kind: RoomMessageKind::from_db(&r.kind)?,
            author: r.author,
            user_id: r.user_id.map(UserId::new),
            content: r.content,
            created_at: r.created_at,
        })
    }
}

/// A message about to be stored.
pub struct NewRoomMessage<'a> {
    pub room_id: RoomId,
    pub kind: RoomMessageKind,
    pub author: &'a str,
    pub user_id: Option<UserId>,
    pub content: &'a str,
}

pub async fn add_message(db: &Db, m: &NewRoomMessage<'_>) -> Result<RoomMessage, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO room_messages (room_id, kind, author, user_id, content, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {MESSAGE_COLUMNS}"
    ));
    let row: MessageRow = sqlx::query_as(sql)
        .bind(m.room_id)
        .bind(m.kind.to_db())
        .bind(m.author)
        .bind(m.user_id)
        .bind(m.content)
        .bind(now_millis())
        .fetch_one(db.writer())
        .await?;
    row.try_into()
}

/// Stores a reply's final text with the record that charges it, in one transaction. The
/// generation is recorded even when the message is gone (deleted while it streamed).
pub async fn finish_reply(
    db: &Db,
    message: RoomMessageId,
    content: &str,
    generation: &OwnGeneration<'_>,
) -> Result<Option<RoomMessage>, StorageError> {
    let mut tx = db.writer().begin().await?;
    let sql =
        sqlx::AssertSqlSafe(format!("UPDATE room_messages SET content = $2 WHERE id = $1 RETURNING {MESSAGE_COLUMNS}"));
    let row: Option<MessageRow> = sqlx::query_as(sql).bind(message).bind(content).fetch_optional(&mut *tx).await?;
    generations::record(&mut *tx, generation).await?;
    tx.commit().await?;
    row.map(RoomMessage::try_from).transpose()
}

/// `false` when the room has no such message.
pub async fn delete_message(db: &Db, room: RoomId, id: RoomMessageId) -> Result<bool, StorageError> {
    let deleted = sqlx::query("DELETE FROM room_messages WHERE room_id = $1 AND id = $2")
        .bind(room)
        .bind(id)
        .execute(db.writer())
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Up to `limit` messages before `before` (the latest when `None`), oldest first.
pub async fn page(
    db: &Db,
    room: RoomId,
    before: Option<RoomMessageId>,
    limit: i64,
) -> Result<Vec<RoomMessage>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM room_messages WHERE room_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    ));
    let rows: Vec<MessageRow> = sqlx::query_as(sql)
        .bind(room)
        .bind(before.map_or(i64::MAX, RoomMessageId::get))
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    let mut messages = rows.into_iter().map(RoomMessage::try_from).collect::<Result<Vec<_>, _>>()?;
    messages.reverse();
    Ok(messages)
}

/// Up to `limit` messages after `after`, oldest first: what a reconnecting client missed.
pub async fn after(db: &Db, room: RoomId, after: RoomMessageId, limit: i64) -> Result<Vec<RoomMessage>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM room_messages WHERE room_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ));
    let rows: Vec<MessageRow> = sqlx::query_as(sql).bind(room).bind(after).bind(limit).fetch_all(db.pool()).await?;
    rows.into_iter().map(RoomMessage::try_from).collect()
}

/// Mutes `user` in `room` until `until` (a time in the past lifts the mute).
pub async fn mute(db: &Db, room: RoomId, user: UserId, until: Millis) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO room_mutes (room_id, user_id, until) VALUES ($1, $2, $3) \
         ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until",
    )
    .bind(room)
    .bind(user)
    .bind(until)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Until when `user` is muted in `room`, if they are now.
pub async fn muted_until(db: &Db, room: RoomId, user: UserId) -> Result<Option<Millis>, StorageError> {
    let until: Option<(i64,)> =
        sqlx::query_as("SELECT until FROM room_mutes WHERE room_id = $1 AND user_id = $2 AND until > $3")
            .bind(room)
            .bind(user)
            .bind(now_millis())
            .fetch_optional(db.pool())
            .await?;
    Ok(until.map(|(until,)| until))
}
