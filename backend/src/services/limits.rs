//! Rate limits (governor) and the per-user cap on concurrent streams.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex},
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use crate::{domain::UserId, error::AppError};

/// A per-key limit of `per_minute` events, with a burst of `burst`. `None` when disabled.
pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_minute).map(|rate| {
            let burst = NonZeroU32::new(burst.clamp(1, per_minute)).expect("clamped to at least 1");
            RateLimiter::keyed(Quota::per_minute(rate).allow_burst(burst))
        });
        Self { limiter }
    }

    /// `Err(seconds to wait)` when `key` is over its limit.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    /// Forgets keys that are back to full capacity.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
        }
    }
}

/// Messages per user per minute, with a burst of half that (at least one).
pub fn message_limit(per_minute: u32) -> KeyedLimit<UserId> {
    KeyedLimit::per_minute(per_minute, per_minute.div_ceil(2))
}

/// Register and login attempts per client address; the whole allowance may come at once.
pub fn auth_limit(per_minute: u32) -> KeyedLimit<IpAddr> {
    KeyedLimit::per_minute(per_minute, per_minute)
}

/// The sign-in attempt limit, shared by register and login.
#[derive(Clone)]
pub struct AuthAttempts(Arc<KeyedLimit<IpAddr>>);

impl AuthAttempts {
    pub fn new(per_minute: u32) -> Self {
        Self(Arc::new(auth_limit(per_minute)))
    }

    pub fn check(&self, client: IpAddr) -> Result<(), AppError> {
        self.0.check(&client).map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
    }

    /// Forgets addresses that are back to full allowance.
    pub fn forget_idle(&self) {
        self.0.forget_idle();
    }
}

/// Counts each user's open replies.
pub struct StreamSlots {
    max: usize,
    open: Mutex<HashMap<UserId, usize>>,
}

impl StreamSlots {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max, open: Mutex::new(HashMap::new()) })
    }

    /// A slot for one reply, released when dropped; `TooManyStreams` when all are taken.
    pub fn acquire(self: &Arc<Self>, user: UserId) -> Result<StreamSlot, AppError> {
        let mut open = self.open.lock().expect("stream slots lock");
        let count = open.entry(user).or_insert(0);
        if *count >= self.max {
            return Err(AppError::TooManyStreams { max: self.max });
        }
        *count += 1;
        Ok(StreamSlot { slots: Arc::clone(self), user })
    }

    pub fn open_total(&self) -> usize {
        self.open.lock().expect("stream slots lock").values().sum()
    }
}

pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    user: UserId,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("stream slots lock");
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_allows_the_burst_then_says_how_long_to_wait() {
        let limit = message_limit(10);
        for _ in 0..5 {
            assert_eq!(limit.check(&1), Ok(()));
        }
        let wait = limit.check(&1).unwrap_err();
        assert!((1..=6).contains(&wait), "{wait}");
        assert_eq!(limit.check(&2), Ok(()), "other users are not affected");
    }

    #[test]
    fn zero_disables() {
        let limit = auth_limit(0);
        for _ in 0..100 {
            assert!(limit.check(&"127.0.0.1".parse().unwrap()).is_ok());
        }
    }

    #[test]
    fn slots_are_released_on_drop() {
        let slots = StreamSlots::new(2);
        let a = slots.acquire(7).unwrap();
        let _b = slots.acquire(7).unwrap();
        assert!(slots.acquire(7).is_err());
        assert!(slots.acquire(8).is_ok(), "per user");
        drop(a);
        assert!(slots.acquire(7).is_ok());
        assert_eq!(slots.open_total(), 1, "only _b is still open");
    }
}
