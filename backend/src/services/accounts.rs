//! Registering, signing in and out, and recognising a session on later requests.

use std::sync::Arc;

use secrecy::SecretString;
use troupe_types::{LoginRequest, RegisterRequest};

use super::{
    limits::LoginBackoff,
    live::{SessionChange, SessionChanges},
};
use crate::{
    auth::{Claims, TokenError, TokenIssuer, password},
    clock::now_millis,
    domain::{Email, Password, User, Username},
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
    backoff: Arc<LoginBackoff>,
    changes: SessionChanges,
    /// Whether the first account registered becomes the admin (`FIRST_ACCOUNT_ADMIN`).
    first_account_admin: bool,
}

impl Accounts {
    pub fn new(db: Db, tokens: Arc<TokenIssuer>, changes: SessionChanges, first_account_admin: bool) -> Self {
        Self { db, tokens, backoff: Arc::default(), changes, first_account_admin }
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
        self.backoff.check(&req.username)?;
        let found = users::find_credentials(&self.db, &req.username).await?;
        let (user, hash) = match found {
            Some(c) => (Some(c.user), Some(c.password_hash)),
            None => (None, None),
        };
        let matches = password::verify(SecretString::from(req.password), hash).await?;
        if !matches {
            self.backoff.failed(&req.username);
            return Err(AppError::InvalidCredentials);
        }
        self.backoff.succeeded(&req.username);
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
    #[tracing::instrument(skip_all, fields(user.id = %session.user.id), err(level = "warn"))]
    pub async fn logout(&self, session: &Session) -> Result<(), AppError> {
        let claims = &session.claims;
        revocations::revoke(&self.db, &claims.jti, session.user.id, claims.expires_at_millis()).await?;
        self.changes.publish(SessionChange::SignedOut { jti: claims.jti.clone() });
        Ok(())
    }

    /// Recognises a session token: signed by us, unexpired, not revoked, its user present
    /// and enabled. Runs on every authenticated request, with one database round trip.
    pub async fn authenticate(&self, token: &str) -> Result<Session, AppError> {
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
        Ok(Session { user, claims })
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

/// An authenticated request's user and token claims.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub claims: Claims,
}

#[derive(Debug)]
pub enum AdminOutcome {
    Created(User),
    Promoted(User),
}
