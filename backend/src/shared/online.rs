//! Who is online: a request in the last `ONLINE_WINDOW`. Alone, a map in this process; with
//! Redis, a sorted set of users by when they were last seen, which every instance writes to at
//! most once per `PUSH_EVERY` for each user, and counts from.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::future::BoxFuture;

use super::RedisLink;
use crate::{clock::now_millis, domain::UserId};

/// A user counts as online this long after their last request.
pub const ONLINE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// How often one user's activity is written to Redis (the count is that much less exact).
const PUSH_EVERY: Duration = Duration::from_secs(30);

pub trait Online: Send + Sync {
    /// `user` made a request now.
    fn touch(&self, user: UserId);
    /// Users seen within `ONLINE_WINDOW`.
    fn count(&self) -> BoxFuture<'_, usize>;
}

/// This process's own.
#[derive(Clone, Default)]
pub struct LocalOnline {
    seen: Arc<Mutex<HashMap<UserId, Instant>>>,
}

impl LocalOnline {
    /// Notes `user` now; whether they were last noted longer than `every` ago (or never).
    fn note(&self, user: UserId, every: Duration) -> bool {
        let mut seen = self.seen.lock().expect("online lock");
        let now = Instant::now();
        let stale = seen.get(&user).is_none_or(|at| now.duration_since(*at) >= every);
        if stale {
            seen.insert(user, now);
        }
        stale
    }

    fn count_now(&self) -> usize {
        let mut seen = self.seen.lock().expect("online lock");
        seen.retain(|_, at| at.elapsed() < ONLINE_WINDOW);
        seen.len()
    }
}

impl Online for LocalOnline {
    fn touch(&self, user: UserId) {
        self.note(user, Duration::ZERO);
    }

    fn count(&self) -> BoxFuture<'_, usize> {
        Box::pin(std::future::ready(self.count_now()))
    }
}

/// Over every instance. While Redis does not answer, this instance's own count.
pub struct RedisOnline {
    redis: RedisLink,
    key: String,
    /// When each user was last written to Redis.
    pushed: LocalOnline,
}

impl RedisOnline {
    pub fn new(redis: RedisLink) -> Self {
        Self { key: redis.key("online"), redis, pushed: LocalOnline::default() }
    }
}

impl Online for RedisOnline {
    fn touch(&self, user: UserId) {
        if !self.pushed.note(user, PUSH_EVERY) {
            return;
        }
        let (redis, key) = (self.redis.clone(), self.key.clone());
        tokio::spawn(async move {
            let mut commands = redis.commands();
            // The set goes when nobody has been seen for a whole window.
            let added: redis::RedisResult<()> = redis::pipe()
                .cmd("ZADD")
                .arg(&key)
                .arg(now_millis())
                .arg(user.get())
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(ONLINE_WINDOW.as_millis() as i64)
                .ignore()
                .query_async(&mut commands)
                .await;
            let _ = redis.watch("online", added);
        });
    }

    fn count(&self) -> BoxFuture<'_, usize> {
        Box::pin(async move {
            let since = now_millis() - ONLINE_WINDOW.as_millis() as i64;
            let mut commands = self.redis.commands();
            let counted: redis::RedisResult<(i64, usize)> = redis::pipe()
                .cmd("ZREMRANGEBYSCORE")
                .arg(&self.key)
                .arg("-inf")
                .arg(since)
                .cmd("ZCARD")
                .arg(&self.key)
                .query_async(&mut commands)
                .await;
            match self.redis.watch("online count", counted) {
                Ok((_, count)) => count,
                Err(_) => self.pushed.count_now(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_distinct_recent_users_alone_and_over_redis() {
        for shared in crate::shared::alone_and_over_redis().await {
            let online = shared.online();
            let (one, two) = (UserId::new(1), UserId::new(2));
            online.touch(one);
            online.touch(two);
            online.touch(one);
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(online.count().await, 2);
        }
    }
}
