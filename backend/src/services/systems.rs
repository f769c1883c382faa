//! The service gateway's systems: other products whose users chat through Troupe.
//!
//! A system holds two secrets. Its service key (`trs_…`, `X-API-Key`) is stored like an API
//! key (`services::secrets`). Its JWT secret, which signs chat tokens (HS256
//! `{system_id, user_id, exp}`, minted here or by the system itself), is derived from the
//! server's secret and a per-system salt, so the database holds nothing that can sign a token.
//! Rotating draws a new key and salt: the old key and every token signed before stop working.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::Arc;
use troupe_types::SystemSecrets;

use super::{catalog::ModelCatalog, characters::known_model, secrets};
use crate::{
    clock::{Millis, day, now_millis},
    domain::{
        CharacterId, ExternalUserId, RuleViolation, System, SystemChange, SystemDraft, SystemId, SystemTotals, User,
    },
    error::{AppError, SessionProblem},
    storage::{
        Db, StorageError, characters,
        systems::{self, StoredSecrets},
        users,
    },
};

/// What every service key starts with.
pub const SERVICE_KEY_PREFIX: &str = "trs_";
/// The longest a chat token may last, minted or self-signed.
pub const MAX_TOKEN_MINUTES: i64 = 24 * 60;
pub const DEFAULT_TOKEN_MINUTES: i64 = 60;
/// Clock skew allowed between a system and Troupe on `exp`.
const LEEWAY_SECONDS: u64 = 30;

/// Whether a bearer token is a chat token: a JWT naming a system (session tokens do not).
pub fn is_chat_token(token: &str) -> bool {
    peek_system(token).is_some()
}

/// The `system_id` claim of an unverified JWT, to know whose secret verifies it.
fn peek_system(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Peek {
        system_id: Option<String>,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Peek>(&bytes).ok()?.system_id
}

/// A chat token's claims.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChatClaims {
    pub system_id: String,
    /// A string; a number is taken as its decimal text, since systems' own ids often are numbers.
    #[serde(deserialize_with = "text_or_number")]
    pub user_id: String,
    /// Seconds since the epoch.
    pub exp: i64,
    /// The character the embedded chat opens with (tokens minted by Troupe may name one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character_id: Option<i64>,
}

fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(i64),
    }
    Ok(match TextOrNumber::deserialize(d)? {
        TextOrNumber::Text(text) => text,
        TextOrNumber::Number(number) => number.to_string(),
    })
}

/// A request authenticated with a chat token: whose system, until when, which character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatCredential {
    pub system_id: SystemId,
    pub expires_at: Millis,
    pub character_id: Option<CharacterId>,
}

/// A chat token just minted.
pub struct MintedToken {
    pub token: String,
    pub expires_at: Millis,
}

#[derive(Clone)]
pub struct Systems {
    db: Db,
    catalog: Arc<ModelCatalog>,
    server_secret: Arc<SecretString>,
}

impl Systems {
    pub fn new(db: Db, catalog: Arc<ModelCatalog>, server_secret: SecretString) -> Self {
        Self { db, catalog, server_secret: Arc::new(server_secret) }
    }

    /// A new system and its secrets (shown once). 409 `system_exists` for a taken id.
    #[tracing::instrument(skip_all, fields(system.id = %draft.id), err(level = "info"))]
    pub async fn create(&self, draft: SystemDraft) -> Result<(System, SystemSecrets), AppError> {
        self.check_references(draft.default_character_id, draft.model.as_deref()).await?;
        let (service_key, stored) = new_secrets();
        let system = System {
            id: draft.id,
            name: draft.name,
            allowed_origins: draft.allowed_origins,
            default_character_id: draft.default_character_id,
            model: draft.model,
            daily_token_quota_per_user: draft.daily_token_quota_per_user,
            disabled: false,
            key_prefix: stored.key_prefix.clone(),
            jwt_salt: stored.jwt_salt.clone(),
            created_at: now_millis(),
        };
        systems::insert(&self.db, &system, &stored.key_hash).await.map_err(|e| match e {
            StorageError::Conflict => AppError::Conflict("system_exists", "a system with this id exists already"),
            other => other.into(),
        })?;
        let secrets = SystemSecrets { service_key, jwt_secret: self.jwt_secret(&system) };
        Ok((system, secrets))
    }

