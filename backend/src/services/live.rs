//! Live connections (`/api/events`, `/api/admin/live`): capped per user, and ended with the
//! session behind them — signed out, expired, the account disabled or deleted, or, for a feed
//! that needs an admin, the admin demoted.
//!
//! Each connection holds a `LiveTicket`, whose `ended` resolves when the session no longer
//! holds. It re-checks the session when told that it may have changed (`SessionChanges`, sent
//! by sign-out and by admins' changes to accounts), every `RECHECK_EVERY` in case a change
//! came another way (the database, or a change Redis lost), and ends at the token's expiry.

use std::{sync::Arc, time::Duration};

use tokio::sync::broadcast::{self, error::RecvError};

use super::{
    Accounts, Session,
    accounts::Credential,
    limits::{PerUserSlots, Slot},
};
use crate::{
    clock::now_millis,
    domain::{ApiKeyId, User, UserId},
    error::AppError,
    shared::{Shared, Topic},
};

/// How often an open connection re-checks its session without being told to.
const RECHECK_EVERY: Duration = Duration::from_secs(60);

/// Something that may end sessions.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SessionChange {
    /// This token was signed out.
    SignedOut { jti: String },
    /// This account was changed (disabled, demoted) or deleted.
    AccountChanged { user_id: UserId },
    /// This API key was revoked.
    KeyRevoked { id: ApiKeyId },
}

/// Tells open connections, on every instance, that sessions may have ended.
#[derive(Clone)]
pub struct SessionChanges {
    topic: Topic<SessionChange>,
}

/// This process's alone (the command-line tools).
impl Default for SessionChanges {
    fn default() -> Self {
        Self::new(&Shared::default())
    }
}

impl SessionChanges {
    pub fn new(shared: &Shared) -> Self {
        Self { topic: shared.topic("sessions", 256) }
    }

    pub fn publish(&self, change: SessionChange) {
        self.topic.publish(change);
    }
}

/// What a live connection needs of its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    AnyUser,
    Admins,
}

impl Audience {
    fn admits(self, user: &User) -> bool {
        self == Self::AnyUser || user.is_admin
    }
}

/// Hands out tickets for live connections.
#[derive(Clone)]
pub struct LiveConnections {
    accounts: Accounts,
    changes: SessionChanges,
    slots: Arc<PerUserSlots>,
}

impl LiveConnections {
    pub fn new(accounts: Accounts, changes: SessionChanges, max_per_user: usize) -> Self {
        Self { accounts, changes, slots: PerUserSlots::new(max_per_user) }
    }

    /// A ticket for one more connection of the session's user; 429 when they have the most
    /// allowed (`MAX_LIVE_CONNECTIONS_PER_USER`).
    pub fn open(&self, session: &Session, audience: Audience) -> Result<LiveTicket, AppError> {
        let slot =
            self.slots.acquire(session.user.id).ok_or(AppError::TooManyLiveConnections { max: self.slots.max() })?;
        Ok(LiveTicket {
            accounts: self.accounts.clone(),
            changes: self.changes.topic.subscribe(),
            credential: session.credential.clone(),
            user_id: session.user.id,
            audience,
            _slot: slot,
        })
    }
}

/// One open live connection's claim on its session.
pub struct LiveTicket {
    accounts: Accounts,
    changes: broadcast::Receiver<SessionChange>,
    credential: Credential,
    user_id: UserId,
    audience: Audience,
    _slot: Slot,
}

impl LiveTicket {
    /// Resolves when the session ends (see the module docs). Holds the connection's slot until
    /// then.
    pub async fn ended(mut self) {
        // A key that never expires: a hundred years stands for never.
        let expires_at = self.credential.expires_at().unwrap_or(i64::MAX / 2);
        let expiry =
            Duration::from_millis(expires_at.saturating_sub(now_millis()).clamp(0, 100 * 365 * 86_400_000) as u64);
        let expired = tokio::time::sleep(expiry);
        tokio::pin!(expired);
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.tick().await;
        loop {
            let check = tokio::select! {
                () = &mut expired => return,
                _ = recheck.tick() => true,
                change = self.changes.recv() => match change {
                    Ok(change) => self.concerns(&change),
                    // Missed some: any of them may have been ours.
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => false,
                },
            };
            if check && !self.session_holds().await {
                return;
            }
        }
    }

    fn concerns(&self, change: &SessionChange) -> bool {
        match change {
            SessionChange::SignedOut { jti } => matches!(&self.credential, Credential::Token(c) if c.jti == *jti),
            SessionChange::AccountChanged { user_id } => *user_id == self.user_id,
            SessionChange::KeyRevoked { id } => matches!(&self.credential, Credential::ApiKey(k) if k.id == *id),
        }
    }

    /// Whether the session is still good for this connection. A database that does not answer
    /// keeps the connection: the next check decides.
    async fn session_holds(&self) -> bool {
        match self.accounts.recheck(self.user_id, &self.credential).await {
            Ok(session) => self.audience.admits(&session.user),
            Err(AppError::Unauthenticated(_)) => false,
            Err(other) => {
                tracing::warn!(error = ?other, "could not re-check a live connection's session");
                true
            }
        }
    }
}
