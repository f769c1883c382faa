//! Failures counted per name (sign-ins per account), with when the last one was. Alone, a map
//! in this process; with Redis, a hash per name that expires once it no longer matters. While
//! Redis does not answer, this instance's own count.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::future::BoxFuture;

use super::RedisLink;
use crate::clock::now_millis;

/// Names tracked at most by one process; beyond it, idle names are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    /// Epoch milliseconds.
    pub last_at: i64,
}

pub trait FailureLog: Send + Sync {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Failures>>;
    fn add<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()>;
    fn clear<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()>;
    /// Forgets names whose last failure is older than the log's memory (Redis keys expire).
    fn forget_idle(&self);
}

/// This process's own; a name is remembered for `memory` after its last failure.
pub struct LocalFailures {
    failures: Mutex<HashMap<String, Failures>>,
    memory: Duration,
}

impl LocalFailures {
    pub fn new(memory: Duration) -> Self {
        Self { failures: Mutex::default(), memory }
    }

    fn get_now(&self, name: &str) -> Option<Failures> {
        self.failures.lock().expect("failures lock").get(name).copied()
    }

    fn add_now(&self, name: &str) {
        let mut failures = self.failures.lock().expect("failures lock");
        if failures.len() >= MAX_TRACKED {
            let oldest = now_millis() - self.memory.as_millis() as i64;
            failures.retain(|_, f| f.last_at >= oldest);
            if failures.len() >= MAX_TRACKED {
                return;
            }
        }
        let entry = failures.entry(name.to_owned()).or_insert(Failures { count: 0, last_at: 0 });
        entry.count += 1;
        entry.last_at = now_millis();
    }

    fn clear_now(&self, name: &str) {
        self.failures.lock().expect("failures lock").remove(name);
    }
}

impl FailureLog for LocalFailures {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Failures>> {
        Box::pin(std::future::ready(self.get_now(name)))
    }

    fn add<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()> {
        self.add_now(name);
        Box::pin(std::future::ready(()))
    }

    fn clear<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()> {
        self.clear_now(name);
        Box::pin(std::future::ready(()))
    }

    fn forget_idle(&self) {
        let oldest = now_millis() - self.memory.as_millis() as i64;
        self.failures.lock().expect("failures lock").retain(|_, f| f.last_at >= oldest);
    }
}

/// Over every instance.
pub struct RedisFailures {
    redis: RedisLink,
    /// `troupe:<name>:`.
    prefix: String,
    memory: Duration,
    alone: Arc<LocalFailures>,
}

impl RedisFailures {
    pub fn new(redis: RedisLink, name: &str, memory: Duration) -> Self {
        Self { prefix: redis.key(&format!("{name}:")), redis, memory, alone: Arc::new(LocalFailures::new(memory)) }
    }
}

impl FailureLog for RedisFailures {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Option<Failures>> {
        Box::pin(async move {
            let mut commands = self.redis.commands();
            let read: redis::RedisResult<(Option<u32>, Option<i64>)> = redis::cmd("HMGET")
                .arg(format!("{}{name}", self.prefix))
                .arg("count")
                .arg("last_at")
                .query_async(&mut commands)
                .await;
            match self.redis.watch("sign-in failures", read) {
                Ok((Some(count), Some(last_at))) => Some(Failures { count, last_at }),
                Ok(_) => None,
                Err(_) => self.alone.get_now(name),
            }
        })
    }

    fn add<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let key = format!("{}{name}", self.prefix);
            let mut commands = self.redis.commands();
            let added: redis::RedisResult<()> = redis::pipe()
                .atomic()
                .cmd("HINCRBY")
                .arg(&key)
                .arg("count")
                .arg(1)
                .ignore()
                .cmd("HSET")
                .arg(&key)
                .arg("last_at")
                .arg(now_millis())
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(self.memory.as_millis() as i64)
                .ignore()
                .query_async(&mut commands)
                .await;
            if self.redis.watch("sign-in failures", added).is_err() {
                self.alone.add_now(name);
            }
        })
    }

    fn clear<'a>(&'a self, name: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let mut commands = self.redis.commands();
            let cleared: redis::RedisResult<i64> =
                redis::cmd("DEL").arg(format!("{}{name}", self.prefix)).query_async(&mut commands).await;
            let _ = self.redis.watch("sign-in failures", cleared);
            self.alone.clear_now(name);
        })
    }

    fn forget_idle(&self) {
        self.alone.forget_idle();
    }
}
