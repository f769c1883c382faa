//! Typed configuration, read once at start-up from the environment (after `.env`).
//!
//! Every variable is documented in `.env.example` and the README; the defaults here are the
//! one source of truth for them.

use std::{
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use troupe_types::rules;

use crate::{
    providers::ProviderKind,
    services::catalog::{self, ModelSpec},
};

/// Shortest JWT secret accepted in production.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything the server needs to know, parsed and checked. `Debug` never shows secrets.
#[derive(Clone, Debug)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    /// How long a request waits for a pooled database connection before 503 `busy`.
    pub database_wait: Duration,
    pub app_env: AppEnv,
    /// Folder for the SQLite file and the generated JWT secret.
    pub data_dir: PathBuf,
    pub jwt_secret: Option<SecretString>,
    pub jwt_ttl: Duration,
    pub cors_allowed_origins: Vec<String>,
    pub admin_bootstrap: Option<AdminBootstrap>,
    /// The first account registered on a server with none becomes its admin.
    pub first_account_admin: bool,
    /// Create the starter characters on a database that has no characters.
    pub starter_characters: bool,
    pub static_dir: PathBuf,
    pub log_level: String,
    pub log_format: LogFormat,
    /// Log each traced step's duration when it ends (`LOG_SPANS`), for profiling.
    pub log_spans: bool,
    /// Peers whose `X-Forwarded-For` is believed (a reverse proxy such as nginx).
    pub trusted_proxies: Vec<IpAddr>,
    pub limits: LimitSettings,
    pub providers: Providers,
    /// Redis shared by several instances; `None`: this process keeps its state alone.
    pub redis_url: Option<SecretString>,
    /// What this deployment's Redis keys and channels start with, so that several deployments
    /// (or test runs) can share one Redis.
    pub redis_prefix: String,
}

/// Per-user limits on chatting, and the sign-in attempt limit.
#[derive(Clone, Debug)]
pub struct LimitSettings {
    pub max_message_chars: usize,
    /// 0 disables.
    pub messages_per_minute: u32,
    /// Register and login attempts per client IP; 0 disables.
    pub auth_per_minute: u32,
    /// Creates and imports per user; 0 disables.
    pub writes_per_minute: u32,
    pub max_concurrent_streams: usize,
    /// Live connections (`/api/events`, `/api/admin/live`) per user.
    pub max_live_connections_per_user: usize,
    /// Rooms one user may be in at once (each with any number of connections).
    pub max_rooms_per_user: usize,
    /// For users without a quota of their own; `None` = unlimited.
    pub default_daily_token_quota: Option<i64>,
    /// What one account may store, in MB, unless an admin set its own; 0 = unlimited.
    pub storage_quota_mb: i64,
    /// Bulk writes (imports, branches) running at once over the whole server (each account
    /// runs one at a time).
    pub max_concurrent_bulk_writes: usize,
}

/// Model providers and the catalogue that offers their models.
#[derive(Clone, Debug)]
pub struct Providers {
    /// The entries of `MODELS_FILE` (or of `models.toml` when that exists), their keys read.
    pub models: Vec<ModelSpec>,
    pub default_model: Option<String>,
    pub openai: Option<Upstream>,
    pub anthropic: Option<Upstream>,
    pub anthropic_version: String,
    pub dify: Option<Upstream>,
    pub demo_delay: Duration,
    pub upstream_timeout: Duration,
    pub upstream_connect_timeout: Duration,
}

/// Where a provider lives and how to authenticate to it. The key never leaves the server.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub base_url: String,
    pub api_key: Option<SecretString>,
}

