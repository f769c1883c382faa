//! Rate limits (`shared::rate`), per-user caps on what may be open at once, quota reservations, and
//! the back-off of accounts whose sign-ins keep failing.

use std::{
    net::{IpAddr, Ipv6Addr},
    sync::Arc,
    time::Duration,
};

use crate::{
    clock::now_millis,
    domain::UserId,
    error::AppError,
    shared::{FailureLog, Rate, RateLimit, Shared},
};

/// Messages per user per minute, with a burst of half that (at least one).
pub fn message_limit(shared: &Shared, per_minute: u32) -> Arc<dyn RateLimit<UserId>> {
    shared.rate_limit("messages", Rate { per_minute, burst: per_minute.div_ceil(2) })
}

/// Creates and imports per user (`RATE_LIMIT_WRITES_PER_MINUTE`), one allowance shared by
/// every service that creates (characters, chats); a burst of half the minute's allowance.
#[derive(Clone)]
pub struct CreateLimit(Arc<dyn RateLimit<UserId>>);

impl CreateLimit {
    pub fn new(shared: &Shared, per_minute: u32) -> Self {
        Self(shared.rate_limit("writes", Rate { per_minute, burst: per_minute.div_ceil(2) }))
    }

    pub async fn check(&self, user: UserId) -> Result<(), AppError> {
        self.0.check(&user).await.map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
    }

    pub fn forget_idle(&self) {
        self.0.forget_idle();
    }
}

/// The sign-in attempt limit per client address, shared by register and login; the whole
/// allowance may come at once.
#[derive(Clone)]
pub struct AuthAttempts(Arc<dyn RateLimit<IpAddr>>);

impl AuthAttempts {
    pub fn new(shared: &Shared, per_minute: u32) -> Self {
        Self(shared.rate_limit("sign-ins", Rate { per_minute, burst: per_minute }))
    }

    pub async fn check(&self, client: IpAddr) -> Result<(), AppError> {
        self.0.check(&address_key(client)).await.map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
    }

    /// Forgets addresses that are back to full allowance.
    pub fn forget_idle(&self) {
        self.0.forget_idle();
    }
}

/// The key an address is limited by: IPv4 addresses as they are, IPv6 ones by their /64 (one
/// host usually holds a whole /64, so single addresses would cost an attacker nothing).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// Failed sign-ins per account name (whether or not the account exists, so the answer never
/// tells). After `FREE_FAILURES` the account backs off: each further attempt must wait twice as
/// long as the one before, up to `MAX_BACKOFF`. A success clears the count. This holds against
/// password guessing spread over many addresses, which the per-address limit cannot see — and,
/// with Redis, over every instance (`shared::failures`).
#[derive(Clone)]
pub struct LoginBackoff {
    failures: Arc<dyn FailureLog>,
}

/// This process's alone (the command-line tools).
impl Default for LoginBackoff {
    fn default() -> Self {
        Self::new(&Shared::default())
    }
}

impl LoginBackoff {
    const FREE_FAILURES: u32 = 5;
    pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

    pub fn new(shared: &Shared) -> Self {
        Self { failures: shared.failures("sign-in-failures", Self::MAX_BACKOFF) }
    }

    /// `RateLimited` while `username` must still wait.
    pub async fn check(&self, username: &str) -> Result<(), AppError> {
        let Some(failures) = self.failures.get(&username.to_ascii_lowercase()).await else {
            return Ok(());
        };
        let since = Duration::from_millis(now_millis().saturating_sub(failures.last_at).max(0) as u64);
        let wait = Self::backoff(failures.count).saturating_sub(since);
        if wait.is_zero() {
            Ok(())
        } else {
            Err(AppError::RateLimited { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) })
        }
    }

    pub async fn failed(&self, username: &str) {
        self.failures.add(&username.to_ascii_lowercase()).await;
    }

    pub async fn succeeded(&self, username: &str) {
        self.failures.clear(&username.to_ascii_lowercase()).await;
    }

    /// Forgets names whose last failure is older than the longest back-off.
    pub fn forget_idle(&self) {
        self.failures.forget_idle();
    }

    fn backoff(count: u32) -> Duration {
        match count.saturating_sub(Self::FREE_FAILURES) {
            0 => Duration::ZERO,
            over => Duration::from_secs(1u64 << (over - 1).min(20)).min(Self::MAX_BACKOFF),
        }
    }
}

pub use crate::shared::leases::{PerUserSlots, Slot};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_limited_by_their_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(address_key(ip("2001:db8:1:2:aaaa::1")), address_key(ip("2001:db8:1:2:bbbb::2")));
        assert_ne!(address_key(ip("2001:db8:1:2::1")), address_key(ip("2001:db8:1:3::1")));
        assert_eq!(address_key(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(address_key(ip("10.0.0.1")), ip("10.0.0.1"));
    }

    #[tokio::test]
    async fn failing_accounts_back_off_and_a_success_clears_them() {
        for shared in crate::shared::alone_and_over_redis().await {
            let backoff = LoginBackoff::new(&shared);
            for _ in 0..LoginBackoff::FREE_FAILURES {
                assert!(backoff.check("Alice").await.is_ok());
                backoff.failed("Alice").await;
            }
            assert!(backoff.check("alice").await.is_ok(), "the free failures cost nothing");
            backoff.failed("ALICE").await;
            assert!(matches!(backoff.check("alice").await, Err(AppError::RateLimited { retry_after_secs: 1 })));
            assert!(backoff.check("bob").await.is_ok(), "per account");
            backoff.succeeded("alice").await;
            assert!(backoff.check("alice").await.is_ok());
        }
        assert_eq!(LoginBackoff::backoff(LoginBackoff::FREE_FAILURES + 3), Duration::from_secs(4));
        assert_eq!(LoginBackoff::backoff(100), LoginBackoff::MAX_BACKOFF);
    }
}
