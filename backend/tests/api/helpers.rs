//! `spawn_app` starts the real server on port 0 with a fresh database: a temporary SQLite
//! file, or a new PostgreSQL database on the server at `TROUPE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). PostgreSQL tests never skip: without a
//! server they fail.

use std::collections::HashMap;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use troupe_server::{Application, Config, storage::Db};

/// Declares each listed `async fn name(engine: Engine)` as a test per storage engine:
/// `module::sqlite::name` and `module::postgres::name`.
#[macro_export]
macro_rules! engine_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name($crate::helpers::Engine::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name($crate::helpers::Engine::Postgres).await } )*
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub const PASSWORD: &str = "correct-horse-1";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The server's own database handle, to arrange and inspect state behind the API.
    pub db: Db,
    pub jwt_secret: String,
    pub database_url: String,
    _database: TestDatabase,
}

/// A registered user and its token.
pub struct TestUser {
    pub id: i64,
    pub username: String,
    pub token: String,
}

pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, &[]).await
}

/// Starts a server; `extra` adds or overrides environment variables of its config.
pub async fn spawn_app_with(engine: Engine, extra: &[(&str, &str)]) -> TestApp {
    let database = TestDatabase::create(engine).await;
    let jwt_secret = uuid::Uuid::new_v4().simple().to_string();
    let data_dir = database.dir.path().to_string_lossy().into_owned();
    let mut vars: HashMap<String, String> = [
        ("TROUPE_BIND", "127.0.0.1:0"),
        ("DATABASE_URL", database.url.as_str()),
        ("JWT_SECRET", jwt_secret.as_str()),
        ("DATA_DIR", data_dir.as_str()),
        ("STATIC_DIR", "/nonexistent"),
        // Limits are off unless a test is about them.
        ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
        ("RATE_LIMIT_MESSAGES_PER_MINUTE", "0"),
        ("MAX_CONCURRENT_STREAMS", "1000"),
        ("DEMO_DELAY_MS", "0"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = Config::from_lookup(|name| vars.get(name).cloned()).expect("test config is valid");
    let jwt_secret = vars.remove("JWT_SECRET").unwrap();
    let app = Application::build(config).await.expect("server starts");
    let address = format!("http://{}", app.address());
    let db = app.db().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        jwt_secret,
        database_url: database.url.clone(),
        _database: database,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_authed(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/register",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/login",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn me(&self, token: &str) -> Response {
        self.get_authed("/api/auth/me", token).await
    }

    pub async fn logout(&self, token: &str) -> Response {
        self.client
            .post(self.url("/api/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Registers a fresh user with a unique name.
    pub async fn new_user(&self) -> TestUser {
        let username = format!("user_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let resp = self.register(&username, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.unwrap();
        TestUser {
            id: body["user"]["id"].as_i64().unwrap(),
            username,
            token: body["token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn user_count(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.db.pool())
            .await
            .unwrap()
    }

    pub async fn set_disabled(&self, user_id: i64) {
        sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
            .bind(user_id)
            .execute(self.db.pool())
            .await
            .unwrap();
    }

    pub async fn delete_user(&self, user_id: i64) {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(self.db.pool())
            .await
            .unwrap();
    }
}

/// Asserts the contract's error shape and returns the error's code.
pub async fn error_code(resp: Response, status: StatusCode) -> (String, Option<String>) {
    assert_eq!(resp.status(), status);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "errors are JSON"
    );
    let body: Value = resp.json().await.unwrap();
    let error = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("error shape: {body}"));
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (
        error["code"].as_str().unwrap().to_owned(),
        error
            .get("field")
            .and_then(|f| f.as_str())
            .map(str::to_owned),
    )
}

/// A database of its own for one test, removed when the test ends.
pub struct TestDatabase {
    pub url: String,
    dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create(engine: Engine) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match engine {
            Engine::Sqlite => {
                let url = format!("sqlite://{}/troupe.db", dir.path().display());
                Self {
                    url,
                    dir,
                    postgres: None,
                }
            }
            Engine::Postgres => {
                let server = postgres_server_url();
                let name = format!("troupe_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL tests need a server at {server}: {e}"));
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .unwrap();
                let url = with_database(&server, &name);
                Self {
                    url,
                    dir,
                    postgres: Some((server, name)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&server).await {
                    let _ = conn
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

pub fn postgres_server_url() -> String {
    std::env::var("TROUPE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The same server URL pointing at another database.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
