//! What every generation shares, wherever it is asked for (a chat turn, a `/v1` completion):
//! the limits that admit it, streaming the provider's reply, and what it is charged.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use troupe_types::{MessageLimits, MessageStatus, UsageSource};

use super::{catalog::ModelSpec, limits::message_limit};
use crate::{
    clock::{now_millis, secs_until_midnight},
    config::LimitSettings,
    domain::{TokenUsage, User, UserId},
    error::AppError,
    providers::{ChatRequest, ProviderError, ProviderSet, StreamEvent},
    shared::{Lease, RateLimit, Reservations, Shared, Slots},
    storage::{Db, stats},
};

/// What a generation tells whoever asked for it as it goes.
#[derive(Debug)]
pub enum Progress<T> {
    Delta(String),
    Finished(Result<T, AppError>),
}

/// The limits every generation is held to, one set per server: the message rate, the daily
/// quota (with reservations for the replies under way) and the concurrent streams.
pub struct GenerationLimits {
    db: Db,
    message_limit: Arc<dyn RateLimit<UserId>>,
    /// Replies streaming per user, over every instance.
    streams: Arc<dyn Slots>,
    /// The quota held for replies under way, over every instance.
    reservations: Arc<dyn Reservations>,
    settings: LimitSettings,
}

/// A generation's place under the limits: its stream slot and quota reservation, given back
/// when it is dropped (after its usage is recorded).
pub struct Admitted {
    _slot: Lease,
    _reservation: Option<Lease>,
}

impl GenerationLimits {
    pub fn new(db: Db, settings: LimitSettings, shared: &Shared) -> Arc<Self> {
        Arc::new(Self {
            db,
            message_limit: message_limit(shared, settings.messages_per_minute),
            streams: shared.slots("streams", settings.max_concurrent_streams),
            reservations: shared.reservations("reservations"),
            settings,
        })
    }

    /// 429 when `user` is over the message rate.
    pub async fn check_rate(&self, user: &User) -> Result<(), AppError> {
        self.message_limit.check(&user.id).await.map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
    }

    /// Admits a generation whose worst case is `worst_case` tokens, in the contract's order:
    /// the daily quota, then the concurrent streams (429 when either is spent).
    pub async fn admit(&self, user: &User, worst_case: i64) -> Result<Admitted, AppError> {
        let reservation = self.reserve_quota(user, worst_case).await?;
        let slot = self.streams.acquire(user.id).await.ok_or(AppError::TooManyStreams { max: self.streams.max() })?;
        Ok(Admitted { _slot: slot, _reservation: reservation })
    }

    /// Admits while the day's usage plus the user's generations under way stay under the quota,
    /// and holds the worst case until the usage is recorded (see `QuotaReservations`).
    /// Unlimited users reserve nothing.
    async fn reserve_quota(&self, user: &User, worst_case: i64) -> Result<Option<Lease>, AppError> {
        let Some(quota) = self.quota_of(user) else {
            return Ok(None);
        };
        let now = now_millis();
        let used = stats::tokens_on(&self.db, user.id, now).await?;
        match self.reservations.reserve(user.id, quota, used, worst_case).await {
            Some(reservation) => Ok(Some(reservation)),
            None => Err(AppError::QuotaExceeded { quota, retry_after_secs: secs_until_midnight(now) }),
        }
    }

    fn quota_of(&self, user: &User) -> Option<i64> {
        user.daily_token_quota.or(user.system_quota).or(self.settings.default_daily_token_quota)
    }

    /// The longest message a user may send, in characters.
    pub fn max_message_chars(&self) -> usize {
        self.settings.max_message_chars
    }

    /// The limits a message of `user` must fit (storage left to the caller, which reads it).
    pub fn limits_for(&self, user: &User) -> MessageLimits {
        let settings = &self.settings;
        MessageLimits {
            max_message_chars: settings.max_message_chars as i64,
            messages_per_minute: i64::from(settings.messages_per_minute),
            max_concurrent_streams: settings.max_concurrent_streams as i64,
            daily_token_quota: self.quota_of(user),
            storage_used_bytes: 0,
            storage_quota_bytes: None,
        }
    }

    /// Replies streaming right now, over all users and every instance.
    pub async fn active_streams(&self) -> usize {
        self.streams.open_everywhere().await
    }

    /// Lets the message limiter forget users who are back to full allowance.
    pub fn forget_idle(&self) {
        self.message_limit.forget_idle();
    }
}

/// How a reply stream ended.
pub enum Ending {
    Complete,
    /// Nobody listens any more (the client left).
    ClientGone,
    /// Stopped from outside (its chat was deleted).
    Cancelled,
    Failed(ProviderError),
}

/// A reply as it was streamed.
pub struct Streamed {
    pub text: String,
    /// The usage the provider reported, if it did.
    pub reported: Option<TokenUsage>,
    pub ending: Ending,
    pub latency: Duration,
    /// The provider's server-side conversation (Dify), when it started one.
    pub conversation_id: Option<String>,
}