    /// Every system with its users and usage.
    pub async fn list(&self) -> Result<Vec<(System, SystemTotals)>, AppError> {
        let totals = systems::totals(&self.db, &day(now_millis())).await?;
        let systems = systems::list(&self.db).await?;
        Ok(systems
            .into_iter()
            .map(|system| {
                let found = totals.iter().find(|(id, _)| *id == system.id).map(|(_, t)| *t);
                (system, found.unwrap_or_default())
            })
            .collect())
    }

    /// One system's users and usage.
    pub async fn totals_of(&self, system: &System) -> Result<SystemTotals, AppError> {
        let totals = systems::totals(&self.db, &day(now_millis())).await?;
        Ok(totals.into_iter().find(|(id, _)| *id == system.id).map(|(_, t)| t).unwrap_or_default())
    }

    pub async fn get(&self, id: &SystemId) -> Result<System, AppError> {
        systems::find(&self.db, id).await?.ok_or(AppError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(system.id = %id), err(level = "info"))]
    pub async fn update(&self, id: &SystemId, change: SystemChange) -> Result<System, AppError> {
        let character = change.default_character_id.flatten();
        self.check_references(character, change.model.clone().flatten().as_deref()).await?;
        let system = change.apply(self.get(id).await?);
        systems::update(&self.db, &system).await?;
        Ok(system)
    }

    /// Stops the system's key, secret and tokens at once (its history stays).
    pub async fn disable(&self, id: &SystemId) -> Result<(), AppError> {
        self.update(id, SystemChange { disabled: Some(true), ..SystemChange::default() }).await.map(drop)
    }

    /// New secrets; the old key and every token signed before stop working.
    #[tracing::instrument(skip_all, fields(system.id = %id), err(level = "info"))]
    pub async fn rotate(&self, id: &SystemId) -> Result<SystemSecrets, AppError> {
        let (service_key, stored) = new_secrets();
        let secrets =
            StoredSecrets { key_prefix: &stored.key_prefix, key_hash: &stored.key_hash, jwt_salt: &stored.jwt_salt };
        systems::replace_secrets(&self.db, id, &secrets).await?;
        let system = self.get(id).await?;
        Ok(SystemSecrets { service_key, jwt_secret: self.jwt_secret(&system) })
    }

    /// The enabled system whose service key this is: 401 `invalid_service_key` for an unknown
    /// or rotated key, `system_disabled`.
    pub async fn authenticate_key(&self, key: &str) -> Result<System, AppError> {
        let invalid = || AppError::Unauthenticated(SessionProblem::InvalidServiceKey);
        let prefix = key
            .starts_with(SERVICE_KEY_PREFIX)
            .then(|| secrets::stored_prefix(SERVICE_KEY_PREFIX, key))
            .flatten()
            .ok_or_else(invalid)?;
        let (system, key_hash) = systems::find_by_key_prefix(&self.db, prefix).await?.ok_or_else(invalid)?;
        if !secrets::matches(key, &key_hash) {
            return Err(invalid());
        }
        if system.disabled {
            return Err(AppError::Unauthenticated(SessionProblem::SystemDisabled));
        }
        Ok(system)
    }

    /// The system's user `external`, created on first use.
    pub async fn external_user(&self, system: &System, external: &ExternalUserId) -> Result<User, AppError> {
        enabled(users::find_or_create_external(&self.db, &system.id, external).await?)
    }

    /// The system's user `external` if they were ever seen.
    pub async fn existing_external_user(
        &self,
        system: &System,
        external: &ExternalUserId,
    ) -> Result<Option<User>, AppError> {
        Ok(users::find_external(&self.db, &system.id, external).await?)
    }

    /// A chat token for `external`, lasting `ttl_minutes` (1–1440, default 60). A request from
    /// a browser (`origin`) must come from one of the system's allowed origins.
    pub fn mint(
        &self,
        system: &System,
        external: &ExternalUserId,
        character_id: Option<CharacterId>,
        ttl_minutes: Option<i64>,
        origin: Option<&str>,
    ) -> Result<MintedToken, AppError> {
        if origin.is_some_and(|origin| !system.allows_origin(origin)) {
            return Err(AppError::Forbidden("this origin is not one of the system's allowed origins"));
        }
        let minutes = ttl_minutes.unwrap_or(DEFAULT_TOKEN_MINUTES);
        if !(1..=MAX_TOKEN_MINUTES).contains(&minutes) {
            let message = format!("1–{MAX_TOKEN_MINUTES} minutes");
            return Err(RuleViolation::new("ttl_minutes", "invalid_ttl", message).into());
        }
        let expires_at = now_millis() + minutes * 60_000;
        let claims = ChatClaims {
            system_id: system.id.to_string(),
            user_id: external.as_str().to_owned(),
            exp: expires_at / 1000,
            character_id: character_id.map(CharacterId::get),
        };
        let key = EncodingKey::from_secret(self.jwt_secret(system).as_bytes());
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cannot sign a chat token: {e}")))?;
        Ok(MintedToken { token, expires_at: claims.exp * 1000 })
    }

