//! Named locks: at most one holder at a time, over every instance with Redis (a key set only
//! if absent, with an expiry that the holder renews, deleted by its holder alone). An instance
//! that dies while holding one lets it go within `HOLD`. While Redis does not answer, each
//! instance locks alone.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::future::BoxFuture;

use super::{Lease, RedisLink};

/// How long a lock holds without renewal.
const HOLD: Duration = Duration::from_secs(15);
const RENEW_EVERY: Duration = Duration::from_secs(5);

pub trait Locks: Send + Sync {
    /// The lock `name` if nobody holds it; released when the `Lease` drops.
    fn try_lock<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Lease>>;
}

/// This process's own.
#[derive(Clone, Default)]
pub struct LocalLocks {
    held: Arc<Mutex<HashSet<String>>>,
}

struct LocalHold {
    held: Arc<Mutex<HashSet<String>>>,
    name: String,
}

impl Drop for LocalHold {
    fn drop(&mut self) {
        self.held.lock().expect("locks lock").remove(&self.name);
    }
}

impl LocalLocks {
    fn try_now(&self, name: &str) -> Option<Lease> {
        let fresh = self.held.lock().expect("locks lock").insert(name.to_owned());
        fresh.then(|| Lease::new(LocalHold { held: self.held.clone(), name: name.to_owned() }))
    }
}

impl Locks for LocalLocks {
    fn try_lock<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Lease>> {
        Box::pin(std::future::ready(self.try_now(name)))
    }
}

/// Renews or deletes the lock only for its holder (the token it was set with).
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
";

/// Over every instance.
pub struct RedisLocks {
    redis: RedisLink,
    prefix: String,
    scripts: Arc<[redis::Script; 2]>,
    alone: LocalLocks,
}

impl RedisLocks {
    pub fn new(redis: RedisLink) -> Self {
        Self {
            prefix: redis.key("lock:"),
            redis,
            scripts: Arc::new([RENEW, RELEASE].map(redis::Script::new)),
            alone: LocalLocks::default(),
        }
    }
}

impl Locks for RedisLocks {
    fn try_lock<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Lease>> {
        Box::pin(async move {
            let key = format!("{}{name}", self.prefix);
            let token = uuid::Uuid::new_v4().simple().to_string();
            let mut commands = self.redis.commands();
            let set: redis::RedisResult<Option<String>> = redis::cmd("SET")
                .arg(&key)
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(HOLD.as_millis() as i64)
                .query_async(&mut commands)
                .await;
            match self.redis.watch("lock", set) {
                Ok(None) => None,
                Ok(Some(_)) => {
                    let renewing =
                        tokio::spawn(renew(self.redis.clone(), self.scripts.clone(), key.clone(), token.clone()));
                    Some(Lease::new(RedisHold {
                        redis: self.redis.clone(),
                        scripts: self.scripts.clone(),
                        key,
                        token,
                        renewing,
                    }))
                }
                Err(_) => self.alone.try_now(name),
            }
        })
    }
}

async fn renew(redis: RedisLink, scripts: Arc<[redis::Script; 2]>, key: String, token: String) {
    let mut every = tokio::time::interval(RENEW_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        let mut commands = redis.commands();
        let renewed: redis::RedisResult<i64> =
            scripts[0].key(&key).arg(&token).arg(HOLD.as_millis() as i64).invoke_async(&mut commands).await;
        let _ = redis.watch("lock renewal", renewed);
    }
}

struct RedisHold {
    redis: RedisLink,
    scripts: Arc<[redis::Script; 2]>,
    key: String,
    token: String,
    renewing: tokio::task::JoinHandle<()>,
}

impl Drop for RedisHold {
    fn drop(&mut self) {
        self.renewing.abort();
        let (redis, scripts) = (self.redis.clone(), self.scripts.clone());
        let (key, token) = (std::mem::take(&mut self.key), std::mem::take(&mut self.token));
        tokio::spawn(async move {
            let mut commands = redis.commands();
            let released: redis::RedisResult<i64> = scripts[1].key(&key).arg(&token).invoke_async(&mut commands).await;
            let _ = redis.watch("lock release", released);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_alone_and_over_redis() {
        for shared in crate::shared::alone_and_over_redis().await {
            let locks = shared.locks();
            let held = locks.try_lock("room:1").await.expect("free");
            assert!(locks.try_lock("room:1").await.is_none(), "held");
            assert!(locks.try_lock("room:2").await.is_some(), "per name");
            drop(held);
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(locks.try_lock("room:1").await.is_some(), "released");
        }
    }
}
