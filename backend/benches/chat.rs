//! Benchmark (not a test): chat turns through the real server binary against the in-process
//! fake upstream with zero delay. Run with `cargo bench -p troupe-server --bench chat`.
//! `BENCH_DATABASE_URL=postgres://…` measures on PostgreSQL instead of a fresh SQLite file.
//!
//! Reports, at 1, 50 and 200 concurrent users: JSON-mode turns per second; SSE time to first
//! token through Troupe minus straight to the fake upstream (p50/p99); at 1 and 50, the time
//! to first token of regenerating the last reply beside sending a message; the OpenAI-compatible
//! `/v1/chat/completions` at 1 and 32 concurrent streams (time to first token over the fake
//! upstream's, p50/p99) and whole completions per second; then the server's RSS with 1,000
//! streams open at once; then what the largest lorebook adds to a turn (`lorebook_cost`).
//! Then one line of what a warm JSON turn costs: its SQL statements and allocations (a server
//! of its own that logs its statements, under valgrind's DHAT) and its server CPU at 32 users.
//! `BENCH_ONLY=v1,turns,per_turn,ttft,regenerate,memory,lorebook` runs only the parts named;
//! `BENCH_WINDOW_SECS` sets each measurement's length (5 s); the server's pid is printed first,
//! so a profiler can attach (`perf record -g -p PID`).

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use support::{Server, fake_catalog, percentile, post_json};
use troupe_fake_upstream::{FakeUpstream, Script};

const LEVELS: [usize; 3] = [1, 32, 200];
const OPEN_STREAMS: usize = 1000;
/// Concurrent `/v1` clients measured.
const V1_LEVELS: [usize; 2] = [1, 32];

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
        ("MAX_CONCURRENT_STREAMS", "100000"),
    ]);
    let base = server.base.clone();
    println!("database: {}; server pid {}", database_url.split(':').next().unwrap(), server.pid());

    let client = reqwest::Client::builder().pool_max_idle_per_host(2000).build().unwrap();
    let max_users = *LEVELS.iter().max().unwrap();
    let sessions = sign_up(&client, &base, max_users).await;
    println!("{max_users} users with a chat each; idle RSS {:.1} MB", server.memory_mb("VmRSS"));

    if runs("v1") {
        v1(&client, &base, &sessions, &upstream).await;
    }
    let mut cpu_per_turn_at_32 = None;
    if runs("turns") {
        for &users in &LEVELS {
            let cpu_before = server.cpu_seconds();
            let turns = json_turns_per_second(&client, &base, &sessions[..users]).await;
            let server_cpu_ms = (server.cpu_seconds() - cpu_before) * 1000.0 / (turns * window().as_secs_f64());
            println!(
                "JSON turns, {users:>3} concurrent users: {turns:>7.0} turns/s ({server_cpu_ms:.2} ms of server CPU per turn)"
            );
            if users == 32 {
                cpu_per_turn_at_32 = Some(server_cpu_ms * 1000.0);
            }
        }
    }
    if runs("per_turn") {
        let (statements, allocations) = per_turn_cost(&openai, &models).await;
        let allocations = allocations.map_or("allocations n/a (no valgrind)".into(), |a| format!("{a:.0} allocations"));
        let cpu = cpu_per_turn_at_32
            .map_or("CPU n/a (turns not run)".into(), |us| format!("{us:.0} us of server CPU at 32 users"));
        println!("per turn (JSON, warm): {statements:.1} SQL statements, {allocations}, {cpu}");
    }
    if runs("ttft") {
        for &users in &LEVELS {
            let through = ttft(users, || troupe_ttft(&client, &base, &sessions)).await;
            let direct = ttft(users, || direct_ttft(&client, &upstream)).await;
            report_overhead(&format!("SSE TTFT, {users:>3} concurrent streams"), &through, &direct);
        }
    }
    if runs("regenerate") {
        for users in [1, 32] {
            let (regenerate, send) = regenerate_and_send_ttft(&client, &base, &sessions[..users]).await;
            println!(
                "SSE TTFT, {users:>3} concurrent users: regenerate p50 {:.3} ms p99 {:.3} ms; send p50 {:.3} ms p99 {:.3} ms",
                percentile(&regenerate, 0.5),
                percentile(&regenerate, 0.99),
                percentile(&send, 0.5),
                percentile(&send, 0.99),
            );
        }
    }
    if runs("memory") {
        open_streams_memory(&client, &base, &sessions, &upstream, &server).await;
    }
    if runs("lorebook") {
        lorebook_cost(&client, &base, &sessions[0]).await;
    }
    println!("peak RSS: {:.1} MB", server.memory_mb("VmHWM"));
}

