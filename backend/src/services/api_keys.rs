//! Personal API keys: created with a secret shown once, listed, revoked; and recognised on
//! requests (`Authorization: Bearer trp_…`).
//!
//! The secret is `trp_` and 40 random characters, stored as its prefix and hash
//! (`services::secrets`). When a key was last used is gathered in memory and written about once a
//! minute (`flush_last_used`), not on every request.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use troupe_types::CreateApiKey;

use super::{
    live::{SessionChange, SessionChanges},
    secrets,
};
use crate::{
    clock::{Millis, now_millis},
    domain::{ApiKey, ApiKeyDraft, ApiKeyId, RuleViolation, User},
    error::{AppError, SessionProblem},
    storage::{
        Db, StorageError,
        api_keys::{self, NewApiKey},
        users,
    },
};

/// What every key's secret starts with.
pub const SECRET_PREFIX: &str = "trp_";
/// Enough for every program a person runs; a bound on what one account may hold.
pub const MAX_KEYS_PER_USER: i64 = 50;

/// Whether a bearer token is an API key (rather than a session token).
pub fn is_api_key(token: &str) -> bool {
    token.starts_with(SECRET_PREFIX)
}

/// The key a request was authenticated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyCredential {
    pub id: ApiKeyId,
    pub expires_at: Option<Millis>,
}

#[derive(Clone)]
pub struct ApiKeys {
    db: Db,
    changes: SessionChanges,
    /// Keys used since the last flush, and when.
    last_used: Arc<Mutex<HashMap<ApiKeyId, Millis>>>,
}

impl ApiKeys {
    pub fn new(db: Db, changes: SessionChanges) -> Self {
        Self { db, changes, last_used: Arc::default() }
    }

    /// A new key and its secret (never shown again). 422 past `MAX_KEYS_PER_USER`.
    #[tracing::instrument(skip_all, fields(user.id = %user.id), err(level = "info"))]
    pub async fn create(&self, user: &User, input: CreateApiKey) -> Result<(ApiKey, String), AppError> {
        let draft = ApiKeyDraft::parse(input)?;
        if api_keys::count(&self.db, user.id).await? >= MAX_KEYS_PER_USER {
            let message = format!("at most {MAX_KEYS_PER_USER} keys; revoke one you no longer use");
            return Err(RuleViolation::new("name", "too_many_keys", message).into());
        }
        let now = now_millis();
        // A prefix already taken (1 in 62^8 per key) just means drawing again.
        loop {
            let secret = secrets::generate(SECRET_PREFIX);
            let new = NewApiKey {
                user_id: user.id,
                name: &draft.name,
                prefix: secrets::stored_prefix(SECRET_PREFIX, &secret).expect("a new secret is long enough"),
                secret_hash: &secrets::hash(&secret),
                created_at: now,
                expires_at: draft.expires_at(now),
            };
            match api_keys::insert(&self.db, &new).await {
                Ok(key) => return Ok((key, secret)),
                Err(StorageError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// The user's keys, newest first, with uses not yet written.
    pub async fn list(&self, user: &User) -> Result<Vec<ApiKey>, AppError> {
        let mut keys = api_keys::list(&self.db, user.id).await?;
        let pending = self.last_used.lock().expect("last used lock");
        for key in &mut keys {
            if let Some(&at) = pending.get(&key.id) {
                key.last_used_at = key.last_used_at.max(Some(at));
            }
        }
        Ok(keys)
    }

    /// Deletes the key; requests with it fail from now on, and its live connections end.
    #[tracing::instrument(skip_all, fields(user.id = %user.id, key.id = %id), err(level = "info"))]
    pub async fn revoke(&self, user: &User, id: ApiKeyId) -> Result<(), AppError> {
        api_keys::delete(&self.db, id, user.id).await?;
        self.last_used.lock().expect("last used lock").remove(&id);
        self.changes.publish(SessionChange::KeyRevoked { id });
        Ok(())
    }

    /// The user behind `secret`: 401 `invalid_api_key` for a key unknown or revoked,
    /// `api_key_expired`, `account_disabled`. One database round trip.
    pub async fn authenticate(&self, secret: &str) -> Result<(User, KeyCredential), AppError> {
        let invalid = || AppError::Unauthenticated(SessionProblem::InvalidApiKey);
        let prefix = secrets::stored_prefix(SECRET_PREFIX, secret).ok_or_else(invalid)?;
        let holder = users::find_for_api_key(&self.db, prefix).await?.ok_or_else(invalid)?;
        if !secrets::matches(secret, &holder.secret_hash) {
            return Err(invalid());
        }
        let now = now_millis();
        if holder.expires_at.is_some_and(|at| at <= now) {
            return Err(AppError::Unauthenticated(SessionProblem::ApiKeyExpired));
        }
        if holder.user.disabled {
            return Err(AppError::Unauthenticated(SessionProblem::AccountDisabled));
        }
        self.last_used.lock().expect("last used lock").insert(holder.key_id, now);
        Ok((holder.user, KeyCredential { id: holder.key_id, expires_at: holder.expires_at }))
    }

    /// Whether key `id` of `user` still exists (a live connection's re-check).
    pub async fn still_valid(&self, user: &User, id: ApiKeyId) -> Result<bool, AppError> {
        Ok(api_keys::exists(&self.db, id, user.id).await?)
    }

    /// Writes when keys were last used, gathered since the last flush.
    pub async fn flush_last_used(&self) -> Result<(), AppError> {
        let used: Vec<(ApiKeyId, Millis)> = self.last_used.lock().expect("last used lock").drain().collect();
        if used.is_empty() {
            return Ok(());
        }
        Ok(api_keys::touch(&self.db, &used).await?)
    }
}
