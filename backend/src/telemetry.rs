//! Logs (tracing, pretty or JSON) and metrics (Prometheus text at `/metrics`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, fmt::format::FmtSpan, prelude::*};

use crate::config::{Config, LogFormat};

/// Installs the global log subscriber. `LOG_LEVEL` takes a level or a full filter
/// (`info,sqlx=warn`); `LOG_SPANS=true` adds a line with each traced step's busy and idle time
/// when it ends (a chat turn's steps, for example: `LOG_LEVEL=troupe_server=info`). Call once,
/// from `main`.
pub fn init_tracing(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let spans = if config.log_spans { FmtSpan::CLOSE } else { FmtSpan::NONE };
    match config.log_format {
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(true).with_span_events(spans))
            .init(),
        LogFormat::Pretty => registry.with(fmt::layer().with_span_events(spans)).init(),
    }
}

/// Latency buckets in seconds, from sub-millisecond API calls to long model streams.
const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// The process-wide metrics recorder (installed on first use; several test servers in one
/// process share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("buckets are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}
