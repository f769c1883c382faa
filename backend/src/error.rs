//! What can go wrong in Troupe's domain. `api::error` is the one place that turns these into
//! HTTP answers.

use troupe_types::rules::RuleViolation;

use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input broke a rule (422, with the field).
    #[error("{}", .0.message)]
    Invalid(RuleViolation),
    /// An uploaded file is malformed at this line (422, `field` = "line N").
    #[error("line {line}: {message}")]
    InvalidFile { line: usize, message: String },
    /// An image that cannot be an avatar (422 `invalid_image`).
    #[error("{0}")]
    InvalidImage(String),
    /// More than a request may carry (413), said in a sentence.
    #[error("{0}")]
    TooLarge(String),
    #[error("that username is taken")]
    UsernameTaken,
    /// The request clashes with the current state: a code and a sentence.
    #[error("{1}")]
    Conflict(&'static str, &'static str),
    #[error("unknown username or wrong password")]
    InvalidCredentials,
    /// The right password for a disabled account.
    #[error("this account is disabled")]
    LoginDisabled,
    /// No usable session on a request that needs one.
    #[error("{0}")]
    Unauthenticated(SessionProblem),
    #[error("not found")]
    NotFound,
    /// Signed in, but this is not theirs to do.
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the daily token quota of {quota} tokens is used up")]
    QuotaExceeded { quota: i64, retry_after_secs: u64 },
    /// The account has a bulk write (an import, a branch) running already (429).
    #[error("another import or copy of yours is still being written; try again when it is done")]
    BulkWriteRunning,
    /// The server runs as many bulk writes as it takes at once (429).
    #[error("the server is busy with other imports; try again in a few seconds")]
    BulkWritesFull,
    /// The write would pass the account's storage quota (403); nothing was stored.
    #[error("this would pass your storage quota; delete chats, characters or lorebooks to make room")]
    StorageQuotaExceeded,
    /// The server cannot take this now (a free database connection, a bulk write's turn); 503
    /// with `Retry-After`.
    #[error("the server is busy; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error("at most {max} replies may stream at once")]
    TooManyStreams { max: usize },
    #[error("at most {max} live connections may be open at once")]
    TooManyLiveConnections { max: usize },
    #[error("at most {max} rooms may be joined at once")]
    TooManyRooms { max: usize },
    /// A room's slow mode: this person must wait before their next message there.
    #[error("slow mode: wait {retry_after_secs} s before your next message in this room")]
    SlowMode { retry_after_secs: u64 },
    #[error("an admin muted you in this room for {minutes} more minutes")]
    Muted { minutes: i64 },
    /// The model provider failed before or during the reply.
    #[error("{message}")]
    Upstream { timeout: bool, message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Why a request's session was refused; each has its own error code so clients can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionProblem {
    #[error("sign in first")]
    Missing,
    #[error("the session token is not valid")]
    InvalidToken,
    #[error("the session has expired; sign in again")]
    Expired,
    #[error("the session was signed out; sign in again")]
    Revoked,
    #[error("this account no longer exists")]
    UnknownUser,
    #[error("this account is disabled")]
    AccountDisabled,
    #[error("this API key is not valid (it may have been revoked)")]
    InvalidApiKey,
    #[error("this API key has expired")]
    ApiKeyExpired,
    #[error("this service key is not valid (it may have been rotated)")]
    InvalidServiceKey,
    #[error("this system is disabled")]
    SystemDisabled,
}

impl SessionProblem {
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "unauthenticated",
            Self::InvalidToken => "invalid_token",
            Self::Expired => "session_expired",
            Self::Revoked => "session_revoked",
            Self::UnknownUser => "invalid_token",
            Self::AccountDisabled => "account_disabled",
            Self::InvalidApiKey => "invalid_api_key",
            Self::ApiKeyExpired => "api_key_expired",
            Self::InvalidServiceKey => "invalid_service_key",
            Self::SystemDisabled => "system_disabled",
        }
    }
}

impl From<RuleViolation> for AppError {
    fn from(v: RuleViolation) -> Self {
        Self::Invalid(v)
    }
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => Self::NotFound,
            StorageError::StorageQuotaExceeded => Self::StorageQuotaExceeded,
            StorageError::Busy => Self::Busy { retry_after_secs: 1 },
            other => Self::Internal(other.into()),
        }
    }
}