/// Whether `BENCH_ONLY` (a comma-separated list) names `part`, or is unset.
fn runs(part: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only.split(',').any(|p| p.trim() == part))
}

/// How long each measurement runs (`BENCH_WINDOW_SECS`, default 5).
fn window() -> Duration {
    let secs = std::env::var("BENCH_WINDOW_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    Duration::from_secs_f64(secs)
}

/// `/v1`: streaming time to first token over the fake's, and whole completions per second.
async fn v1(client: &reqwest::Client, base: &str, sessions: &[Session], upstream: &FakeUpstream) {
    let keys = api_keys(client, base, &sessions[..V1_LEVELS[1]]).await;
    for users in V1_LEVELS {
        let through = ttft(users, || v1_ttft(client, base, &keys)).await;
        let direct = ttft(users, || direct_ttft(client, upstream)).await;
        report_overhead(&format!("/v1 streaming TTFT, {users:>2} concurrent streams"), &through, &direct);
    }
    for users in V1_LEVELS {
        println!(
            "/v1 whole completions, {users:>2} concurrent clients: {:.0} requests/s",
            v1_per_second(client, base, &keys[..users]).await
        );
    }
}

/// Times to first token through Troupe and straight to the fake (sorted ms), and the difference.
fn report_overhead(label: &str, through: &[f64], direct: &[f64]) {
    let (p50, p99) = (|s: &[f64]| percentile(s, 0.5), |s: &[f64]| percentile(s, 0.99));
    println!(
        "{label}: through Troupe p50 {:.3} ms p99 {:.3} ms; direct p50 {:.3} ms p99 {:.3} ms; \
         overhead p50 {:.3} ms p99 {:.3} ms",
        p50(through),
        p99(through),
        p50(direct),
        p99(direct),
        p50(through) - p50(direct),
        p99(through) - p99(direct),
    );
}

struct Session {
    token: String,
    chat: i64,
}

impl Session {
    /// Sends `content` in this session's chat, as JSON or (`stream`) as SSE.
    async fn send(&self, client: &reqwest::Client, base: &str, content: &str, stream: bool) -> reqwest::Response {
        let accept = if stream { "text/event-stream" } else { "application/json" };
        client
            .post(format!("{base}/api/chats/{}/messages", self.chat))
            .bearer_auth(&self.token)
            .header("accept", accept)
            .json(&json!({ "content": content }))
            .send()
            .await
            .unwrap()
    }
}

async fn sign_up(client: &reqwest::Client, base: &str, n: usize) -> Vec<Session> {
    let mut sessions = Vec::new();
    for i in 0..n {
        let body = json!({"username": format!("bench_{i}"), "password": "bench-pass-1"});
        let auth = post_json(client, format!("{base}/api/auth/register"), None, body).await;
        let token = auth["token"].as_str().expect("registered").to_owned();
        let body = json!({"name": "Bench", "system_prompt": "You are {{char}}.", "greeting": "Hello!"});
        let character = post_json(client, format!("{base}/api/characters"), Some(&token), body).await;
        let body = json!({"character_id": character["id"]});
        let chat = post_json(client, format!("{base}/api/chats"), Some(&token), body).await;
        sessions.push(Session { token, chat: chat["id"].as_i64().unwrap() });
    }
    sessions
}

async fn json_turns_per_second(client: &reqwest::Client, base: &str, sessions: &[Session]) -> f64 {
    per_second(sessions.len(), |i| async move {
        let resp = sessions[i].send(client, base, "How are you today?", false).await;
        assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        resp.bytes().await.unwrap();
    })
    .await
}

/// Requests per second over the window, from `clients` workers each running `request(worker)`
/// in a loop.
async fn per_second<F, Fut>(clients: usize, request: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let deadline = Instant::now() + window();
    let request = &request;
    let workers = (0..clients).map(|i| async move {
        let mut done = 0u64;
        while Instant::now() < deadline {
            request(i).await;
            done += 1;
        }
        done
    });
    let total: u64 = futures_util::future::join_all(workers).await.into_iter().sum();
    total as f64 / window().as_secs_f64()
}

/// Runs `measure` from `concurrency` workers for the window; all samples in ms, sorted.
async fn ttft<F, Fut>(concurrency: usize, measure: F) -> Vec<f64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let deadline = Instant::now() + window();
    let workers = (0..concurrency).map(|_| async {
        let mut samples = Vec::new();
        while Instant::now() < deadline {
            samples.push(measure().await);
        }
        samples
    });
    let mut all: Vec<f64> = futures_util::future::join_all(workers).await.into_iter().flatten().collect();
    all.sort_by(f64::total_cmp);
    all
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Milliseconds from sending a message to its first `delta` event.
async fn troupe_ttft(client: &reqwest::Client, base: &str, sessions: &[Session]) -> f64 {
    let s = &sessions[NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % sessions.len()];
    let started = Instant::now();
    let resp = s.send(client, base, "Stream to me", true).await;
    first_match(resp, "event: delta", started).await
}

/// Each session, in its own chat, sends a message then regenerates the reply, over and over for
/// the window: the milliseconds to the first `delta` of each (regenerations, sends), sorted.
async fn regenerate_and_send_ttft(client: &reqwest::Client, base: &str, sessions: &[Session]) -> (Vec<f64>, Vec<f64>) {
    let deadline = Instant::now() + window();
    let workers = sessions.iter().map(|s| async move {
        let (mut regenerate, mut send) = (Vec::new(), Vec::new());
        while Instant::now() < deadline {
            let started = Instant::now();
            send.push(first_match(s.send(client, base, "Stream to me", true).await, "event: delta", started).await);
            let last = client
                .get(format!("{base}/api/chats/{}/messages?limit=1", s.chat))
                .bearer_auth(&s.token)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap();
            let reply = last["items"][0]["id"].as_i64().expect("the reply is stored");
            let started = Instant::now();
            let resp = client
                .post(format!("{base}/api/chats/{}/messages/{reply}/regenerate", s.chat))
                .bearer_auth(&s.token)
                .header("accept", "text/event-stream")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            regenerate.push(first_match(resp, "event: delta", started).await);
        }
        (regenerate, send)
    });
    let (regenerate, send): (Vec<Vec<f64>>, Vec<Vec<f64>>) =
        futures_util::future::join_all(workers).await.into_iter().unzip();
    let sorted = |samples: Vec<Vec<f64>>| {
        let mut all: Vec<f64> = samples.into_iter().flatten().collect();
        all.sort_by(f64::total_cmp);
        all
    };
    (sorted(regenerate), sorted(send))
}

/// An API key for each session's user.
async fn api_keys(client: &reqwest::Client, base: &str, sessions: &[Session]) -> Vec<String> {
    let mut keys = Vec::new();
    for s in sessions {
        let created = post_json(client, format!("{base}/api/keys"), Some(&s.token), json!({"name": "bench"})).await;
        keys.push(created["secret"].as_str().expect("a key").to_owned());
    }
    keys
}

fn completion(stream: bool) -> serde_json::Value {
    json!({"model": "fake", "stream": stream, "messages": [{"role": "user", "content": "Stream to me"}]})
}

/// Milliseconds from asking `/v1` for a streamed completion to its first content chunk.
async fn v1_ttft(client: &reqwest::Client, base: &str, keys: &[String]) -> f64 {
    let key = &keys[NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % keys.len()];
    let started = Instant::now();
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&completion(true))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    first_match(resp, "\"content\":\"Hello\"", started).await
}