    /// The system and the user of a chat token, checked: HS256 signed with the system's
    /// current secret, `exp` present, not past and at most 24 h ahead, the system enabled.
    /// Anything else is 401 `invalid_token` (`session_expired` once past `exp`).
    pub async fn verify(&self, token: &str) -> Result<(System, User, ChatCredential), AppError> {
        let invalid = || AppError::Unauthenticated(SessionProblem::InvalidToken);
        let system_id = peek_system(token).and_then(|id| SystemId::parse(&id).ok()).ok_or_else(invalid)?;
        let system = systems::find(&self.db, &system_id).await?.ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp"]);
        let key = DecodingKey::from_secret(self.jwt_secret(&system).as_bytes());
        let claims = jsonwebtoken::decode::<ChatClaims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AppError::Unauthenticated(SessionProblem::Expired),
                _ => invalid(),
            })?
            .claims;
        let latest = now_millis() / 1000 + MAX_TOKEN_MINUTES * 60 + LEEWAY_SECONDS as i64;
        if claims.exp > latest {
            return Err(invalid());
        }
        if system.disabled {
            return Err(AppError::Unauthenticated(SessionProblem::SystemDisabled));
        }
        let external = ExternalUserId::parse(&claims.user_id).map_err(|_| invalid())?;
        let user = self.external_user(&system, &external).await?;
        let credential = ChatCredential {
            system_id: system.id.clone(),
            expires_at: claims.exp * 1000,
            character_id: claims.character_id.map(CharacterId::new),
        };
        Ok((system, user, credential))
    }

    /// The secret that signs the system's chat tokens: HMAC-SHA256 of its id and salt under
    /// the server's secret, base64url.
    fn jwt_secret(&self, system: &System) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.server_secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(b"troupe system jwt secret\0");
        mac.update(system.id.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(system.jwt_salt.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// 422 unless the default character is public and the model offered.
    async fn check_references(&self, character: Option<CharacterId>, model: Option<&str>) -> Result<(), AppError> {
        if let Some(model) = model {
            known_model(&self.catalog, model)?;
        }
        if let Some(id) = character {
            let usable = characters::find(&self.db, id).await?.is_some_and(|c| c.is_public());
            if !usable {
                let message = "no public character has this id (a system's users see public characters only)";
                return Err(RuleViolation::new("default_character_id", "unknown_character", message).into());
            }
        }
        Ok(())
    }
}

/// The user, unless an admin disabled them (401 `account_disabled`).
pub fn enabled(user: User) -> Result<User, AppError> {
    if user.disabled {
        return Err(AppError::Unauthenticated(SessionProblem::AccountDisabled));
    }
    Ok(user)
}

/// A new service key, and the stored forms of it and of a new JWT salt.
struct NewSecrets {
    key_prefix: String,
    key_hash: String,
    jwt_salt: String,
}

fn new_secrets() -> (String, NewSecrets) {
    let key = secrets::generate(SERVICE_KEY_PREFIX);
    let stored = NewSecrets {
        key_prefix: secrets::stored_prefix(SERVICE_KEY_PREFIX, &key).expect("a new key is long enough").to_owned(),
        key_hash: secrets::hash(&key),
        jwt_salt: secrets::generate(""),
    };
    (key, stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_tokens_are_told_from_session_tokens_by_their_system_claim() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"system_id":"quiz","user_id":"u1","exp":1}"#);
        assert!(is_chat_token(&format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")));
        let session = URL_SAFE_NO_PAD.encode(br#"{"sub":"1","exp":1,"iat":0,"jti":"x"}"#);
        assert!(!is_chat_token(&format!("eyJhbGciOiJIUzI1NiJ9.{session}.sig")));
        assert!(!is_chat_token("trp_abc") && !is_chat_token("a.b.c"));
    }
}
