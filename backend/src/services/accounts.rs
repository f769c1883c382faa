//! Registering, signing in and out, and recognising a session on later requests.

use std::sync::Arc;

use secrecy::SecretString;
use troupe_types::{LoginRequest, RegisterRequest};

use super::{
    api_keys::{self, ApiKeys, KeyCredential},
    limits::LoginBackoff,
    live::{SessionChange, SessionChanges},
    systems::{self, ChatCredential, Systems},
};
use crate::{
    auth::{Claims, TokenError, TokenIssuer, password},
    clock::{Millis, now_millis},
    domain::{Email, Password, User, UserId, Username},
    error::{AppError, SessionProblem},
    storage::{
        Db, StorageError, revocations,
        users::{self, NewRole},
    },
};

/// A user with a fresh session token.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    pub token: String,
}

/// The account rules, over the database and the token issuer.
#[derive(Clone)]
pub struct Accounts {
    db: Db,
    tokens: Arc<TokenIssuer>,
    backoff: LoginBackoff,
    changes: SessionChanges,
    keys: ApiKeys,
    systems: Systems,
    /// Whether the first account registered becomes the admin (`FIRST_ACCOUNT_ADMIN`).
    first_account_admin: bool,
}

impl Accounts {
    pub fn new(
        db: Db,
        tokens: Arc<TokenIssuer>,
        (changes, backoff): (SessionChanges, LoginBackoff),
        systems: Systems,
        first_account_admin: bool,
    ) -> Self {
        let keys = ApiKeys::new(db.clone(), changes.clone());
        Self { db, tokens, backoff, changes, keys, systems, first_account_admin }
    }

    /// The API keys service (keys authenticate like sessions, so accounts hold them).
    pub fn keys(&self) -> &ApiKeys {
        &self.keys
    }

    pub fn token_ttl(&self) -> std::time::Duration {
        self.tokens.ttl()
    }

    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn register(&self, req: RegisterRequest) -> Result<SignedIn, AppError> {
        let username = Username::parse(req.username)?;
        let password = Password::parse(req.password)?;
        let email = Email::parse_optional(req.email)?.map(Email::into_inner);
        let role = if self.first_account_admin { NewRole::AdminIfFirst } else { NewRole::User };
        let user = self.create_user(&username, email.as_deref(), &password, role).await?;
        if user.is_admin {
            tracing::info!(user.id = %user.id, username = user.username, "the first account is the server's admin");
        }
        self.sign_in(user)
    }

    /// Whether the next account registered will be the admin: a fresh server's first account
    /// is (unless `FIRST_ACCOUNT_ADMIN=false`).
    pub async fn next_account_is_admin(&self) -> Result<bool, AppError> {
        Ok(self.first_account_admin && users::no_accounts(&self.db).await?)
    }