/// Whole `/v1` completions per second, one client per key, for the window.
async fn v1_per_second(client: &reqwest::Client, base: &str, keys: &[String]) -> f64 {
    per_second(keys.len(), |i| async move {
        let resp = client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&keys[i])
            .json(&completion(false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        resp.bytes().await.unwrap();
    })
    .await
}

/// Milliseconds from the same request straight to the fake to its first content chunk.
async fn direct_ttft(client: &reqwest::Client, upstream: &FakeUpstream) -> f64 {
    let started = Instant::now();
    let resp = client
        .post(format!("{}/chat/completions", upstream.openai_base_url()))
        .json(&json!({"model": "fake", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "Stream to me"}]}))
        .send()
        .await
        .unwrap();
    first_match(resp, "\"content\":\"Hello\"", started).await
}

/// Reads until `needle` appears, notes the time, then drains the rest.
async fn first_match(resp: reqwest::Response, needle: &str, started: Instant) -> f64 {
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    let mut at = None;
    while let Some(chunk) = body.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if at.is_none() && seen.contains(needle) {
            at = Some(started.elapsed());
        }
    }
    at.expect("the stream carried a token").as_secs_f64() * 1000.0
}

async fn open_streams_memory(
    client: &reqwest::Client,
    base: &str,
    sessions: &[Session],
    upstream: &FakeUpstream,
    server: &Server,
) {
    // Slow replies keep every stream open while memory is read.
    let tokens = (0..20).map(|i| format!(" t{i}")).collect();
    upstream.set_script(Script { tokens, token_interval: Duration::from_millis(500), ..Script::default() });
    let before = server.memory_mb("VmRSS");
    let streams = (0..OPEN_STREAMS).map(|i| {
        let s = &sessions[i % sessions.len()];
        async move {
            let resp = s.send(client, base, "A long one", true).await;
            resp.bytes().await.unwrap().len()
        }
    });
    let watcher = async {
        let mut peak: f64 = 0.0;
        for _ in 0..16 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            peak = peak.max(server.memory_mb("VmRSS"));
        }
        peak
    };
    let (sizes, peak) = tokio::join!(futures_util::future::join_all(streams), watcher);
    assert!(sizes.iter().all(|n| *n > 0));
    println!("{OPEN_STREAMS} open SSE streams: server RSS before {before:.1} MB, while open {peak:.1} MB");
    upstream.set_script(Script::default());
}

