//! Caps on what each user may hold at once: streaming replies and quota reservations (over
//! every instance, with Redis), live connections (each instance's own).
//!
//! Over Redis each is a lease: a member of the user's sorted set scored by when it expires,
//! with its amount in a hash, renewed while it is held and removed when it is given back. An
//! instance that dies mid-reply stops renewing, and its leases expire within `LEASE`: none
//! leaks for good.

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
    /// Slots held now over every instance (this one's when they are not shared).
    fn open_everywhere(&self) -> BoxFuture<'_, usize>;
}

/// A held slot or reservation; dropping it gives it back.
pub struct Lease {
    _held: Box<dyn Send + Sync>,
}

impl Lease {
    pub fn new(held: impl Send + Sync + 'static) -> Self {
        Self { _held: Box::new(held) }
    }
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
        let slot = PerUserSlots::acquire(self, user).map(Lease::new);
        Box::pin(std::future::ready(slot))
    }

    fn max(&self) -> usize {
        self.max
    }

    fn open_everywhere(&self) -> BoxFuture<'_, usize> {
        Box::pin(std::future::ready(self.open_total()))
    }
}

/// Quota held for replies under way: `reserve` admits while `used` plus the user's
/// reservations stay under `quota`, and holds `worst_case` until the `Lease` drops.
pub trait Reservations: Send + Sync {
    fn reserve(&self, user: UserId, quota: i64, used: i64, worst_case: i64) -> BoxFuture<'_, Option<Lease>>;
}

/// Tokens set aside for each user's turns under way. A turn is admitted while the day's
/// recorded usage plus the reservations of the user's other turns stay under the quota; it then
/// holds its worst case (prompt + the model's longest reply) until its real usage is recorded.
/// So concurrent sends see each other, and a user overspends by at most the one turn admitted
/// last.
#[derive(Default)]
pub struct QuotaReservations {
    held: Mutex<HashMap<UserId, i64>>,
}

impl QuotaReservations {
    /// Checks `used + reserved < quota` and reserves `worst_case` in one step; `None` when the
    /// quota is spent.
    pub fn reserve_now(self: &Arc<Self>, user: UserId, quota: i64, used: i64, worst_case: i64) -> Option<Reservation> {
        let mut held = self.held.lock().expect("reservations lock");
        let reserved = held.entry(user).or_insert(0);
        if used.saturating_add(*reserved) >= quota {
            if *reserved == 0 {
                held.remove(&user);
            }
            return None;
        }
        *reserved += worst_case;
        Some(Reservation { reservations: Arc::clone(self), user, tokens: worst_case })
    }
}

/// Tokens held for one turn, released when dropped (after its usage is recorded).
pub struct Reservation {
    reservations: Arc<QuotaReservations>,
    user: UserId,
    tokens: i64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut held = self.reservations.held.lock().expect("reservations lock");
        if let Some(reserved) = held.get_mut(&self.user) {
            *reserved -= self.tokens;
            if *reserved <= 0 {
                held.remove(&self.user);
            }
        }
    }
}

impl Reservations for Arc<QuotaReservations> {
    fn reserve(&self, user: UserId, quota: i64, used: i64, worst_case: i64) -> BoxFuture<'_, Option<Lease>> {
        Box::pin(std::future::ready(self.reserve_now(user, quota, used, worst_case).map(Lease::new)))
    }
}

/// Drops expired leases, then takes one of `amount` if `base` plus what the live leases hold
/// stays under `limit`. KEYS: the user's leases' expiries (a sorted set) and amounts (a hash),
/// and every user's leases' expiries (to count them all).
const TAKE: &str = r"
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
    redis.call('HDEL', KEYS[2], unpack(expired))
end
local held = 0
for _, amount in ipairs(redis.call('HVALS', KEYS[2])) do
    held = held + tonumber(amount)
end
if tonumber(ARGV[1]) + held >= tonumber(ARGV[2]) then
    return 0