    /// The same `InvalidCredentials`, after the same argon2 work, whether the username is
    /// unknown or the password wrong. A name whose sign-ins keep failing must wait before the
    /// next try (`LoginBackoff`), known or not, so the wait tells nothing either.
    #[tracing::instrument(skip_all, err(level = "info"))]
    pub async fn login(&self, req: LoginRequest) -> Result<SignedIn, AppError> {
        self.backoff.check(&req.username).await?;
        let found = users::find_credentials(&self.db, &req.username).await?;
        let (user, hash) = match found {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        let matches = password::verify(SecretString::from(req.password), hash).await?;
        if !matches {
            self.backoff.failed(&req.username).await;
            return Err(AppError::InvalidCredentials);
        }
        self.backoff.succeeded(&req.username).await;
        match user {
            Some(user) if user.disabled => Err(AppError::LoginDisabled),
            Some(user) => self.sign_in(user),
            None => Err(AppError::InvalidCredentials),
        }
    }

    /// Forgets names whose failed sign-ins are old.
    pub fn forget_idle_failures(&self) {
        self.backoff.forget_idle();
    }

    /// Revokes the session's token until it would have expired, and ends its live connections.
    /// An API key is not signed out (it is revoked with `DELETE /api/keys/{id}`): nothing
    /// happens.
    #[tracing::instrument(skip_all, fields(user.id = %session.user.id), err(level = "warn"))]
    pub async fn logout(&self, session: &Session) -> Result<(), AppError> {
        let Credential::Token(claims) = &session.credential else {
            return Ok(());
        };
        revocations::revoke(&self.db, &claims.jti, session.user.id, claims.expires_at_millis()).await?;
        self.changes.publish(SessionChange::SignedOut { jti: claims.jti.clone() });
        Ok(())
    }

    /// Recognises a session token — signed by us, unexpired, not revoked, its user present
    /// and enabled — or an API key (`trp_…`, see `ApiKeys::authenticate`), or a system's chat
    /// token (see `Systems::verify`). Runs on every authenticated request, with one database
    /// round trip (a chat token: two).
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, token: &str) -> Result<Session, AppError> {
        if api_keys::is_api_key(token) {
            let (user, key) = self.keys.authenticate(token).await?;
            return Ok(Session { user, credential: Credential::ApiKey(key) });
        }
        if systems::is_chat_token(token) {
            let (_system, user, chat) = self.systems.verify(token).await?;
            return Ok(Session { user, credential: Credential::Chat(chat) });
        }
        let claims = self.tokens.verify(token).map_err(|e| {
            AppError::Unauthenticated(match e {
                TokenError::Expired => SessionProblem::Expired,
                TokenError::Invalid => SessionProblem::InvalidToken,
            })
        })?;
        self.session_for(claims).await
    }

    /// The session of verified `claims`, if it still holds: not revoked, its user present and
    /// enabled. (Expiry is the token's business, checked when it is verified.)
    pub async fn session_for(&self, claims: Claims) -> Result<Session, AppError> {
        let user_id = claims.user_id().ok_or(AppError::Unauthenticated(SessionProblem::InvalidToken))?;
        let (user, revoked) = users::find_for_session(&self.db, user_id, &claims.jti)
            .await?
            .ok_or(AppError::Unauthenticated(SessionProblem::UnknownUser))?;
        if revoked {
            return Err(AppError::Unauthenticated(SessionProblem::Revoked));
        }
        if user.disabled {
            return Err(AppError::Unauthenticated(SessionProblem::AccountDisabled));
        }
        Ok(Session { user, credential: Credential::Token(claims) })
    }

    /// Whether a session recognised earlier still holds (a live connection's re-check).
    pub async fn recheck(&self, user_id: UserId, credential: &Credential) -> Result<Session, AppError> {
        match credential {
            Credential::Token(claims) => self.session_for(claims.clone()).await,
            Credential::ApiKey(key) => {
                let user = users::find_by_id(&self.db, user_id)
                    .await?
                    .filter(|u| !u.disabled)
                    .ok_or(AppError::Unauthenticated(SessionProblem::AccountDisabled))?;
                if !self.keys.still_valid(&user, key.id).await? {
                    return Err(AppError::Unauthenticated(SessionProblem::InvalidApiKey));
                }
                Ok(Session { user, credential: credential.clone() })
            }
            // Chat tokens open no live connections; should one ask, it holds while its
            // system is enabled.
            Credential::Chat(chat) => {
                let system = self.systems.get(&chat.system_id).await?;
                if system.disabled {
                    return Err(AppError::Unauthenticated(SessionProblem::SystemDisabled));
                }
                let user = users::find_by_id(&self.db, user_id)
                    .await?
                    .ok_or(AppError::Unauthenticated(SessionProblem::UnknownUser))?;
                Ok(Session { user, credential: credential.clone() })
            }
        }
    }

