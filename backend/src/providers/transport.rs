//! The HTTP side shared by the networked providers: one pooled client, timeouts, retries
//! before the first byte, and SSE framing (eventsource-stream) into provider events.

use std::time::{Duration, Instant};

use eventsource_stream::{Event, Eventsource};
use futures::{StreamExt, stream};
use rand::Rng;
use reqwest::{RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};

use super::{EventStream, ProviderError, StreamEvent};
use crate::config::{Providers as ProviderConfig, Upstream as UpstreamConfig};

/// At most this many tries of one request.
pub const MAX_TRIES: u32 = 3;
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// A provider asking for a longer pause than this is not worth waiting for in a chat.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The pooled client all providers share.
pub fn client(config: &ProviderConfig) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(config.upstream_connect_timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        // After a burst of streams, keep a few warm connections, not one per stream.
        .pool_max_idle_per_host(32)
        .user_agent(concat!("troupe/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// One provider's address and key.
pub struct Upstream {
    client: reqwest::Client,
    pub base_url: String,
    api_key: Option<SecretString>,
    timeout: Duration,
}

impl Upstream {
    pub fn new(client: reqwest::Client, config: &UpstreamConfig, timeout: Duration) -> Self {
        Self { client, base_url: config.base_url.clone(), api_key: config.api_key.clone(), timeout }
    }

    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_ref().map(ExposeSecret::expose_secret)
    }

    /// `Authorization: Bearer <key>` when a key is configured (local servers may need none).
    pub fn bearer(&self, request: RequestBuilder) -> RequestBuilder {
        match self.api_key() {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// POSTs `body` as JSON and waits for a successful answer, retrying connection errors,
    /// 429 and 5xx with exponential backoff and jitter (honouring `Retry-After`) while no byte
    /// of an answer has been accepted. The whole exchange, stream included, must end within
    /// the upstream timeout.
    pub async fn post_streaming(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        headers: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let deadline = Instant::now() + self.timeout;
        let url = format!("{}{path}", self.base_url);
        // Written once; a retry sends the same bytes.
        let body = serde_json::to_vec(body).map_err(|e| ProviderError::Malformed(e.to_string()))?;
        let mut tries = 0;
        loop {
            tries += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ProviderError::Timeout);
            }
            let request = headers(self.client.post(&url))
                .timeout(remaining)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            let failure = match request.send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => status_error(resp).await,
                Err(e) if e.is_timeout() => return Err(ProviderError::Timeout),
                Err(e) => ProviderError::Connect(e),
            };
            let retryable = match &failure {
                ProviderError::Connect(_) => true,
                ProviderError::Status { status, .. } => *status == 429 || *status >= 500,
                _ => false,
            };
            if !retryable || tries >= MAX_TRIES {
                return Err(failure);
            }
            let pause = pause_before_retry(tries, &failure);
            if Instant::now() + pause >= deadline || pause > MAX_RETRY_AFTER {
                return Err(failure);
            }
            tracing::info!(
                tries,
                kind = failure.kind(),
                pause_ms = pause.as_millis() as u64,
                "retrying model provider"
            );
            tokio::time::sleep(pause).await;
        }
    }
}

async fn status_error(resp: Response) -> ProviderError {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|secs| Duration::from_secs_f64(secs.max(0.0)));
    // Keep a little of the body for the log; never for the client.
    let detail: String = resp.text().await.unwrap_or_default().chars().take(300).collect();
    ProviderError::Status { status: status.as_u16(), retry_after, detail }
}

/// `Retry-After` when the provider sent one, else 200 ms · 2^(try-1) with ±50 % jitter.
fn pause_before_retry(tries: u32, failure: &ProviderError) -> Duration {
    if let ProviderError::Status { retry_after: Some(wait), .. } = failure {
        return *wait;
    }
    let base = BACKOFF_BASE * 2u32.pow(tries - 1);
    base.mul_f64(rand::rng().random_range(0.5..1.5))
}

/// What a wire format makes of one SSE event.
pub enum Step {
    Emit(Vec<StreamEvent>),
    Skip,
    /// The reply is complete; nothing after this matters.
    Finished,
    /// These, and then the reply is complete.
    Last(Vec<StreamEvent>),
}

/// A provider's SSE dialect.
pub trait WireFormat: Send + 'static {
    fn on_event(&mut self, event: &Event) -> Result<Step, ProviderError>;
}

/// Reads the answer as SSE and translates it with `format`. A stream that ends without the
/// format's end marker ends with `Dropped`.
pub fn sse_stream<F: WireFormat>(resp: Response, format: F) -> EventStream {
    let events = resp.bytes_stream().eventsource();
    stream::unfold(Some((events, format)), |state| async move {
        let (mut events, mut format) = state?;
        loop {
            let Some(next) = events.next().await else {
                return Some((vec![Err(ProviderError::Dropped)], None));
            };
            let event = match next {
                Ok(event) => event,
                Err(eventsource_stream::EventStreamError::Transport(e)) if e.is_timeout() => {
                    return Some((vec![Err(ProviderError::Timeout)], None));
                }
                Err(eventsource_stream::EventStreamError::Transport(_)) => {
                    return Some((vec![Err(ProviderError::Dropped)], None));
                }
                Err(e) => return Some((vec![Err(ProviderError::Malformed(e.to_string()))], None)),
            };
            match format.on_event(&event) {
                Ok(Step::Skip) => continue,
                Ok(Step::Emit(items)) => {
                    return Some((items.into_iter().map(Ok).collect(), Some((events, format))));
                }
                Ok(Step::Finished) => return None,
                Ok(Step::Last(items)) => return Some((items.into_iter().map(Ok).collect(), None)),
                Err(e) => return Some((vec![Err(e)], None)),
            }
        }
    })
    .flat_map(stream::iter)
    .boxed()
}

/// Parses an event's JSON data, or reports the stream as malformed.
pub fn json_data(event: &Event) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_str(&event.data)
        .map_err(|e| ProviderError::Malformed(format!("{e} in {:?}", truncate(&event.data))))
}

fn truncate(text: &str) -> String {
    text.chars().take(120).collect()
}

/// Reads a token count from JSON, accepting only non-negative integers.
pub fn tokens(value: &serde_json::Value) -> Option<i64> {
    value.as_i64().filter(|n| *n >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_retry_after_wins() {
        let connect_like = ProviderError::Dropped;
        for tries in 1..=3 {
            let pause = pause_before_retry(tries, &connect_like);
            let base = BACKOFF_BASE * 2u32.pow(tries - 1);
            assert!(pause >= base.mul_f64(0.5) && pause <= base.mul_f64(1.5), "{pause:?}");
        }
        let told =
            ProviderError::Status { status: 429, retry_after: Some(Duration::from_secs(2)), detail: String::new() };
        assert_eq!(pause_before_retry(1, &told), Duration::from_secs(2));
    }

    #[test]
    fn status_kinds() {
        let status = |s| ProviderError::Status { status: s, retry_after: None, detail: String::new() }.kind();
        assert_eq!(status(429), "rate_limited");
        assert_eq!(status(503), "server_error");
        assert_eq!(status(400), "client_error");
    }
}
