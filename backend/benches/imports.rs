//! Benchmark (not a test): bulk writes against everyone else. Run with
//! `cargo bench -p troupe-server --bench imports` (`BENCH_DATABASE_URL=postgres://…` for
//! PostgreSQL; `BENCH_SERVER_BIN` for an older build, before/after).
//!
//! Reports: one import of the largest chat file alone (19,000 messages, 15.7 MiB) and its
//! messages per second; then another user's JSON chat turns, one after another, alone and
//! while one account sends six of those imports at once, and while six accounts each send one:
//! the turns' p50/p99/max, and every answer's status (no 5xx is the goal).

mod support;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use support::{Server, fake_catalog, percentile, post_json};
use troupe_fake_upstream::FakeUpstream;

/// The largest import: 19,000 messages under the 16 MiB and 20,000-message caps.
const MESSAGES: usize = 19_000;
const MESSAGE_CHARS: usize = 800;
const CONCURRENT_IMPORTS: usize = 6;

#[tokio::main]
async fn main() {
    let upstream = FakeUpstream::start().await;
    let data = tempfile::tempdir().unwrap();
    let models = fake_catalog(data.path());
    let database_url = support::database_url(data.path());
    let data_dir = data.path().to_string_lossy().into_owned();
    let openai = upstream.openai_base_url();
    let server = Server::start([
        ("DATABASE_URL", database_url.as_str()),
        ("DATA_DIR", data_dir.as_str()),
        ("MODELS_FILE", models.as_str()),
        ("OPENAI_BASE_URL", openai.as_str()),
        ("OPENAI_API_KEY", "sk-bench"),
        ("RATE_LIMIT_MESSAGES_PER_MINUTE", "0"),
        ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
        ("RATE_LIMIT_WRITES_PER_MINUTE", "0"),
        ("MAX_CONCURRENT_STREAMS", "1000"),
        ("STARTER_CHARACTERS", "false"),
    ]);
    let base = server.base.clone();
    println!("database: {}", database_url.split(':').next().unwrap());
    let client = reqwest::Client::new();
    let file = chat_file();
    println!("import file: {MESSAGES} messages, {:.1} MiB", file.len() as f64 / (1024.0 * 1024.0));

    let importer = Account::sign_up(&client, &base, "importer").await;
    let started = Instant::now();
    let status = importer.import(&client, &base, file.clone()).await;
    let secs = started.elapsed().as_secs_f64();
    println!("one import alone: {status} in {secs:.2} s, {:.0} messages/s", MESSAGES as f64 / secs);

    let sender = Account::sign_up(&client, &base, "sender").await;
    let chat = sender.chat(&client, &base).await;
    let stop = Arc::new(AtomicBool::new(false));
    let turns = sender.keep_sending(&client, &base, chat, stop.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    turns.await.unwrap().report("another user's turns, no import running");

    let importers: Vec<Account> = vec![importer; CONCURRENT_IMPORTS];
    imports_against_turns(&client, &base, &sender, chat, &importers, &file, "one account sending 6 imports at once")
        .await;
    let mut accounts = Vec::new();
    for i in 0..CONCURRENT_IMPORTS {
        accounts.push(Account::sign_up(&client, &base, &format!("importer_{i}")).await);
    }
    imports_against_turns(&client, &base, &sender, chat, &accounts, &file, "six accounts importing one each").await;
}

/// `importers` each send `file` at once while `sender` keeps sending turns in `chat`.
async fn imports_against_turns(
    client: &reqwest::Client,
    base: &str,
    sender: &Account,
    chat: i64,
    importers: &[Account],
    file: &str,
    label: &str,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let turns = sender.keep_sending(client, base, chat, stop.clone());
    let started = Instant::now();
    let imports =
        futures_util::future::join_all(importers.iter().map(|account| account.import(client, base, file.to_owned())));
    let statuses = imports.await;
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let turns = turns.await.unwrap();
    let stored = statuses.iter().filter(|s| **s == 201).count() * MESSAGES;
    println!(
        "{label}: imports answered {} in {secs:.2} s ({:.0} messages/s stored)",
        counted(&statuses),
        stored as f64 / secs
    );
    turns.report(&format!("  another user's turns meanwhile ({label})"));
}

/// A chat file of `MESSAGES` SillyTavern lines.
fn chat_file() -> String {
    let header = "{\"user_name\":\"u\",\"character_name\":\"Aria\"}\n";
    let line = |i: usize| {
        format!(
            "{{\"name\":\"{}\",\"is_user\":{},\"send_date\":\"November 25, 2026 5:20pm\",\"mes\":\"{}\"}}\n",
            if i.is_multiple_of(2) { "u" } else { "Aria" },
            i.is_multiple_of(2),
            "w".repeat(MESSAGE_CHARS)
        )
    };
    header.to_owned() + &(0..MESSAGES).map(line).collect::<String>()
}

/// `{status: count}` of answers.
fn counted(statuses: &[u16]) -> String {
    let mut by_status = BTreeMap::new();
    for status in statuses {
        *by_status.entry(*status).or_insert(0) += 1;
    }
    by_status.iter().map(|(status, n)| format!("{n}x {status}")).collect::<Vec<_>>().join(", ")
}

#[derive(Clone)]
struct Account {
    token: String,
    character: i64,
}

impl Account {
    async fn sign_up(client: &reqwest::Client, base: &str, name: &str) -> Self {
        let body = json!({"username": name, "password": "bench-password-1"});
        let signed = post_json(client, format!("{base}/api/auth/register"), None, body).await;
        let token = signed["token"].as_str().unwrap().to_owned();
        let body = json!({"name": "Aria", "model": "fake"});
        let character = post_json(client, format!("{base}/api/characters"), Some(&token), body).await;
        Self { token, character: character["id"].as_i64().unwrap() }
    }

    async fn chat(&self, client: &reqwest::Client, base: &str) -> i64 {
        let body = json!({"character_id": self.character});
        post_json(client, format!("{base}/api/chats"), Some(&self.token), body).await["id"].as_i64().unwrap()
    }

    async fn import(&self, client: &reqwest::Client, base: &str, file: String) -> u16 {
        let url = format!("{base}/api/chats/import?character_id={}", self.character);
        client.post(url).bearer_auth(&self.token).body(file).send().await.unwrap().status().as_u16()
    }

    /// JSON turns in `chat`, one after another, until `stop` is set.
    fn keep_sending(
        &self,
        client: &reqwest::Client,
        base: &str,
        chat: i64,
        stop: Arc<AtomicBool>,
    ) -> tokio::task::JoinHandle<Turns> {
        let (client, token) = (client.clone(), self.token.clone());
        let url = format!("{base}/api/chats/{chat}/messages");
        tokio::spawn(async move {
            let mut turns = Turns::default();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let sent = client.post(&url).bearer_auth(&token).json(&json!({"content": "hello there"})).send().await;
                turns.latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                turns.statuses.push(sent.map_or(0, |resp| resp.status().as_u16()));
            }
            turns
        })
    }
}

#[derive(Default)]
struct Turns {
    latencies: Vec<f64>,
    statuses: Vec<u16>,
}

impl Turns {
    fn report(mut self, label: &str) {
        self.latencies.sort_by(f64::total_cmp);
        let max = self.latencies.last().copied().unwrap_or_default();
        println!(
            "{label}: n={} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; answers {}",
            self.latencies.len(),
            percentile(&self.latencies, 0.5),
            percentile(&self.latencies, 0.99),
            max,
            counted(&self.statuses)
        );
    }
}