    /// Creates the configured admin at start-up unless an admin already exists.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn bootstrap_admin(&self, username: &str, password: &SecretString) -> Result<(), AppError> {
        if users::admin_exists(&self.db).await? {
            return Ok(());
        }
        let username = Username::parse(username.to_owned())?;
        let password = Password::parse(secrecy::ExposeSecret::expose_secret(password).to_owned())?;
        match self.create_user(&username, None, &password, NewRole::Admin).await {
            Ok(user) => {
                tracing::info!(user.id = %user.id, username = user.username, "created the bootstrap admin");
                Ok(())
            }
            // Another instance starting at the same moment made it.
            Err(AppError::UsernameTaken) if users::admin_exists(&self.db).await? => Ok(()),
            // Never take over an existing account from the environment: promoting is an
            // explicit act (`troupe-server create-admin`).
            Err(AppError::UsernameTaken) => {
                tracing::warn!(
                    username = username.as_str(),
                    "ADMIN_USERNAME belongs to an existing non-admin account; run `troupe-server create-admin` to promote it"
                );
                Ok(())
            }
            Err(other) => Err(other),
        }
    }

    /// Promotes `username` if it exists, else creates it as an admin with the password that
    /// `password` supplies (asked only when needed).
    pub async fn create_or_promote_admin(
        &self,
        username: &str,
        password: impl FnOnce() -> anyhow::Result<String>,
    ) -> Result<AdminOutcome, AppError> {
        match users::promote_to_admin(&self.db, username).await {
            Ok(user) => return Ok(AdminOutcome::Promoted(user)),
            Err(StorageError::NotFound) => {}
            Err(other) => return Err(other.into()),
        }
        let username = Username::parse(username.to_owned())?;
        let password = Password::parse(password()?)?;
        let user = self.create_user(&username, None, &password, NewRole::Admin).await?;
        Ok(AdminOutcome::Created(user))
    }

    async fn create_user(
        &self,
        username: &Username,
        email: Option<&str>,
        password: &Password,
        role: NewRole,
    ) -> Result<User, AppError> {
        let password_hash = password::hash(password.secret()).await?;
        let new = users::NewUser { username: username.as_str(), email, password_hash: &password_hash, role };
        users::insert(&self.db, new).await.map_err(|e| match e {
            StorageError::Conflict => AppError::UsernameTaken,
            other => other.into(),
        })
    }

    fn sign_in(&self, user: User) -> Result<SignedIn, AppError> {
        let (token, _claims) = self.tokens.issue(user.id)?;
        Ok(SignedIn { user, token })
    }

    /// Forgets revocations of tokens that have expired anyway.
    pub async fn purge_expired_revocations(&self) -> Result<u64, AppError> {
        Ok(revocations::purge_expired(&self.db, now_millis()).await?)
    }
}

/// An authenticated request's user and what proved it.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub credential: Credential,
}

impl Session {
    /// 403 for a request made with an API key: what only a signed-in person may do (manage
    /// keys, so that a leaked key cannot mint others).
    pub fn require_signed_in(&self) -> Result<(), AppError> {
        match self.credential {
            Credential::Token(_) => Ok(()),
            Credential::ApiKey(_) => Err(AppError::Forbidden("API keys cannot manage API keys; sign in to do this")),
            Credential::Chat(_) => Err(AppError::Forbidden("a chat token opens only the chat routes")),
        }
    }
}

/// A session token's claims, an API key, or a system's chat token (for one external user, on
/// the chat routes only: see `api::credentials`).
#[derive(Clone, Debug)]
pub enum Credential {
    Token(Claims),
    ApiKey(KeyCredential),
    Chat(ChatCredential),
}

impl Credential {
    /// When it stops working by itself, if ever.
    pub fn expires_at(&self) -> Option<Millis> {
        match self {
            Self::Token(claims) => Some(claims.expires_at_millis()),
            Self::ApiKey(key) => key.expires_at,
            Self::Chat(chat) => Some(chat.expires_at),
        }
    }
}

#[derive(Debug)]
pub enum AdminOutcome {
    Created(User),
    Promoted(User),
}
