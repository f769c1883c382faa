//! Caps on what each user may hold open at once: streaming replies (over every instance, with
//! Redis) and live connections (each instance's own).
//!
//! Over Redis a slot is a lease: a member of the user's sorted set scored by when it expires,
//! renewed while it is held and removed when it is given back. An instance that dies mid-reply
//! stops renewing, and its slots expire within `LEASE`: none leaks for good.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::future::BoxFuture;

use super::RedisLink;
use crate::domain::UserId;

/// How long a lease holds without renewal.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often a held lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(5);

/// Slots per user: `acquire` gives one (given back when the `Lease` drops) unless all of the
/// user's are taken.
pub trait Slots: Send + Sync {
    fn acquire(&self, user: UserId) -> BoxFuture<'_, Option<Lease>>;
    fn max(&self) -> usize;
    /// Slots held through this instance now.
    fn open_here(&self) -> usize;
}

/// A held slot; dropping it gives the slot back.
pub struct Lease {
    _held: Box<dyn Send + Sync>,
}

/// A cap on things each user may hold open at once (streaming replies, live connections).
pub struct PerUserSlots {
    max: usize,
    open: Mutex<HashMap<UserId, usize>>,
}

impl PerUserSlots {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max, open: Mutex::new(HashMap::new()) })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot, released when dropped; `None` when all of the user's are taken.
    pub fn acquire(self: &Arc<Self>, user: UserId) -> Option<Slot> {
        let mut open = self.open.lock().expect("slots lock");
        let count = open.entry(user).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot { slots: Arc::clone(self), user })
    }

    pub fn open_total(&self) -> usize {
        self.open.lock().expect("slots lock").values().sum()
    }
}

pub struct Slot {
    slots: Arc<PerUserSlots>,
    user: UserId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("slots lock");
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

impl Slots for Arc<PerUserSlots> {
    fn acquire(&self, user: UserId) -> BoxFuture<'_, Option<Lease>> {
        let slot = PerUserSlots::acquire(self, user).map(|slot| Lease { _held: Box::new(slot) });
        Box::pin(std::future::ready(slot))
    }

    fn max(&self) -> usize {
        self.max
    }

    fn open_here(&self) -> usize {
        self.open_total()
    }
}

/// Drops expired leases, then adds one if the user holds fewer than the most allowed.
const ACQUIRE: &str = r"
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
    return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
";

/// Pushes a held lease's expiry on.
const RENEW: &str = r"
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now_ms + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
";

/// Slots over every instance. While Redis does not answer, each instance caps alone.
pub struct RedisSlots {
    redis: RedisLink,
    /// `troupe:slots:<name>:`.
    prefix: String,
    acquire: Arc<redis::Script>,
    renew: Arc<redis::Script>,
    alone: Arc<PerUserSlots>,
    /// Counts the leases held through this instance.
    here: Arc<PerUserSlots>,
}

impl RedisSlots {
    pub fn new(redis: RedisLink, name: &str, max: usize) -> Self {
        Self {
            prefix: redis.key(&format!("slots:{name}:")),
            redis,
            acquire: Arc::new(redis::Script::new(ACQUIRE)),
            renew: Arc::new(redis::Script::new(RENEW)),
            alone: PerUserSlots::new(max),
            here: PerUserSlots::new(usize::MAX),
        }
    }
}

impl Slots for RedisSlots {
    fn acquire(&self, user: UserId) -> BoxFuture<'_, Option<Lease>> {
        Box::pin(async move {
            let key = format!("{}{user}", self.prefix);
            let id = uuid::Uuid::new_v4().simple().to_string();
            let lease_ms = LEASE.as_millis() as i64;
            let mut commands = self.redis.commands();
            let granted: redis::RedisResult<i64> =
                self.acquire.key(&key).arg(self.alone.max()).arg(&id).arg(lease_ms).invoke_async(&mut commands).await;
            let counted = PerUserSlots::acquire(&self.here, user);
            match self.redis.watch("slot", granted) {
                Ok(0) => None,
                Ok(_) => {
                    let renewing = tokio::spawn(renew(self.redis.clone(), self.renew.clone(), key.clone(), id.clone()));
                    let held = RedisLease { redis: self.redis.clone(), key, id, renewing, _counted: counted };
                    Some(Lease { _held: Box::new(held) })
                }
                Err(_) => {
                    PerUserSlots::acquire(&self.alone, user).map(|slot| Lease { _held: Box::new((slot, counted)) })
                }
            }
        })
    }

    fn max(&self) -> usize {
        self.alone.max()
    }

    fn open_here(&self) -> usize {
        self.here.open_total()
    }
}

async fn renew(redis: RedisLink, script: Arc<redis::Script>, key: String, id: String) {
    let mut every = tokio::time::interval(RENEW_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        let mut commands = redis.commands();
        let renewed: redis::RedisResult<i64> =
            script.key(&key).arg(&id).arg(LEASE.as_millis() as i64).invoke_async(&mut commands).await;
        let _ = redis.watch("slot renewal", renewed);
    }
}

struct RedisLease {
    redis: RedisLink,
    key: String,
    id: String,
    renewing: tokio::task::JoinHandle<()>,
    _counted: Option<Slot>,
}

impl Drop for RedisLease {
    fn drop(&mut self) {
        self.renewing.abort();
        let (redis, key, id) = (self.redis.clone(), std::mem::take(&mut self.key), std::mem::take(&mut self.id));
        // Given back at once; if Redis does not take it, the lease expires by itself.
        tokio::spawn(async move {
            let mut commands = redis.commands();
            let removed: redis::RedisResult<i64> =
                redis::cmd("ZREM").arg(&key).arg(&id).query_async(&mut commands).await;
            let _ = redis.watch("slot release", removed);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::Shared;

    #[test]
    fn slots_are_released_on_drop() {
        let slots = PerUserSlots::new(2);
        let a = slots.acquire(UserId::new(7)).unwrap();
        let _b = slots.acquire(UserId::new(7)).unwrap();
        assert!(slots.acquire(UserId::new(7)).is_none());
        assert!(slots.acquire(UserId::new(8)).is_some(), "per user");
        drop(a);
        assert!(slots.acquire(UserId::new(7)).is_some());
        assert_eq!(slots.open_total(), 1, "only _b: the others were dropped at once");
    }

    /// The same rules alone and over Redis.
    #[tokio::test]
    async fn a_user_holds_at_most_max_and_a_dropped_lease_frees_its_slot() {
        let url = std::env::var("TROUPE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("troupe-unit-{}", uuid::Uuid::new_v4().simple());
        let redis = Shared::connect(Some(&url.into()), &prefix).await.expect("the tests need Redis");
        for shared in [Shared::default(), redis] {
            let slots = shared.slots("test", 2);
            let (ann, bob) = (UserId::new(1), UserId::new(2));
            let first = slots.acquire(ann).await.expect("one");
            let _second = slots.acquire(ann).await.expect("two");
            assert!(slots.acquire(ann).await.is_none(), "not three");
            assert!(slots.acquire(bob).await.is_some(), "per user");
            assert_eq!(slots.open_here(), 2);
            drop(first);
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(slots.acquire(ann).await.is_some(), "given back");
        }
    }
}
