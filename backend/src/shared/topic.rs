//! Fan-out to every instance's connections. Alone, a topic is a tokio broadcast channel. With
//! Redis, a value published on any instance goes through a Redis channel and comes back to
//! every instance (this one too), which hands it to its local receivers: receivers are always
//! local, whichever instance published.
//!
//! What Redis loses while it is away stays lost: each use has its way to catch up (rooms replay
//! from the database, `/api/announcements` lists the active ones, sessions are re-checked every
//! minute). Meanwhile an instance's own values still reach its own connections.

use std::time::Duration;

use futures::StreamExt;
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::{broadcast, mpsc};

use super::RedisLink;

/// Values waiting to be published before new ones are dropped (Redis stuck).
const OUTBOX: usize = 4096;
/// The wait before subscribing again after the subscription broke.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

pub struct Topic<T> {
    local: broadcast::Sender<T>,
    outbox: Option<mpsc::Sender<T>>,
}

impl<T> Clone for Topic<T> {
    fn clone(&self) -> Self {
        Self { local: self.local.clone(), outbox: self.outbox.clone() }
    }
}

impl<T> Topic<T>
where
    T: Clone + Serialize + DeserializeOwned + Send + 'static,
{
    pub(super) fn new(name: &'static str, capacity: usize, redis: Option<&RedisLink>) -> Self {
        let local = broadcast::channel(capacity).0;
        let outbox = redis.map(|redis| {
            let channel = redis.key(name);
            tokio::spawn(relay_in(redis.clone(), channel.clone(), local.clone()));
            let (outbox, queued) = mpsc::channel(OUTBOX);
            tokio::spawn(relay_out(redis.clone(), channel, queued, local.clone()));
            outbox
        });
        Self { local, outbox }
    }

    /// Sends `value` to every receiver on every instance. Nobody listening is fine.
    pub fn publish(&self, value: T) {
        match &self.outbox {
            // Full only while Redis is stuck: this instance's receivers still get it.
            Some(outbox) => {
                if let Err(mpsc::error::TrySendError::Full(value) | mpsc::error::TrySendError::Closed(value)) =
                    outbox.try_send(value)
                {
                    let _ = self.local.send(value);
                }
            }
            None => {
                let _ = self.local.send(value);
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<T> {
        self.local.subscribe()
    }
}

/// Publishes queued values in order; a value Redis does not take goes to this instance's own
/// receivers at least.
async fn relay_out<T: Serialize>(
    redis: RedisLink,
    channel: String,
    mut queued: mpsc::Receiver<T>,
    local: broadcast::Sender<T>,
) {
    let mut commands = redis.commands();
    while let Some(value) = queued.recv().await {
        let json = serde_json::to_string(&value).expect("topic values serialise");
        let published: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(&channel).arg(json).query_async(&mut commands).await;
        if redis.watch("publish", published).is_err() {
            let _ = local.send(value);
        }
    }
}

/// Hands what the channel carries to this instance's receivers, subscribing again whenever the
/// subscription breaks.
async fn relay_in<T: DeserializeOwned>(redis: RedisLink, channel: String, local: broadcast::Sender<T>) {
    loop {
        if let Ok(mut pubsub) = redis.watch("subscribe", subscribe(&redis, &channel).await) {
            let mut messages = pubsub.on_message();
            while let Some(message) = messages.next().await {
                let Ok(payload) = message.get_payload::<String>() else { continue };
                match serde_json::from_str(&payload) {
                    Ok(value) => {
                        let _ = local.send(value);
                    }
                    Err(e) => tracing::warn!(channel, error = %e, "unreadable value on a Redis channel"),
                }
            }
            let ended = redis::RedisError::from((redis::ErrorKind::Io, "the subscription ended"));
            let _ = redis.watch::<()>("subscription", Err(ended));
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

async fn subscribe(redis: &RedisLink, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = redis.client().get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
