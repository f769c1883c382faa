//! Typed configuration, read once at start-up from the environment (after `.env`).
//!
//! Every variable is documented in `.env.example` and the README; the defaults here are the
//! one source of truth for them.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

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
    pub app_env: AppEnv,
    /// Folder for the SQLite file and the generated JWT secret.
    pub data_dir: PathBuf,
    pub jwt_secret: Option<SecretString>,
    pub jwt_ttl: Duration,
    pub cors_allowed_origins: Vec<String>,
    pub admin_bootstrap: Option<AdminBootstrap>,
    pub static_dir: PathBuf,
    pub log_level: String,
    pub log_format: LogFormat,
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
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let app_env = match var("APP_ENV").as_deref() {
            None | Some("development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => bail!("APP_ENV must be `development` or `production`, not `{other}`"),
        };
        let jwt_secret = var("JWT_SECRET").map(SecretString::from);
        if app_env == AppEnv::Production {
            let long_enough = jwt_secret
                .as_ref()
                .is_some_and(|s| s.expose_secret().len() >= MIN_JWT_SECRET_BYTES);
            if !long_enough {
                bail!(
                    "APP_ENV=production requires JWT_SECRET of at least {MIN_JWT_SECRET_BYTES} bytes \
                     (generate one with `openssl rand -hex 32`)"
                );
            }
        }
        let admin_bootstrap = match (var("ADMIN_USERNAME"), lookup("ADMIN_PASSWORD")) {
            (Some(username), Some(password)) => Some(AdminBootstrap {
                username,
                password: password.into(),
            }),
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
            app_env,
            data_dir: var("DATA_DIR").unwrap_or_else(|| "data".into()).into(),
            jwt_secret,
            jwt_ttl: Duration::from_secs(jwt_ttl_hours * 3600),
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            admin_bootstrap,
            static_dir: var("STATIC_DIR")
                .unwrap_or_else(|| "frontend/dist".into())
                .into(),
            log_level: var("LOG_LEVEL").unwrap_or_else(|| "info".into()),
            log_format: match var("LOG_FORMAT").as_deref() {
                None | Some("pretty") => LogFormat::Pretty,
                Some("json") => LogFormat::Json,
                Some(other) => bail!("LOG_FORMAT must be `pretty` or `json`, not `{other}`"),
            },
        })
    }

    /// Cookies get `Secure` in production, where Troupe is expected behind https.
    pub fn secure_cookies(&self) -> bool {
        self.app_env == AppEnv::Production
    }
}

fn parse_var<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .with_context(|| format!("{name}=`{raw}` is not valid")),
    }
}

/// `host:port`, or `:port` for every interface (as in Go and nginx).
fn parse_bind(raw: &str) -> anyhow::Result<SocketAddr> {
    let full = match raw.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => raw.replace("localhost", "127.0.0.1"),
    };
    full.parse()
        .with_context(|| format!("TROUPE_BIND=`{raw}` is not an address like 127.0.0.1:8080"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
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
        assert_eq!(
            config(&[("TROUPE_BIND", ":0")]).unwrap().bind,
            "0.0.0.0:0".parse().unwrap()
        );
        assert!(config(&[("TROUPE_BIND", "nonsense")]).is_err());
        assert!(config(&[("JWT_TTL_HOURS", "soon")]).is_err());
    }

    #[test]
    fn cors_origins_are_split_and_normalised() {
        let c = config(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://a.example/, http://b.example:3000",
        )])
        .unwrap();
        assert_eq!(
            c.cors_allowed_origins,
            ["https://a.example", "http://b.example:3000"]
        );
    }
}
