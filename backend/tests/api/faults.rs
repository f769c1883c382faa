//! Faults of the whole process: kill -9 under load and a restart, and a backup taken while
//! messages are being sent. What a client was told is stored must be there afterwards.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use troupe_fake_upstream::{FakeUpstream, Script};
use troupe_server::storage::Db;

use crate::helpers::{Engine, ServerProcess, TestDatabase, assert_ledger_matches_generations, sse_events};

/// Message ids the server acknowledged: a 201's messages, an SSE stream's `user_message` and
/// `done`.
type Acknowledged = Arc<Mutex<BTreeSet<i64>>>;

/// Signs up `users` users with a chat each; returns (token, chat id) pairs.
async fn sign_up(client: &reqwest::Client, server: &ServerProcess, users: usize) -> Vec<(String, i64)> {
    let post = |path: &str, token: Option<&str>, body: Value| {
        let request = client.post(server.url(path)).json(&body);
        let request = if let Some(token) = token { request.bearer_auth(token) } else { request };
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mut sessions = Vec::new();
    for i in 0..users {
        let body = json!({"username": format!("load_{i}"), "password": crate::helpers::PASSWORD});
        let token = post("/api/auth/register", None, body).await["token"].as_str().unwrap().to_owned();
        let character = post("/api/characters", Some(&token), json!({"name": "Load"})).await;
        let body = json!({"character_id": character["id"], "model": "fake-openai"});
        let chat = post("/api/chats", Some(&token), body).await;
        sessions.push((token, chat["id"].as_i64().unwrap()));
    }
    sessions
}

/// Sends messages in a loop, half as JSON and half as SSE, recording what was acknowledged,
/// until a request fails (the server is gone) or `stop` is set.
fn keep_sending(
    client: reqwest::Client,
    url: String,
    token: String,
    streaming: bool,
    acknowledged: Acknowledged,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            n += 1;
            let request = client.post(&url).bearer_auth(&token).json(&json!({"content": format!("message {n}")}));
            let request = if streaming { request.header("accept", "text/event-stream") } else { request };
            let Ok(resp) = request.send().await else { return };
            if !streaming {
                if resp.status() != StatusCode::CREATED {
                    return;
                }
                let Ok(turn) = resp.json::<Value>().await else { return };
                let mut acked = acknowledged.lock().unwrap();
                acked.insert(turn["user_message"]["id"].as_i64().unwrap());
                acked.insert(turn["assistant_message"]["id"].as_i64().unwrap());
                continue;
            }
            // Each event counts as soon as it arrives: the stream may be cut at any point.
            let mut body = resp.bytes_stream();
            let mut seen = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                let Some(end) = seen.rfind("\n\n") else { continue };
                for (name, data) in sse_events(&seen[..end + 2]) {
                    let id = match name.as_str() {
                        "user_message" => data["id"].as_i64(),
                        "done" => data["assistant_message"]["id"].as_i64(),
                        _ => None,
                    };
                    acknowledged.lock().unwrap().extend(id);
                }
                seen.drain(..end + 2);
            }
        }
    })
}

async fn stored_ids(db: &Db) -> BTreeSet<i64> {
    sqlx::query_scalar::<_, i64>("SELECT id FROM messages").fetch_all(db.pool()).await.unwrap().into_iter().collect()
}

/// A server process under a load of sends: half the users stream, half wait for JSON.
struct Load {
    database: TestDatabase,
    dir: tempfile::TempDir,
    upstream: FakeUpstream,
    server: ServerProcess,
    client: reqwest::Client,
    acknowledged: Acknowledged,
    stop: Arc<std::sync::atomic::AtomicBool>,
    senders: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    async fn start(engine: Engine, users: usize) -> Self {
        let database = TestDatabase::create(engine).await;
        let dir = tempfile::tempdir().unwrap();
        let upstream = FakeUpstream::start().await;
        upstream.set_script(Script { token_interval: Duration::from_millis(5), ..Script::default() });
        let server = ServerProcess::start(&database.url, &upstream, dir.path(), &[]);
        let client = reqwest::Client::new();
        let acknowledged: Acknowledged = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let senders = sign_up(&client, &server, users)
            .await
            .into_iter()
            .enumerate()
            .map(|(i, (token, chat))| {
                let url = server.url(&format!("/api/chats/{chat}/messages"));
                keep_sending(client.clone(), url, token, i % 2 == 1, acknowledged.clone(), stop.clone())
            })
            .collect();
        Self { database, dir, upstream, server, client, acknowledged, stop, senders }
    }

    fn acknowledged(&self) -> BTreeSet<i64> {
        self.acknowledged.lock().unwrap().clone()
    }

    /// Waits for every sender to end (they end when told to, or when the server is gone).
    async fn finish(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for sender in self.senders.drain(..) {
            sender.await.unwrap();
        }
    }
}

async fn kill_9_under_load_loses_nothing_acknowledged(engine: Engine) {
    let mut load = Load::start(engine, 8).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    load.server.kill_hard();
    load.finish().await;

    let acknowledged = load.acknowledged();
    assert!(acknowledged.len() > 20, "the load ran ({} acknowledged)", acknowledged.len());
    let restarted = ServerProcess::start(&load.database.url, &load.upstream, load.dir.path(), &[]);
    assert_eq!(load.client.get(restarted.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let db = Db::connect(&load.database.url).await.unwrap();
    let stored = stored_ids(&db).await;
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but gone after kill -9: {lost:?}");
    assert_ledger_matches_generations(&db).await;
}

async fn a_backup_under_load_holds_everything_acknowledged_before_it(engine: Engine) {
    let mut load = Load::start(engine, 6).await;
    tokio::time::sleep(Duration::from_millis(800)).await;

    let before_backup = load.acknowledged();
    let backup = load.dir.path().join("backup.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_troupe-server"))
        .args(["backup", &backup.to_string_lossy()])
        .env("DATABASE_URL", &load.database.url)
        .env("LOG_LEVEL", "warn")
        .output()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    load.finish().await;

    if engine == Engine::Postgres {
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"), "PostgreSQL is backed up with pg_dump");
        return;
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(before_backup.len() > 10, "the load ran ({} acknowledged)", before_backup.len());
    let restored_url = format!("sqlite://{}", backup.display());
    let restored = ServerProcess::start(&restored_url, &load.upstream, load.dir.path(), &[]);
    assert_eq!(load.client.get(restored.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let db = Db::connect(&restored_url).await.unwrap();
    let stored = stored_ids(&db).await;
    let missing: Vec<_> = before_backup.difference(&stored).collect();
    assert!(missing.is_empty(), "acknowledged before the backup began, missing from it: {missing:?}");
    assert_ledger_matches_generations(&db).await;
}

crate::engine_tests!(
    kill_9_under_load_loses_nothing_acknowledged,
    a_backup_under_load_holds_everything_acknowledged_before_it
);
