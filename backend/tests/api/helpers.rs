//! `spawn_app` starts the real server on port 0 with a fresh database: a temporary SQLite
//! file, or a new PostgreSQL database on the server at `TROUPE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). PostgreSQL tests never skip: without a
//! server they fail.

use std::collections::HashMap;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use troupe_fake_upstream::FakeUpstream;
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
    /// The fake model provider behind the `fake-openai`, `fake-anthropic` and `fake-dify` models.
    pub upstream: FakeUpstream,
    _database: TestDatabase,
}

/// The model catalogue of test servers: one model per provider, then `demo`.
pub const MODELS_TOML: &str = r#"
[[model]]
id = "fake-openai"
provider = "openai"
upstream_model = "gpt-fake"
context_window = 16000
max_output_tokens = 500
input_price_per_mtok = 1.0
output_price_per_mtok = 2.0

[[model]]
id = "fake-anthropic"
provider = "anthropic"
upstream_model = "claude-fake"
context_window = 16000
max_output_tokens = 500

[[model]]
id = "fake-dify"
provider = "dify"
context_window = 16000
max_output_tokens = 500
"#;

pub const OPENAI_KEY: &str = "sk-test-openai-key";
pub const ANTHROPIC_KEY: &str = "sk-ant-test-key";
pub const DIFY_KEY: &str = "app-test-dify-key";

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
    let upstream = FakeUpstream::start().await;
    let models_file = database.dir.path().join("models.toml");
    std::fs::write(&models_file, MODELS_TOML).unwrap();
    let (openai, anthropic, dify) =
        (upstream.openai_base_url(), upstream.anthropic_base_url(), upstream.dify_base_url());
    let models_file = models_file.to_string_lossy().into_owned();
    let jwt_secret = uuid::Uuid::new_v4().simple().to_string();
    let data_dir = database.dir.path().to_string_lossy().into_owned();
    let mut vars: HashMap<String, String> = [
        ("TROUPE_BIND", "127.0.0.1:0"),
        ("DATABASE_URL", database.url.as_str()),
        ("JWT_SECRET", jwt_secret.as_str()),
        ("DATA_DIR", data_dir.as_str()),
        ("STATIC_DIR", "/nonexistent"),
        // The first user stays an ordinary one and there are no starter characters, unless a
        // test is about them.
        ("FIRST_ACCOUNT_ADMIN", "false"),
        ("STARTER_CHARACTERS", "false"),
        // Limits are off unless a test is about them.
        ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
        ("RATE_LIMIT_MESSAGES_PER_MINUTE", "0"),
        ("RATE_LIMIT_WRITES_PER_MINUTE", "0"),
        ("MAX_CONCURRENT_STREAMS", "1000"),
        ("DEMO_DELAY_MS", "0"),
        ("MODELS_FILE", models_file.as_str()),
        ("OPENAI_BASE_URL", openai.as_str()),
        ("OPENAI_API_KEY", OPENAI_KEY),
        ("ANTHROPIC_BASE_URL", anthropic.as_str()),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        ("DIFY_BASE_URL", dify.as_str()),
        ("DIFY_API_KEY", DIFY_KEY),
        ("UPSTREAM_TIMEOUT_SECS", "2"),
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
        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        db,
        jwt_secret,
        database_url: database.url.clone(),
        upstream,
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
        self.client.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn register(&self, username: &str, password: &str) -> Response {
        self.post_json("/api/auth/register", &json!({"username": username, "password": password})).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json("/api/auth/login", &json!({"username": username, "password": password})).await
    }

    pub async fn me(&self, token: &str) -> Response {
        self.get_authed("/api/auth/me", token).await
    }

    pub async fn logout(&self, token: &str) -> Response {
        self.client.post(self.url("/api/auth/logout")).bearer_auth(token).send().await.unwrap()
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

    pub async fn post_authed(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn put_authed(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client.put(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn patch_authed(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client.patch(self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn delete_authed(&self, path: &str, token: &str) -> Response {
        self.client.delete(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    /// Creates a character and returns it.
    pub async fn create_character(&self, token: &str, body: Value) -> Value {
        let resp = self.post_authed("/api/characters", token, &body).await;
        assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
        resp.json().await.unwrap()
    }

    /// Creates a character named Aria and a chat with it on `model`; returns the chat id.
    pub async fn new_chat(&self, token: &str, model: &str) -> i64 {
        let character = self
            .create_character(
                token,
                json!({"name": "Aria", "system_prompt": "You are {{char}}, a bard.", "greeting": "Hi {{user}}!"}),
            )
            .await;
        let resp =
            self.post_authed("/api/chats", token, &json!({"character_id": character["id"], "model": model})).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    /// Sends a message and waits for the whole turn (JSON mode).
    pub async fn send(&self, token: &str, chat_id: i64, content: &str) -> Response {
        self.post_authed(&format!("/api/chats/{chat_id}/messages"), token, &json!({"content": content})).await
    }

    /// Sends a message asking for an SSE stream.
    pub async fn send_streaming(&self, token: &str, chat_id: i64, content: &str) -> Response {
        self.client
            .post(self.url(&format!("/api/chats/{chat_id}/messages")))
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .json(&json!({"content": content}))
            .send()
            .await
            .unwrap()
    }

    pub async fn messages(&self, token: &str, chat_id: i64) -> Vec<Value> {
        let resp = self.get_authed(&format!("/api/chats/{chat_id}/messages?limit=200"), token).await;
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
    }

    /// Makes `user_id` an admin behind the API.
    pub async fn make_admin(&self, user_id: i64) {
        sqlx::query("UPDATE users SET is_admin = 1 WHERE id = $1").bind(user_id).execute(self.db.pool()).await.unwrap();
    }

    /// Accounts, the built-in one (which owns the starter characters) aside.
    pub async fn user_count(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE builtin = 0").fetch_one(self.db.pool()).await.unwrap()
    }

    /// Tokens the ledger booked for the user today (UTC).
    pub async fn tokens_today(&self, user_id: i64) -> i64 {
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT), 0) FROM usage_user_days \
             WHERE user_id = $1 AND day = $2",
        )
        .bind(user_id)
        .bind(today)
        .fetch_one(self.db.pool())
        .await
        .unwrap()
    }

    pub async fn set_quota(&self, user_id: i64, quota: i64) {
        sqlx::query("UPDATE users SET daily_token_quota = $2 WHERE id = $1")
            .bind(user_id)
            .bind(quota)
            .execute(self.db.pool())
            .await
            .unwrap();
    }

    pub async fn set_disabled(&self, user_id: i64) {
        sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1").bind(user_id).execute(self.db.pool()).await.unwrap();
    }

    pub async fn delete_user(&self, user_id: i64) {
        sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(self.db.pool()).await.unwrap();
    }
}

/// The server binary as a process of its own, for what needs a real process: kill -9, a
/// restart on the same database, the backup command beside a running server.
pub struct ServerProcess {
    child: std::process::Child,
    pub address: String,
}

impl ServerProcess {
    /// Starts `troupe-server` on a free port against `database_url`, with the test catalogue
    /// pointed at `upstream`, limits off, and `extra` settings.
    pub fn start(database_url: &str, upstream: &FakeUpstream, dir: &std::path::Path, extra: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let models_file = dir.join("models.toml");
        std::fs::write(&models_file, MODELS_TOML).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_troupe-server"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs([
                ("TROUPE_BIND", "127.0.0.1:0"),
                ("DATABASE_URL", database_url),
                ("JWT_SECRET", "process-test-secret-process-test-secret"),
                ("DATA_DIR", &dir.to_string_lossy()),
                ("STATIC_DIR", "/nonexistent"),
                ("LOG_LEVEL", "warn,troupe_server::startup=info"),
                ("LOG_FORMAT", "json"),
                ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
                ("RATE_LIMIT_MESSAGES_PER_MINUTE", "0"),
                ("RATE_LIMIT_WRITES_PER_MINUTE", "0"),
                ("MAX_CONCURRENT_STREAMS", "1000"),
                ("FIRST_ACCOUNT_ADMIN", "false"),
                ("STARTER_CHARACTERS", "false"),
                ("MODELS_FILE", &models_file.to_string_lossy()),
                ("OPENAI_BASE_URL", &upstream.openai_base_url()),
                ("OPENAI_API_KEY", OPENAI_KEY),
            ])
            .envs(extra.iter().copied())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let address = loop {
            let line = lines.next().expect("the server logs its address").unwrap();
            if let Some(at) = line.find("listening on http://") {
                break line[at + "listening on ".len()..].split('"').next().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, address }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// SIGKILL: no shutdown, no flushing, as a crash or an OOM kill.
    pub fn kill_hard(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// For every user and UTC day, what the ledger recorded equals what caused it: the tokens of
/// that day's generations, and the number of user messages stored that day (no chat deleted)
/// plus the day's `/v1` completions and room replies.
pub async fn assert_ledger_matches_generations(db: &Db) {
    let ledger: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT user_id, day, CAST(SUM(messages) AS BIGINT), CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) \
         FROM usage_daily GROUP BY user_id, day",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let generations: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("SELECT user_id, prompt_tokens + completion_tokens, created_at, source FROM generations")
            .fetch_all(db.pool())
            .await
            .unwrap();
    // Copies (branches) and imports are stored unbooked.
    let sent: Vec<(i64, i64)> =
        sqlx::query_as("SELECT user_id, created_at FROM messages WHERE role = 'user' AND booked = 1")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let day = |at: i64| chrono::DateTime::from_timestamp_millis(at).unwrap().format("%Y-%m-%d").to_string();
    let mut expected: std::collections::BTreeMap<(i64, String), (i64, i64)> = Default::default();
    for (user, tokens, at, source) in generations {
        let entry = expected.entry((user, day(at))).or_default();
        entry.0 += i64::from(source != "chat");
        entry.1 += tokens;
    }
    for (user, at) in sent {
        expected.entry((user, day(at))).or_default().0 += 1;
    }
    expected.retain(|_, v| *v != (0, 0));
    let recorded: std::collections::BTreeMap<(i64, String), (i64, i64)> =
        ledger.into_iter().map(|(u, d, m, t)| ((u, d), (m, t))).filter(|(_, v)| *v != (0, 0)).collect();
    assert_eq!(recorded, expected);
}

/// Asserts the contract's error shape and returns the error's code.
pub async fn error_code(resp: Response, status: StatusCode) -> (String, Option<String>) {
    assert_eq!(resp.status(), status);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "errors are JSON");
    let body: Value = resp.json().await.unwrap();
    let error = body["error"].as_object().unwrap_or_else(|| panic!("error shape: {body}"));
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    (error["code"].as_str().unwrap().to_owned(), error.get("field").and_then(|f| f.as_str()).map(str::to_owned))
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
                Self { url, dir, postgres: None }
            }
            Engine::Postgres => {
                let server = postgres_server_url();
                let name = format!("troupe_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(&server)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL tests need a server at {server}: {e}"));
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
                let url = with_database(&server, &name);
                Self { url, dir, postgres: Some((server, name)) }
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
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&server).await {
                    let _ =
                        conn.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await;
                }
            });
        })
        .join();
    }
}

pub fn postgres_server_url() -> String {
    std::env::var("TROUPE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The same server URL pointing at another database.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server.split_once('?').map_or((server, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The events of an SSE body: `(event name, data as JSON)`.
pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            (!data.is_empty()).then(|| (name, serde_json::from_str(&data).unwrap()))
        })
        .collect()
}
