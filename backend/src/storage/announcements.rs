//! Announcements: admins' notices, active until they expire or are ended.

use sqlx::FromRow;

use troupe_types::AnnouncementLevel;

use super::{Db, StorageError, text::DbText};
use crate::{
    clock::Millis,
    domain::{AnnouncementId, UserId},
};

#[derive(Clone, Debug)]
pub struct AnnouncementRow {
    pub id: AnnouncementId,
    pub text: String,
    pub level: AnnouncementLevel,
    pub created_at: Millis,
    pub expires_at: Millis,
}

#[derive(FromRow)]
struct StoredRow {
    id: AnnouncementId,
    text: String,
    level: String,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<StoredRow> for AnnouncementRow {
    type Error = StorageError;

    fn try_from(r: StoredRow) -> Result<Self, StorageError> {
        let level = AnnouncementLevel::from_db(&r.level)?;
        Ok(Self { id: r.id, text: r.text, level, created_at: r.created_at, expires_at: r.expires_at })
    }
}

pub async fn insert(
    db: &Db,
    author: UserId,
    text: &str,
    level: AnnouncementLevel,
    created_at: Millis,
    expires_at: Millis,
) -> Result<AnnouncementRow, StorageError> {
    let row: StoredRow = sqlx::query_as(
        "INSERT INTO announcements (author_id, text, level, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, text, level, created_at, expires_at",
    )
    .bind(author)
    .bind(text)
    .bind(level.to_db())
    .bind(created_at)
    .bind(expires_at)
    .fetch_one(db.writer())
    .await?;
    row.try_into()
}

pub async fn active(db: &Db, now: Millis) -> Result<Vec<AnnouncementRow>, StorageError> {
    let rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT id, text, level, created_at, expires_at FROM announcements WHERE expires_at > $1 ORDER BY id DESC",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(AnnouncementRow::try_from).collect()
}

pub async fn end(db: &Db, id: AnnouncementId, now: Millis) -> Result<(), StorageError> {
    let done = sqlx::query("UPDATE announcements SET expires_at = $2 WHERE id = $1 AND expires_at > $2")
        .bind(id)
        .bind(now)
        .execute(db.writer())
        .await?;
    if done.rows_affected() == 0 { Err(StorageError::NotFound) } else { Ok(()) }
}