end
local lease = tonumber(ARGV[5])
redis.call('ZADD', KEYS[1], now_ms + lease, ARGV[4])
redis.call('ZADD', KEYS[3], now_ms + lease, ARGV[4])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], lease)
redis.call('PEXPIRE', KEYS[2], lease)
redis.call('PEXPIRE', KEYS[3], lease)
return 1
";

/// Pushes a held lease's expiry on.
const RENEW: &str = r"
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', now_ms + lease, ARGV[1])
redis.call('ZADD', KEYS[3], 'XX', now_ms + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease)
redis.call('PEXPIRE', KEYS[2], lease)
redis.call('PEXPIRE', KEYS[3], lease)
return 1
";

/// Every user's live leases.
const COUNT: &str = r"
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
return redis.call('ZCARD', KEYS[1])
";

const GIVE_BACK: &str = r"
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
";

/// Leases per user in Redis, each holding an amount: stream slots hold 1 each, quota
/// reservations their tokens.
#[derive(Clone)]
pub struct LeaseStore {
    redis: RedisLink,
    /// `troupe:<name>:`.
    prefix: String,
    scripts: Arc<[redis::Script; 4]>,
}

impl LeaseStore {
    pub fn new(redis: RedisLink, name: &str) -> Self {
        Self {
            prefix: redis.key(&format!("{name}:")),
            redis,
            scripts: Arc::new([TAKE, RENEW, GIVE_BACK, COUNT].map(redis::Script::new)),
        }
    }

    /// A lease of `amount` for `user` if `base` plus the user's live leases stay under
    /// `limit`; `Err` when Redis does not answer.
    pub async fn take(
        &self,
        user: UserId,
        base: i64,
        limit: i64,
        amount: i64,
    ) -> redis::RedisResult<Option<RedisLease>> {
        let keys = [
            format!("{}{user}:expiry", self.prefix),
            format!("{}{user}:amount", self.prefix),
            format!("{}all", self.prefix),
        ];
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut commands = self.redis.commands();
        let taken: redis::RedisResult<i64> = self.scripts[0]
            .key(&keys[0])
            .key(&keys[1])
            .key(&keys[2])
            .arg(base)
            .arg(limit)
            .arg(amount)
            .arg(&id)
            .arg(LEASE.as_millis() as i64)
            .invoke_async(&mut commands)
            .await;
        if self.redis.watch("lease", taken)? == 0 {
            return Ok(None);
        }
        let renewing = tokio::spawn(renew(self.clone(), keys.clone(), id.clone()));
        Ok(Some(RedisLease { store: self.clone(), keys, id, renewing }))
    }

    /// Every user's live leases.
    pub async fn count(&self) -> redis::RedisResult<usize> {
        let mut commands = self.redis.commands();
        let count = self.scripts[3].key(format!("{}all", self.prefix)).invoke_async(&mut commands).await;
        self.redis.watch("lease count", count)
    }
}

async fn renew(store: LeaseStore, keys: [String; 3], id: String) {
    let mut every = tokio::time::interval(RENEW_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        let mut commands = store.redis.commands();
        let renewed: redis::RedisResult<i64> = store.scripts[1]
            .key(&keys[0])
            .key(&keys[1])
            .key(&keys[2])
            .arg(&id)
            .arg(LEASE.as_millis() as i64)
            .invoke_async(&mut commands)
            .await;
        let _ = store.redis.watch("lease renewal", renewed);
    }
}

/// A lease held in Redis: renewed while held, given back when dropped.
pub struct RedisLease {
    store: LeaseStore,
    keys: [String; 3],
    id: String,
    renewing: tokio::task::JoinHandle<()>,
}