#[derive(Clone, Debug)]
pub struct AdminBootstrap {
    pub username: String,
    pub password: SecretString,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests can configure without touching the process.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let var = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let app_env = match var("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => bail!("APP_ENV must be `development` or `production`, not `{other}`"),
        };
        let jwt_secret = var("JWT_SECRET").map(SecretString::from);
        if let Some(secret) = &jwt_secret
            && secret.expose_secret().len() < MIN_JWT_SECRET_BYTES
        {
            bail!(
                "JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (generate one with `openssl rand -hex 32`)"
            );
        }
        let redis_url = var("REDIS_URL").filter(|url| !url.trim().is_empty()).map(SecretString::from);
        if redis_url.is_some() && jwt_secret.is_none() {
            bail!(
                "REDIS_URL (several instances) requires JWT_SECRET, the same on every instance: a generated \
                 secret would be this instance's alone (generate one with `openssl rand -hex 32`)"
            );
        }
        if app_env == AppEnv::Production && jwt_secret.is_none() {
            bail!(
                "APP_ENV=production requires JWT_SECRET of at least {MIN_JWT_SECRET_BYTES} bytes \
                 (generate one with `openssl rand -hex 32`)"
            );
        }
        let admin_bootstrap = match (var("ADMIN_USERNAME"), lookup("ADMIN_PASSWORD")) {
            (Some(username), Some(password)) => Some(AdminBootstrap { username, password: password.into() }),
            (Some(_), None) => bail!("ADMIN_USERNAME needs ADMIN_PASSWORD"),
            // ADMIN_PASSWORD alone serves `create-admin`; no bootstrap.
            (None, _) => None,
        };
        let jwt_ttl_hours: u64 = parse_var(&var, "JWT_TTL_HOURS", 24)?;
        if jwt_ttl_hours == 0 {
            bail!("JWT_TTL_HOURS must be at least 1");
        }
        Ok(Self {
            bind: parse_bind(&var("TROUPE_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()))?,
            database_url: var("DATABASE_URL").unwrap_or_else(|| "sqlite://data/troupe.db".into()),
            database_wait: Duration::from_millis(parse_var(&var, "DATABASE_WAIT_MS", 5_000)?),
            app_env,
            data_dir: var("DATA_DIR").unwrap_or_else(|| "data".into()).into(),
            jwt_secret,
            redis_url,
            redis_prefix: var("REDIS_PREFIX").unwrap_or_else(|| "troupe".into()),
            jwt_ttl: Duration::from_secs(jwt_ttl_hours * 3600),
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',').map(|o| o.trim().trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect()
                })
                .unwrap_or_default(),
            admin_bootstrap,
            first_account_admin: parse_var(&var, "FIRST_ACCOUNT_ADMIN", true)?,
            starter_characters: parse_var(&var, "STARTER_CHARACTERS", true)?,
            static_dir: var("STATIC_DIR").unwrap_or_else(|| "frontend/dist".into()).into(),
            log_level: var("LOG_LEVEL").unwrap_or_else(|| "info".into()),
            log_format: match var("LOG_FORMAT").as_deref() {
                None | Some("pretty") => LogFormat::Pretty,
                Some("json") => LogFormat::Json,
                Some(other) => bail!("LOG_FORMAT must be `pretty` or `json`, not `{other}`"),
            },
            log_spans: parse_var(&var, "LOG_SPANS", false)?,
            trusted_proxies: var("TRUSTED_PROXIES")
                .unwrap_or_else(|| "127.0.0.1,::1".into())
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.parse().with_context(|| format!("TRUSTED_PROXIES: `{p}` is not an IP address")))
                .collect::<anyhow::Result<_>>()?,
            limits: LimitSettings {
                max_message_chars: parse_var(&var, "MAX_MESSAGE_CHARS", rules::DEFAULT_MAX_MESSAGE_CHARS)?,
                messages_per_minute: parse_var(&var, "RATE_LIMIT_MESSAGES_PER_MINUTE", 10)?,
                auth_per_minute: parse_var(&var, "RATE_LIMIT_AUTH_PER_MINUTE", 5)?,
                writes_per_minute: parse_var(&var, "RATE_LIMIT_WRITES_PER_MINUTE", 60)?,
                max_concurrent_streams: parse_var(&var, "MAX_CONCURRENT_STREAMS", 2)?,
                max_live_connections_per_user: parse_var(&var, "MAX_LIVE_CONNECTIONS_PER_USER", 10)?,
                max_rooms_per_user: parse_var(&var, "MAX_ROOMS_PER_USER", 5)?,
                default_daily_token_quota: var("DEFAULT_DAILY_TOKEN_QUOTA")
                    .map(|q| q.parse().with_context(|| format!("DEFAULT_DAILY_TOKEN_QUOTA=`{q}` is not a number")))
                    .transpose()?,
                storage_quota_mb: parse_var(&var, "STORAGE_QUOTA_MB", 1024)?,
                max_concurrent_bulk_writes: parse_var(&var, "MAX_CONCURRENT_BULK_WRITES", 2)?,
            },
            providers: Providers {
                models: match var("MODELS_FILE")
                    .map(PathBuf::from)
                    .or_else(|| Some(PathBuf::from("models.toml")).filter(|p| p.is_file()))
                {
                    Some(path) => catalog::read_file(&path, var)?,
                    None => Vec::new(),
                },
                default_model: var("DEFAULT_MODEL"),
                openai: upstream(&var, "OPENAI", Some("https://api.openai.com/v1")),
                anthropic: upstream(&var, "ANTHROPIC", Some("https://api.anthropic.com")),
                anthropic_version: var("ANTHROPIC_VERSION").unwrap_or_else(|| "2023-06-01".into()),
                dify: upstream(&var, "DIFY", None),
                demo_delay: Duration::from_millis(parse_var(&var, "DEMO_DELAY_MS", 30)?),
                upstream_timeout: Duration::from_secs(parse_var(&var, "UPSTREAM_TIMEOUT_SECS", 120)?),
                upstream_connect_timeout: Duration::from_secs(parse_var(&var, "UPSTREAM_CONNECT_TIMEOUT_SECS", 10)?),
            },
        })
    }

    /// Cookies get `Secure` in production, where Troupe is expected behind https.
    pub fn secure_cookies(&self) -> bool {
        self.app_env == AppEnv::Production
    }
}

