//! Who is present in a group (a room), over every instance: each instance reports its own
//! members, and the count is of the distinct members of all reports. Announcing who came and
//! went is claimed once per person over all instances, so a person connected through two
//! instances is announced once. With Redis, an instance's report expires unless it is renewed
//! (`REPORT_LIFE`), so a dead instance's members leave by themselves.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::future::BoxFuture;

use super::RedisLink;
use crate::clock::now_millis;

/// How long an instance's report counts unless renewed; reports are renewed every
/// `REPORT_EVERY` while the group has members here.
pub const REPORT_LIFE: Duration = Duration::from_secs(30);
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

pub trait Roster: Send + Sync {
    /// This instance's members of `group` now, in place of its last report.
    fn report<'a>(&'a self, group: &'a str, members: Vec<i64>) -> BoxFuture<'a, ()>;
    /// Distinct members of `group` over every instance.
    fn count<'a>(&'a self, group: &'a str) -> BoxFuture<'a, usize>;
    /// Claims announcing that `member` came (`present`) or went: `true` for the one caller that
    /// should say so. A member still present on another instance has not gone.
    fn claim<'a>(&'a self, group: &'a str, member: i64, present: bool) -> BoxFuture<'a, bool>;
}

/// This process's own.
#[derive(Default)]
pub struct LocalRoster {
    members: Mutex<HashMap<String, HashSet<i64>>>,
    announced: Mutex<HashMap<String, HashSet<i64>>>,
}

impl LocalRoster {
    fn count_now(&self, group: &str) -> usize {
        self.members.lock().expect("roster lock").get(group).map_or(0, HashSet::len)
    }

    fn claim_now(&self, group: &str, member: i64, present: bool) -> bool {
        let mut announced = self.announced.lock().expect("roster lock");
        let announced = announced.entry(group.to_owned()).or_default();
        if present { announced.insert(member) } else { announced.remove(&member) }
    }
}

impl Roster for LocalRoster {
    fn report<'a>(&'a self, group: &'a str, members: Vec<i64>) -> BoxFuture<'a, ()> {
        self.members.lock().expect("roster lock").insert(group.to_owned(), members.into_iter().collect());
        Box::pin(std::future::ready(()))
    }

    fn count<'a>(&'a self, group: &'a str) -> BoxFuture<'a, usize> {
        Box::pin(std::future::ready(self.count_now(group)))
    }

    fn claim<'a>(&'a self, group: &'a str, member: i64, present: bool) -> BoxFuture<'a, bool> {
        Box::pin(std::future::ready(self.claim_now(group, member, present)))
    }
}

/// Over every instance. While Redis does not answer, this instance's own view.
pub struct RedisRoster {
    redis: RedisLink,
    /// This instance, among the reports.
    instance: String,
    alone: Arc<LocalRoster>,
}

impl RedisRoster {
    pub fn new(redis: RedisLink) -> Self {
        Self { redis, instance: uuid::Uuid::new_v4().simple().to_string(), alone: Arc::default() }
    }

    fn reporters(&self, group: &str) -> String {
        self.redis.key(&format!("roster:{group}:reporters"))
    }

    fn report_key(&self, group: &str, instance: &str) -> String {
        self.redis.key(&format!("roster:{group}:report:{instance}"))
    }

    /// Every member of every live report.
    async fn everyone(&self, group: &str) -> redis::RedisResult<HashSet<i64>> {
        let mut commands = self.redis.commands();
        let since = now_millis() - REPORT_LIFE.as_millis() as i64;
        let reporters: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.reporters(group))
            .arg(since)
            .arg("+inf")
            .query_async(&mut commands)
            .await?;
        if reporters.is_empty() {
            return Ok(HashSet::new());
        }
        let keys: Vec<String> = reporters.iter().map(|instance| self.report_key(group, instance)).collect();
        redis::cmd("SUNION").arg(keys).query_async(&mut commands).await
    }
}

impl Roster for RedisRoster {
    fn report<'a>(&'a self, group: &'a str, members: Vec<i64>) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let key = self.report_key(group, &self.instance);
            let mut pipe = redis::pipe();
            pipe.atomic().del(&key).ignore();
            if !members.is_empty() {
                pipe.sadd(&key, &members).ignore().pexpire(&key, REPORT_LIFE.as_millis() as i64).ignore();
            }
            pipe.zadd(self.reporters(group), &self.instance, now_millis())
                .ignore()
                .pexpire(self.reporters(group), REPORT_LIFE.as_millis() as i64)
                .ignore();
            let mut commands = self.redis.commands();
            let reported: redis::RedisResult<()> = pipe.query_async(&mut commands).await;
            let _ = self.redis.watch("room roster", reported);
            self.alone.members.lock().expect("roster lock").insert(group.to_owned(), members.into_iter().collect());
        })
    }

    fn count<'a>(&'a self, group: &'a str) -> BoxFuture<'a, usize> {
        Box::pin(async move {
            match self.redis.watch("room roster", self.everyone(group).await) {
                Ok(everyone) => everyone.len(),
                Err(_) => self.alone.count_now(group),
            }
        })
    }

    fn claim<'a>(&'a self, group: &'a str, member: i64, present: bool) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let claimed = async {
                if !present && self.everyone(group).await?.contains(&member) {
                    return Ok(false);
                }
                let key = self.redis.key(&format!("roster:{group}:announced"));
                let mut commands = self.redis.commands();
                let changed: i64 = if present {
                    redis::cmd("SADD").arg(&key).arg(member).query_async(&mut commands).await?
                } else {
                    redis::cmd("SREM").arg(&key).arg(member).query_async(&mut commands).await?
                };
                Ok(changed == 1)
            };
            match self.redis.watch("room roster", claimed.await) {
                Ok(claimed) => claimed,
                Err(_) => self.alone.claim_now(group, member, present),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn counts_distinct_members_and_announces_each_once() {
        for shared in crate::shared::alone_and_over_redis().await {
            let roster = shared.roster();
            roster.report("room:1", vec![1, 2, 2]).await;
            assert_eq!(roster.count("room:1").await, 2);
            assert!(roster.claim("room:1", 1, true).await, "first to say 1 came");
            assert!(!roster.claim("room:1", 1, true).await, "said already");
            roster.report("room:1", vec![2]).await;
            assert!(roster.claim("room:1", 1, false).await, "gone now");
            assert_eq!(roster.count("room:1").await, 1);
        }
    }
}
