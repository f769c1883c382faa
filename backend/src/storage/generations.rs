//! Generations recorded on their own: a `/v1` completion stores nothing else, and a room's
//! reply is a room message, so the record alone books their usage (see
//! `migrations/*/0009_api_keys.sql` and `0012_rooms.sql`).

use troupe_types::{MessageStatus, UsageSource};

use super::{Db, StorageError, text::DbText};
use crate::{
    clock::now_millis,
    domain::{ApiKeyId, CharacterId, TokenUsage, UserId},
};

/// Where a generation recorded on its own was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `/v1` completion.
    Api,
    /// A room's character reply, charged to the person whose message caused it.
    Room,
}

impl DbText for Source {
    const WHAT: &'static str = "generation source";
    const TEXTS: &'static [(Self, &'static str)] = &[(Self::Api, "api"), (Self::Room, "room")];
}

/// A generation that books its own usage (one message, and its tokens).
pub struct OwnGeneration<'a> {
    pub source: Source,
    pub user_id: UserId,
    pub api_key_id: Option<ApiKeyId>,
    /// The character whose model answered; none for a catalogue model.
    pub character_id: Option<CharacterId>,
    pub model: &'a str,
    pub status: MessageStatus,
    pub usage: TokenUsage,
    pub usage_source: Option<UsageSource>,
}

#[tracing::instrument(skip_all, fields(user.id = %g.user_id), err(level = "warn"))]
pub async fn record<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
    g: &OwnGeneration<'_>,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO generations (user_id, chat_id, message_id, character_id, model, status, prompt_tokens, \
         completion_tokens, usage_source, created_at, source, api_key_id) \
         VALUES ($1, NULL, NULL, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(g.user_id)
    .bind(g.character_id.map_or(0, CharacterId::get))
    .bind(g.model)
    .bind(g.status.to_db())
    .bind(g.usage.prompt_tokens)
    .bind(g.usage.completion_tokens)
    .bind(g.usage_source.map(UsageSource::to_db))
    .bind(now_millis())
    .bind(g.source.to_db())
    .bind(g.api_key_id)
    .execute(db)
    .await?;
    Ok(())
}

/// `record` on the database itself.
pub async fn record_alone(db: &Db, g: &OwnGeneration<'_>) -> Result<(), StorageError> {
    record(db.writer(), g).await
}