fn parse_var<T: std::str::FromStr>(var: &impl Fn(&str) -> Option<String>, name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.parse().with_context(|| format!("{name}=`{raw}` is not valid")),
    }
}

impl Providers {
    /// The global endpoint of `kind`, if configured (`demo` has none).
    pub fn upstream(&self, kind: ProviderKind) -> Option<&Upstream> {
        match kind {
            ProviderKind::Openai => self.openai.as_ref(),
            ProviderKind::Anthropic => self.anthropic.as_ref(),
            ProviderKind::Dify => self.dify.as_ref(),
            ProviderKind::Demo => None,
        }
    }
}

/// A provider is configured when its key or its base URL is set (local OpenAI-compatible
/// servers such as Ollama need no key).
fn upstream(var: &impl Fn(&str) -> Option<String>, prefix: &str, default_base: Option<&str>) -> Option<Upstream> {
    let api_key = var(&format!("{prefix}_API_KEY")).map(SecretString::from);
    let base_url = var(&format!("{prefix}_BASE_URL"));
    if api_key.is_none() && base_url.is_none() {
        return None;
    }
    let base_url = base_url.or(default_base.map(str::to_owned))?;
    Some(Upstream { base_url: base_url.trim_end_matches('/').to_owned(), api_key })
}

/// `host:port`, or `:port` for every interface (as in Go and nginx).
fn parse_bind(raw: &str) -> anyhow::Result<SocketAddr> {
    let full = match raw.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => raw.replace("localhost", "127.0.0.1"),
    };
    full.parse().with_context(|| format!("TROUPE_BIND=`{raw}` is not an address like 127.0.0.1:8080"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_need_nothing() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.database_url, "sqlite://data/troupe.db");
        assert_eq!(c.jwt_ttl, Duration::from_secs(24 * 3600));
        assert!(c.cors_allowed_origins.is_empty());
        assert!(c.jwt_secret.is_none());
        assert_eq!(c.limits.max_message_chars, 200);
        assert_eq!(c.limits.messages_per_minute, 10);
        assert_eq!(c.limits.auth_per_minute, 5);
        assert_eq!(c.limits.max_concurrent_streams, 2);
        assert_eq!(c.limits.writes_per_minute, 60);
        assert_eq!(c.limits.max_live_connections_per_user, 10);
        assert!(c.first_account_admin && c.starter_characters);
        assert_eq!(c.limits.default_daily_token_quota, None);
        assert!(c.providers.openai.is_none() && c.providers.anthropic.is_none() && c.providers.dify.is_none());
        assert_eq!(c.providers.demo_delay, Duration::from_millis(30));
        assert_eq!(c.providers.upstream_timeout, Duration::from_secs(120));
    }

    #[test]
    fn providers_need_a_key_or_a_base_url() {
        let c = config(&[("OPENAI_API_KEY", "sk-test"), ("DIFY_BASE_URL", "http://dify.local/v1/")]).unwrap();
        assert_eq!(c.providers.openai.unwrap().base_url, "https://api.openai.com/v1");
        let dify = c.providers.dify.unwrap();
        assert_eq!(dify.base_url, "http://dify.local/v1");
        assert!(dify.api_key.is_none());
        assert!(
            !format!("{:?}", config(&[("OPENAI_API_KEY", "sk-secret-value")]).unwrap()).contains("sk-secret-value")
        );
    }

    #[test]
    fn a_short_secret_is_refused_everywhere() {
        let err = config(&[("JWT_SECRET", "short")]).unwrap_err();
        assert!(err.to_string().contains("32"), "{err}");
        assert!(config(&[("JWT_SECRET", &"k".repeat(32))]).is_ok());
    }

    #[test]
    fn several_instances_need_one_shared_secret() {
        let err = config(&[("REDIS_URL", "redis://127.0.0.1:6379")]).unwrap_err();
        assert!(err.to_string().contains("JWT_SECRET"), "{err}");
        let shared = config(&[("REDIS_URL", "redis://127.0.0.1:6379"), ("JWT_SECRET", &"k".repeat(32))]).unwrap();
        assert_eq!(shared.redis_prefix, "troupe");
        assert!(config(&[]).unwrap().redis_url.is_none(), "one instance by default");
    }

    #[test]
    fn production_refuses_missing_or_short_secret() {
        let err = config(&[("APP_ENV", "production")]).unwrap_err();
        assert!(err.to_string().contains("JWT_SECRET"));
        assert!(config(&[("APP_ENV", "production"), ("JWT_SECRET", "short")]).is_err());
        let ok = config(&[("APP_ENV", "production"), ("JWT_SECRET", &"k".repeat(32))]).unwrap();
        assert!(ok.secure_cookies());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = config(&[
            ("JWT_SECRET", "supersecretvalue-supersecretvalue"),
            ("ADMIN_USERNAME", "root"),
            ("ADMIN_PASSWORD", "hunter2hunter2"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("supersecretvalue"));
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn bind_accepts_port_only_and_rejects_garbage() {
        assert_eq!(config(&[("TROUPE_BIND", ":0")]).unwrap().bind, "0.0.0.0:0".parse().unwrap());
        assert!(config(&[("TROUPE_BIND", "nonsense")]).is_err());
        assert!(config(&[("JWT_TTL_HOURS", "soon")]).is_err());
    }

    #[test]
    fn cors_origins_are_split_and_normalised() {
        let c = config(&[("CORS_ALLOWED_ORIGINS", "https://a.example/, http://b.example:3000")]).unwrap();
        assert_eq!(c.cors_allowed_origins, ["https://a.example", "http://b.example:3000"]);
    }
}
