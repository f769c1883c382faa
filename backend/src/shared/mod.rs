//! State that several server instances share, through Redis when `REDIS_URL` is set, and that
//! this process keeps alone when it is not. Each piece has one interface with both
//! implementations behind it, so the services never know which runs.
//!
//! - `topic`: fan-out (announcements, session changes, room frames) to every instance's
//!   connections.
//! - `rate`: rate limits per key (messages, sign-ins, writes).
//! - `online`: who made a request lately.
//! - `failures`: failed sign-ins per account name.
//! - `locks`: named locks (one room reply at a time).
//! - `roster`: who is in each room, and announcing comings and goings once.
//! - `leases`: what each user may hold at once (streaming replies, quota reservations), as
//!   expiring leases.

pub mod failures;
pub mod leases;
pub mod locks;
pub mod online;
pub mod rate;
pub mod redis;
pub mod roster;
pub mod topic;

use std::{fmt::Display, hash::Hash, sync::Arc};

use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};

pub use self::{
    failures::FailureLog,
    leases::{Lease, Reservations, Slots},
    locks::Locks,
    online::Online,
    rate::{LocalLimit, Rate, RateLimit, RedisLimit},
    redis::RedisLink,
    roster::Roster,
    topic::Topic,
};

/// Where shared state lives: here, or in Redis.
#[derive(Clone, Default)]
pub struct Shared {
    redis: Option<RedisLink>,
}

impl Shared {
    /// This process alone, or the instances sharing the Redis at `url` (which must answer now)
    /// under keys and channels that start with `prefix`.
    pub async fn connect(url: Option<&SecretString>, prefix: &str) -> anyhow::Result<Self> {
        let redis = match url {
            Some(url) => Some(RedisLink::connect(url.expose_secret(), prefix).await?),
            None => None,
        };
        Ok(Self { redis })
    }

    /// Whether other instances may share this state (Redis), so other processes may be at work
    /// on the same database.
    pub fn spans_instances(&self) -> bool {
        self.redis.is_some()
    }

    /// A fan-out channel named `name`, holding `capacity` values for slow local receivers.
    pub fn topic<T>(&self, name: &'static str, capacity: usize) -> Topic<T>
    where
        T: Clone + Serialize + DeserializeOwned + Send + 'static,
    {
        Topic::new(name, capacity, self.redis.as_ref())
    }

    /// A rate limit named `name` (its Redis keys' part).
    pub fn rate_limit<K>(&self, name: &str, rate: Rate) -> Arc<dyn RateLimit<K>>
    where
        K: Hash + Eq + Clone + Display + Send + Sync + 'static,
    {
        match &self.redis {
            Some(redis) => Arc::new(RedisLimit::new(redis.clone(), name, rate)),
            None => Arc::new(LocalLimit::new(rate)),
        }
    }

    /// `max` slots per user named `name` (its Redis keys' part).
    pub fn slots(&self, name: &str, max: usize) -> Arc<dyn Slots> {
        match &self.redis {
            Some(redis) => Arc::new(leases::RedisSlots::new(redis.clone(), name, max)),
            None => Arc::new(leases::PerUserSlots::new(max)),
        }
    }

    /// Quota reservations named `name` (its Redis keys' part).
    pub fn reservations(&self, name: &str) -> Arc<dyn Reservations> {
        match &self.redis {
            Some(redis) => Arc::new(leases::RedisReservations::new(redis.clone(), name)),
            None => Arc::new(Arc::new(leases::QuotaReservations::default())),
        }
    }

    /// Failures per name named `name`, each remembered for `memory` after its last.
    pub fn failures(&self, name: &str, memory: std::time::Duration) -> Arc<dyn FailureLog> {
        match &self.redis {
            Some(redis) => Arc::new(failures::RedisFailures::new(redis.clone(), name, memory)),
            None => Arc::new(failures::LocalFailures::new(memory)),
        }
    }

    /// Named locks.
    pub fn locks(&self) -> Arc<dyn Locks> {
        match &self.redis {
            Some(redis) => Arc::new(locks::RedisLocks::new(redis.clone())),
            None => Arc::new(locks::LocalLocks::default()),
        }
    }

    /// Who is in each room.
    pub fn roster(&self) -> Arc<dyn Roster> {
        match &self.redis {
            Some(redis) => Arc::new(roster::RedisRoster::new(redis.clone())),
            None => Arc::new(roster::LocalRoster::default()),
        }
    }

    /// Who is online.
    pub fn online(&self) -> Arc<dyn Online> {
        match &self.redis {
            Some(redis) => Arc::new(online::RedisOnline::new(redis.clone())),
            None => Arc::new(online::LocalOnline::default()),
        }
    }

    pub fn redis(&self) -> Option<&RedisLink> {
        self.redis.as_ref()
    }
}

/// For the tests: the same piece alone and over Redis (a fresh namespace on the tests' Redis,
/// `TROUPE_TEST_REDIS_URL`, which they need like PostgreSQL).
#[cfg(test)]
pub async fn alone_and_over_redis() -> [Shared; 2] {
    let url = std::env::var("TROUPE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("troupe-unit-{}", uuid::Uuid::new_v4().simple());
    let redis = Shared::connect(Some(&url.into()), &prefix).await.expect("the tests need Redis");
    [Shared::default(), redis]
}