/// Lorebook entries of the benchmark's book: as many as a book may hold, filling the largest
/// body a book may be saved with (16 MB).
const LORE_ENTRIES: usize = 2_000;
const LORE_ENTRY_CHARS: usize = 7_800;
/// Turns timed in each case (`BENCH_LORE_TURNS`, for a slow build measured before and after).
fn lore_turns() -> usize {
    std::env::var("BENCH_LORE_TURNS").ok().and_then(|n| n.parse().ok()).unwrap_or(200)
}

/// What the largest lorebook adds to a turn: a book of 2,000 entries (half of them constant,
/// half with keys of their own; a token budget of 4,096) attached to a chat, against the same chat without it; turns
/// whose message names no key, and turns whose message names some. Also how long saving the
/// book takes (its entries are counted then, once) and the first turn after (the book read and
/// its keys built into a matcher).
async fn lorebook_cost(client: &reqwest::Client, base: &str, session: &Session) {
    let entries: Vec<serde_json::Value> = (0..LORE_ENTRIES)
        .map(|i| {
            let constant = i % 2 == 0;
            let content: String =
                format!("Entry {i}: ").chars().chain("lore ".chars().cycle()).take(LORE_ENTRY_CHARS).collect();
            json!({"keys": [format!("keyword{i}"), format!("place {i}")], "content": content, "enabled": true,
                   "constant": constant, "insertion_order": i, "priority": i % 7})
        })
        .collect();
    // A budget, as books usually have: within it, the most wanted entries go in.
    let book = json!({"name": "Largest", "token_budget": 4096, "entries": entries});
    let started = Instant::now();
    let saved = post_json(client, format!("{base}/api/lorebooks"), Some(&session.token), book).await;
    let book_id = saved["id"].as_i64().expect("the book is saved");
    println!(
        "lorebook of {LORE_ENTRIES} entries of {LORE_ENTRY_CHARS} characters: saved in {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let character =
        post_json(client, format!("{base}/api/characters"), Some(&session.token), json!({"name": "Bench"})).await;
    let chat = |lorebooks: Vec<i64>| {
        let character = character["id"].clone();
        async move {
            let chat = post_json(
                client,
                format!("{base}/api/chats"),
                Some(&session.token),
                json!({"character_id": character}),
            )
            .await;
            let id = chat["id"].as_i64().unwrap();
            let patch = client.patch(format!("{base}/api/chats/{id}")).bearer_auth(&session.token);
            assert!(patch.json(&json!({"lorebook_ids": lorebooks})).send().await.unwrap().status().is_success());
            Session { token: session.token.clone(), chat: id }
        }
    };
    let (plain, with_book) = (chat(vec![]).await, chat(vec![book_id]).await);
    let started = Instant::now();
    with_book.send(client, base, "hello", false).await.bytes().await.unwrap();
    println!(
        "lorebook: first turn after saving {:.1} ms (the book read, its keys built into one matcher)",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let time_turns = |s: &Session, content: &'static str| {
        let s = Session { token: s.token.clone(), chat: s.chat };
        async move {
            let mut samples = Vec::with_capacity(lore_turns());
            for _ in 0..lore_turns() {
                let started = Instant::now();
                let resp = s.send(client, base, content, false).await;
                assert_eq!(resp.status(), 201);
                resp.bytes().await.unwrap();
                samples.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            samples.sort_by(f64::total_cmp);
            samples
        }
    };
    let without = time_turns(&plain, "Tell me about keyword9 and place 1999").await;
    for (label, content) in
        [("keys missed", "Tell me about the weather"), ("keys hit", "Tell me about keyword9 and place 1999")]
    {
        let with = time_turns(&with_book, content).await;
        println!(
            "lorebook of {LORE_ENTRIES} entries, {label}: turn p50 {:.3} ms p99 {:.3} ms; without the book p50 {:.3} ms p99 {:.3} ms; \
             added p50 {:.3} ms",
            percentile(&with, 0.5),
            percentile(&with, 0.99),
            percentile(&without, 0.5),
            percentile(&without, 0.99),
            percentile(&with, 0.5) - percentile(&without, 0.5),
        );
    }
}

/// Turns the two counting runs of `per_turn_cost` differ by.
const COST_TURNS: usize = 40;

/// SQL statements and allocations of one warm JSON turn (allocations `None` without
/// valgrind): from servers of their own, one running 5 turns and one 5 + `COST_TURNS` after
/// the same warm-up, so that start-up and the first turns cancel out.
async fn per_turn_cost(openai: &str, models: &str) -> (f64, Option<f64>) {
    let valgrind = std::process::Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success());
    let wrapper: &[&str] = if valgrind { &["valgrind", "--tool=dhat", "--dhat-out-file=/dev/null"] } else { &[] };
    let mut runs = Vec::new();
    for turns in [5, 5 + COST_TURNS] {
        let data = tempfile::tempdir().unwrap();
        let database_url = support::database_url(data.path());
        let data_dir = data.path().to_string_lossy().into_owned();
        let server = Server::counting(
            [
                ("DATABASE_URL", database_url.as_str()),
                ("DATA_DIR", data_dir.as_str()),
                ("MODELS_FILE", models),
                ("OPENAI_BASE_URL", openai),
                ("OPENAI_API_KEY", "sk-bench"),
                ("RATE_LIMIT_MESSAGES_PER_MINUTE", "0"),
                ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
            ],
            wrapper,
        );
        let client = reqwest::Client::new();
        let name = format!("cost_{}", uuid_like());
        let body = json!({"username": name, "password": "bench-pass-1"});
        let token = post_json(&client, format!("{}/api/auth/register", server.base), None, body).await["token"]
            .as_str()
            .expect("registered")
            .to_owned();
        let body = json!({"name": "Bench", "system_prompt": "You are {{char}}.", "greeting": "Hello!"});
        let character = post_json(&client, format!("{}/api/characters", server.base), Some(&token), body).await;
        let body = json!({"character_id": character["id"]});
        let chat = post_json(&client, format!("{}/api/chats", server.base), Some(&token), body).await;
        let session = Session { token, chat: chat["id"].as_i64().unwrap() };
        for _ in 0..3 {
            session.send(&client, &server.base, "Warm up", false).await.bytes().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = server.statements();
        for _ in 0..turns {
            let resp = session.send(&client, &server.base, "How are you today?", false).await;
            assert_eq!(resp.status(), 201);
            resp.bytes().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let statements = server.statements() - before;
        let report = server.stop();
        runs.push((turns, statements, valgrind.then(|| dhat_blocks(&report))));
    }
    let ((few, _, few_blocks), (many, statements, many_blocks)) = (runs[0], runs[1]);
    let allocations = few_blocks.zip(many_blocks).map(|(a, b)| (b - a) as f64 / (many - few) as f64);
    (statements as f64 / many as f64, allocations)
}

/// The allocations DHAT counted: its `Total: … bytes in N blocks` line.
fn dhat_blocks(report: &str) -> u64 {
    let line = report.lines().find(|l| l.contains("Total:")).unwrap_or_else(|| panic!("no DHAT totals in {report}"));
    let blocks = line.split("bytes in").nth(1).expect("DHAT's totals name the blocks");
    blocks.replace(',', "").split_whitespace().next().and_then(|n| n.parse().ok()).expect("a count of blocks")
}

/// A name no other run of the benchmark used.
fn uuid_like() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}