/// Streams `request` from `model`'s provider, forwarding each piece to `events`, until it ends,
/// fails, `cancel` fires or nobody is listening. Records the upstream metrics.
#[tracing::instrument(skip_all, fields(model = model.id))]
pub async fn stream<T>(
    providers: &ProviderSet,
    model: &ModelSpec,
    request: ChatRequest,
    cancel: &CancellationToken,
    events: &mpsc::Sender<Progress<T>>,
) -> Streamed {
    let labels = [("provider", model.provider.as_str().to_owned()), ("model", model.id.clone())];
    metrics::gauge!("active_streams").increment(1.0);
    let started = Instant::now();
    let mut streamed = Streamed {
        text: String::new(),
        reported: None,
        ending: Ending::Complete,
        latency: Duration::ZERO,
        conversation_id: None,
    };
    streamed.ending = pull(providers, model, request, cancel, events, &labels, started, &mut streamed).await;
    streamed.latency = started.elapsed();
    metrics::gauge!("active_streams").decrement(1.0);
    metrics::histogram!("upstream_request_duration_seconds", &labels).record(streamed.latency.as_secs_f64());
    streamed
}

#[allow(clippy::too_many_arguments)]
async fn pull<T>(
    providers: &ProviderSet,
    model: &ModelSpec,
    request: ChatRequest,
    cancel: &CancellationToken,
    events: &mpsc::Sender<Progress<T>>,
    labels: &[(&'static str, String); 2],
    started: Instant,
    out: &mut Streamed,
) -> Ending {
    let started_stream = tokio::select! {
        started = providers.stream(model, request) => started,
        () = cancel.cancelled() => return Ending::Cancelled,
    };
    let mut stream = match started_stream {
        Ok(stream) => stream,
        Err(e) => return Ending::Failed(e),
    };
    let mut first_token = true;
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = events.closed() => return Ending::ClientGone,
            () = cancel.cancelled() => return Ending::Cancelled,
        };
        match next {
            None => return Ending::Complete,
            Some(Ok(StreamEvent::Delta(piece))) => {
                if std::mem::take(&mut first_token) {
                    metrics::histogram!("upstream_time_to_first_token_seconds", labels)
                        .record(started.elapsed().as_secs_f64());
                }
                out.text.push_str(&piece);
                if events.send(Progress::Delta(piece)).await.is_err() {
                    return Ending::ClientGone;
                }
            }
            Some(Ok(StreamEvent::Usage(usage))) => out.reported = Some(usage),
            Some(Ok(StreamEvent::ConversationId(id))) => out.conversation_id = Some(id),
            Some(Err(e)) => return Ending::Failed(e),
        }
    }
}

/// What a streamed reply is charged, and how it is stored.
pub struct Charge {
    pub status: MessageStatus,
    pub usage: TokenUsage,
    /// Where the usage came from; `None` when nothing is charged.
    pub source: Option<UsageSource>,
    pub failure: Option<ProviderError>,
}

impl Charge {
    /// The provider's usage when it reported one; otherwise `estimated` (our own count) —
    /// except after a provider failure, where only tokens the provider reported as billed are
    /// charged. A reply stopped early is charged like a whole one.
    pub fn settle(model: &ModelSpec, ending: Ending, reported: Option<TokenUsage>, estimated: TokenUsage) -> Self {
        let status = match ending {
            Ending::Failed(error) => {
                log_failure(model, &error);
                let source = reported.map(|_| UsageSource::Provider);
                return Self {
                    status: MessageStatus::Error,
                    usage: reported.unwrap_or_default(),
                    source,
                    failure: Some(error),
                };
            }
            Ending::Complete => MessageStatus::Complete,
            Ending::ClientGone | Ending::Cancelled => MessageStatus::Incomplete,
        };
        match reported {
            Some(usage) => Self { status, usage, source: Some(UsageSource::Provider), failure: None },
            None => Self { status, usage: estimated, source: Some(UsageSource::Estimated), failure: None },
        }
    }

    /// Counts the charged tokens in `/metrics`.
    pub fn record_metrics(&self, model: &ModelSpec) {
        let provider = model.provider.as_str();
        for (kind, tokens) in [("prompt", self.usage.prompt_tokens), ("completion", self.usage.completion_tokens)] {
            metrics::counter!("tokens_charged_total", "provider" => provider, "model" => model.id.clone(), "kind" => kind)
                .increment(tokens.max(0) as u64);
        }
    }

    /// The error the client is told after a provider failure.
    pub fn upstream_error(error: &ProviderError) -> AppError {
        AppError::Upstream { timeout: error.is_timeout(), message: public_message(error) }
    }
}

fn log_failure(model: &ModelSpec, error: &ProviderError) {
    let provider = model.provider.as_str();
    metrics::counter!("upstream_errors_total", "provider" => provider, "model" => model.id.clone(), "kind" => error.kind())
        .increment(1);
    match error {
        ProviderError::Status { status, detail, .. } => {
            tracing::warn!(provider, model = model.id, status, detail, "model provider failed")
        }
        other => tracing::warn!(provider, model = model.id, error = ?other, "model provider failed"),
    }
}

/// What the client is told: what kind of failure, never keys, URLs or bodies.
fn public_message(error: &ProviderError) -> String {
    match error {
        ProviderError::Timeout => "the model did not answer in time".into(),
        ProviderError::Status { status: 429, .. } => "the model provider is busy; try again shortly".into(),
        ProviderError::Status { status, .. } => format!("the model provider failed (HTTP {status})"),
        ProviderError::Connect(_) => "the model provider could not be reached".into(),
        ProviderError::Dropped => "the model's reply was cut off".into(),
        ProviderError::Malformed(_) => "the model provider sent a reply Troupe could not read".into(),
        ProviderError::Upstream(_) => "the model provider reported an error".into(),
    }
}
