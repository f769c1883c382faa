//! Rate limits (`shared::rate`), per-user caps on what may be open at once, quota reservations, and
//! the back-off of accounts whose sign-ins keep failing.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    domain::UserId,
    error::AppError,
    shared::{Rate, RateLimit, Shared},
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
/// password guessing spread over many addresses, which the per-address limit cannot see.
pub struct LoginBackoff {
    failures: Mutex<HashMap<String, Failures>>,
}

struct Failures {
    count: u32,
    last: Instant,
}

impl LoginBackoff {
    const FREE_FAILURES: u32 = 5;
    const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
    /// Names tracked at most; beyond it, names idle past the longest back-off are forgotten first.
    const MAX_TRACKED: usize = 100_000;

    pub fn new() -> Self {
        Self { failures: Mutex::new(HashMap::new()) }
    }

    /// `RateLimited` while `username` must still wait.
    pub fn check(&self, username: &str) -> Result<(), AppError> {
        let failures = self.failures.lock().expect("login backoff lock");
        let Some(entry) = failures.get(&username.to_ascii_lowercase()) else {
            return Ok(());
        };
        let wait = Self::backoff(entry.count).saturating_sub(entry.last.elapsed());
        if wait.is_zero() {
            Ok(())
        } else {
            Err(AppError::RateLimited { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) })
        }
    }

    pub fn failed(&self, username: &str) {
        let mut failures = self.failures.lock().expect("login backoff lock");
        if failures.len() >= Self::MAX_TRACKED {
            failures.retain(|_, f| f.last.elapsed() < Self::MAX_BACKOFF);
            if failures.len() >= Self::MAX_TRACKED {
                return;
            }
        }
        let entry =
            failures.entry(username.to_ascii_lowercase()).or_insert(Failures { count: 0, last: Instant::now() });
        entry.count += 1;
        entry.last = Instant::now();
    }

    pub fn succeeded(&self, username: &str) {
        self.failures.lock().expect("login backoff lock").remove(&username.to_ascii_lowercase());
    }

    /// Forgets names whose last failure is older than the longest back-off.
    pub fn forget_idle(&self) {
        self.failures.lock().expect("login backoff lock").retain(|_, f| f.last.elapsed() < Self::MAX_BACKOFF);
    }

    fn backoff(count: u32) -> Duration {
        match count.saturating_sub(Self::FREE_FAILURES) {
            0 => Duration::ZERO,
            over => Duration::from_secs(1u64 << (over - 1).min(20)).min(Self::MAX_BACKOFF),
        }
    }
}

impl Default for LoginBackoff {
    fn default() -> Self {
        Self::new()
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

    #[test]
    fn failing_accounts_back_off_and_a_success_clears_them() {
        let backoff = LoginBackoff::new();
        for _ in 0..LoginBackoff::FREE_FAILURES {
            assert!(backoff.check("Alice").is_ok());
            backoff.failed("Alice");
        }
        assert!(backoff.check("alice").is_ok(), "the free failures cost nothing");
        backoff.failed("ALICE");
        assert!(matches!(backoff.check("alice"), Err(AppError::RateLimited { retry_after_secs: 1 })));
        assert!(backoff.check("bob").is_ok(), "per account");
        assert_eq!(LoginBackoff::backoff(LoginBackoff::FREE_FAILURES + 3), Duration::from_secs(4));
        assert_eq!(LoginBackoff::backoff(100), LoginBackoff::MAX_BACKOFF);
        backoff.succeeded("alice");
        assert!(backoff.check("alice").is_ok());
    }
}
