//! The connection to Redis: one managed connection per instance (it reconnects by itself) for
//! commands, and a log line once per outage rather than once per failed command.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use redis::{
    Client, IntoConnectionInfo,
    aio::{ConnectionManager, ConnectionManagerConfig},
    io::tcp::TcpSettings,
};

/// A command that takes longer than this counts as failed: callers then fall back (see each
/// piece) instead of holding a request.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct RedisLink {
    client: Client,
    commands: ConnectionManager,
    prefix: Arc<str>,
    down: Arc<AtomicBool>,
}

impl RedisLink {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        // Every command is one small write waiting for its answer: Nagle's algorithm would only
        // hold them back.
        let info = url
            .into_connection_info()
            .context("REDIS_URL is not a Redis URL")?
            .set_tcp_settings(TcpSettings::default().set_nodelay(true));
        let client = Client::open(info).context("REDIS_URL is not a Redis URL")?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let commands = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .context("cannot reach Redis at REDIS_URL")?;
        tracing::info!("sharing state with other instances through Redis");
        Ok(Self { client, commands, prefix: prefix.into(), down: Arc::default() })
    }

    /// A handle on the managed connection (cheap to clone; commands pipeline over it).
    pub fn commands(&self) -> ConnectionManager {
        self.commands.clone()
    }

    /// `name` in this deployment's namespace: `troupe:name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Passes `result` through, noting an outage's start (logged once) or end.
    pub fn watch<T>(&self, what: &'static str, result: redis::RedisResult<T>) -> redis::RedisResult<T> {
        match &result {
            Ok(_) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis answers again");
                }
            }
            Err(error) => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::error!(what, %error, "Redis does not answer; each instance goes on alone where it safely can");
                }
            }
        }
        result
    }
}
