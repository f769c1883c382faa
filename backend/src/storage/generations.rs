//! Generations recorded on their own: a `/v1` completion stores nothing else, so its record
//! alone books its usage (see `migrations/*/0009_api_keys.sql`).

use troupe_types::{MessageStatus, UsageSource};

use super::{Db, StorageError, text::DbText};
use crate::{
    clock::now_millis,
    domain::{ApiKeyId, CharacterId, TokenUsage, UserId},
};

/// A completion asked for through `/v1`.
pub struct ApiGeneration<'a> {
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
pub async fn record_api(db: &Db, g: &ApiGeneration<'_>) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO generations (user_id, chat_id, message_id, character_id, model, status, prompt_tokens, \
         completion_tokens, usage_source, created_at, source, api_key_id) \
         VALUES ($1, NULL, NULL, $2, $3, $4, $5, $6, $7, $8, 'api', $9)",
    )
    .bind(g.user_id)
    .bind(g.character_id.map_or(0, CharacterId::get))
    .bind(g.model)
    .bind(g.status.to_db())
    .bind(g.usage.prompt_tokens)
    .bind(g.usage.completion_tokens)
    .bind(g.usage_source.map(UsageSource::to_db))
    .bind(now_millis())
    .bind(g.api_key_id)
    .execute(db.writer())
    .await?;
    Ok(())
}
