//! Rate limits by key (GCRA): `per_minute` events, `burst` of them at once. Alone, governor's
//! limiter in this process; with Redis, the same algorithm in one Lua script, so the limit holds
//! in total over every instance and answers with the same wait.
//!
//! While Redis does not answer, each instance limits alone (the in-process limiter), so a
//! limit is at worst the instance count times looser, and sign-ins stay possible.

use std::{fmt::Display, hash::Hash, num::NonZeroU32, sync::Arc};

use futures::future::BoxFuture;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};

use super::RedisLink;

/// A limit per key: `Err(seconds to wait)` when `key` is over it.
pub trait RateLimit<K>: Send + Sync {
    fn check<'a>(&'a self, key: &'a K) -> BoxFuture<'a, Result<(), u64>>;

    /// Forgets keys that are back to full allowance (memory only; Redis keys expire).
    fn forget_idle(&self);
}

/// A rate: `per_minute` events per key, `burst` at once (clamped to 1..=`per_minute`); 0 per
/// minute disables it.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    fn burst(self) -> u32 {
        self.burst.clamp(1, self.per_minute.max(1))
    }
}

/// This process's limiter.
pub struct LocalLimit<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> LocalLimit<K> {
    pub fn new(rate: Rate) -> Self {
        let limiter = NonZeroU32::new(rate.per_minute).map(|per_minute| {
            let burst = NonZeroU32::new(rate.burst()).expect("clamped to at least 1");
            RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
        });
        Self { limiter }
    }

    fn check_now(&self, key: &K) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

impl<K: Hash + Eq + Clone + Send + Sync> RateLimit<K> for LocalLimit<K> {
    fn check<'a>(&'a self, key: &'a K) -> BoxFuture<'a, Result<(), u64>> {
        Box::pin(std::future::ready(self.check_now(key)))
    }

    fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
        }
    }
}

/// GCRA over a key's theoretical arrival time (ms, Redis's clock): admit when the new arrival
/// time is at most `burst` intervals ahead of now, else answer the wait in ms.
const GCRA: &str = r"
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now_ms)
local new_tat = math.max(tat, now_ms) + interval
local ahead = new_tat - now_ms
if ahead > burst * interval then
    return ahead - burst * interval
end
redis.call('SET', KEYS[1], new_tat, 'PX', ahead)
return 0
";

/// The limit over every instance.
pub struct RedisLimit<K: Hash + Eq + Clone> {
    redis: RedisLink,
    script: Arc<redis::Script>,
    /// `troupe:limit:<name>:`.
    prefix: String,
    rate: Rate,
    alone: LocalLimit<K>,
}

impl<K: Hash + Eq + Clone> RedisLimit<K> {
    pub fn new(redis: RedisLink, name: &str, rate: Rate) -> Self {
        Self {
            prefix: redis.key(&format!("limit:{name}:")),
            redis,
            script: Arc::new(redis::Script::new(GCRA)),
            rate,
            alone: LocalLimit::new(rate),
        }
    }
}

impl<K: Hash + Eq + Clone + Display + Send + Sync> RateLimit<K> for RedisLimit<K> {
    fn check<'a>(&'a self, key: &'a K) -> BoxFuture<'a, Result<(), u64>> {
        Box::pin(async move {
            if self.rate.per_minute == 0 {
                return Ok(());
            }
            let interval_ms = 60_000 / i64::from(self.rate.per_minute);
            let mut commands = self.redis.commands();
            let wait_ms: redis::RedisResult<i64> = self
                .script
                .key(format!("{}{key}", self.prefix))
                .arg(interval_ms)
                .arg(self.rate.burst())
                .invoke_async(&mut commands)
                .await;
            match self.redis.watch("rate limit", wait_ms) {
                Ok(0) => Ok(()),
                Ok(wait_ms) => Err((wait_ms as u64).div_ceil(1000)),
                Err(_) => self.alone.check_now(key),
            }
        })
    }

    fn forget_idle(&self) {
        self.alone.forget_idle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_limit_allows_the_burst_then_says_how_long_to_wait() {
        for shared in crate::shared::alone_and_over_redis().await {
            let limit: Arc<dyn RateLimit<String>> = shared.rate_limit("test", Rate { per_minute: 10, burst: 5 });
            let (ann, bob) = ("ann".to_owned(), "bob".to_owned());
            for _ in 0..5 {
                assert_eq!(limit.check(&ann).await, Ok(()));
            }
            let wait = limit.check(&ann).await.unwrap_err();
            assert!((1..=6).contains(&wait), "{wait}");
            assert_eq!(limit.check(&bob).await, Ok(()), "other keys are not affected");
        }
    }

    #[tokio::test]
    async fn a_rate_of_zero_is_no_limit() {
        for shared in crate::shared::alone_and_over_redis().await {
            let limit: Arc<dyn RateLimit<String>> = shared.rate_limit("off", Rate { per_minute: 0, burst: 0 });
            for _ in 0..100 {
                assert_eq!(limit.check(&"ann".to_owned()).await, Ok(()));
            }
        }
    }
}