impl Drop for RedisLease {
    fn drop(&mut self) {
        self.renewing.abort();
        let (store, keys, id) = (self.store.clone(), std::mem::take(&mut self.keys), std::mem::take(&mut self.id));
        // Given back at once; if Redis does not take it, the lease expires by itself.
        tokio::spawn(async move {
            let mut commands = store.redis.commands();
            let given: redis::RedisResult<i64> =
                store.scripts[2].key(&keys[0]).key(&keys[1]).key(&keys[2]).arg(&id).invoke_async(&mut commands).await;
            let _ = store.redis.watch("lease release", given);
        });
    }
}

/// Slots over every instance. While Redis does not answer, each instance caps alone.
pub struct RedisSlots {
    leases: LeaseStore,
    alone: Arc<PerUserSlots>,
    /// Counts the slots held through this instance (the count while Redis does not answer).
    here: Arc<PerUserSlots>,
}

impl RedisSlots {
    pub fn new(redis: RedisLink, name: &str, max: usize) -> Self {
        Self {
            leases: LeaseStore::new(redis, name),
            alone: PerUserSlots::new(max),
            here: PerUserSlots::new(usize::MAX),
        }
    }
}

impl Slots for RedisSlots {
    fn acquire(&self, user: UserId) -> BoxFuture<'_, Option<Lease>> {
        Box::pin(async move {
            let counted = PerUserSlots::acquire(&self.here, user);
            match self.leases.take(user, 0, self.alone.max() as i64, 1).await {
                Ok(lease) => lease.map(|lease| Lease::new((lease, counted))),
                Err(_) => PerUserSlots::acquire(&self.alone, user).map(|slot| Lease::new((slot, counted))),
            }
        })
    }

    fn max(&self) -> usize {
        self.alone.max()
    }

    fn open_everywhere(&self) -> BoxFuture<'_, usize> {
        Box::pin(async move { self.leases.count().await.unwrap_or_else(|_| self.here.open_total()) })
    }
}

/// Quota reservations over every instance. While Redis does not answer, each instance holds
/// its own.
pub struct RedisReservations {
    leases: LeaseStore,
    alone: Arc<QuotaReservations>,
}

impl RedisReservations {
    pub fn new(redis: RedisLink, name: &str) -> Self {
        Self { leases: LeaseStore::new(redis, name), alone: Arc::default() }
    }
}

impl Reservations for RedisReservations {
    fn reserve(&self, user: UserId, quota: i64, used: i64, worst_case: i64) -> BoxFuture<'_, Option<Lease>> {
        Box::pin(async move {
            match self.leases.take(user, used, quota, worst_case).await {
                Ok(lease) => lease.map(Lease::new),
                Err(_) => self.alone.reserve_now(user, quota, used, worst_case).map(Lease::new),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for shared in crate::shared::alone_and_over_redis().await {
            let slots = shared.slots("test", 2);
            let (ann, bob) = (UserId::new(1), UserId::new(2));
            let first = slots.acquire(ann).await.expect("one");
            let _second = slots.acquire(ann).await.expect("two");
            assert!(slots.acquire(ann).await.is_none(), "not three");
            let _bobs = slots.acquire(bob).await.expect("per user");
            assert_eq!(slots.open_everywhere().await, 3);
            drop(first);
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(slots.acquire(ann).await.is_some(), "given back");
        }
    }

    /// The same rules alone and over Redis.
    #[tokio::test]
    async fn reservations_admit_while_under_the_quota_and_give_back_on_drop() {
        for shared in crate::shared::alone_and_over_redis().await {
            let reservations = shared.reservations("test");
            let ann = UserId::new(1);
            let first = reservations.reserve(ann, 1000, 100, 600).await.expect("100 used, nothing held");
            let second = reservations.reserve(ann, 1000, 100, 600).await.expect("700 of 1000: still under");
            assert!(reservations.reserve(ann, 1000, 100, 600).await.is_none(), "1300 of 1000");
            assert!(reservations.reserve(UserId::new(2), 1000, 0, 600).await.is_some(), "per user");
            drop((first, second));
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(reservations.reserve(ann, 1000, 100, 600).await.is_some(), "given back");
        }
    }
}
