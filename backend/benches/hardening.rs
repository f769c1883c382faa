//! Benchmark (not a test): what a hostile signed-in user can cost the server. Run with
//! `cargo bench -p troupe-server --bench hardening` (`BENCH_DATABASE_URL=postgres://…` for
//! PostgreSQL).
//!
//! Reports: the time of a `POST /api/characters` carrying 100,000 distinct tags (a 0.9 MB
//! body) and `/healthz` latency while two of them run; how far concurrent sends overshoot a
//! daily token quota; and how many `/metrics` lines 200 requests with invented methods add.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, fake_catalog, post_json, report};
use troupe_fake_upstream::{FakeUpstream, Script};

const QUOTA: i64 = 35;
const CONCURRENT_SENDS: usize = 10;

#[tokio::main]
async fn main() {
    let upstream = FakeUpstream::start().await;
    // Replies take a while, so that concurrent sends overlap.
    upstream.set_script(Script { first_token_delay: Duration::from_millis(300), ..Script::default() });
    let data = tempfile::tempdir().unwrap();
    let models = fake_catalog(data.path());
    let database_url = support::database_url(data.path());
    let data_dir = data.path().to_string_lossy().into_owned();
    let openai = upstream.openai_base_url();
    let quota = QUOTA.to_string();
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
        ("DEFAULT_DAILY_TOKEN_QUOTA", quota.as_str()),
        ("ADMIN_USERNAME", "bench_admin"),
        ("ADMIN_PASSWORD", "bench-password-1"),
        ("STARTER_CHARACTERS", "false"),
    ]);
    let base = server.base.clone();
    println!("database: {}", database_url.split(':').next().unwrap());
    let client = reqwest::Client::new();

    tag_flood(&client, &base).await;
    quota_overshoot(&client, &base).await;
    metrics_growth(&client, &base).await;
}

/// Two tag floods at once while `/healthz` is sampled every 10 ms.
async fn tag_flood(client: &reqwest::Client, base: &str) {
    let token = sign_up(client, base, "flooder").await;
    let tags: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
    let body = serde_json::to_vec(&json!({"name": "Flood", "tags": tags})).unwrap();
    println!("tag flood body: {:.2} MB", body.len() as f64 / 1e6);

    let flood = |body: Vec<u8>| {
        let (client, token, url) = (client.clone(), token.clone(), format!("{base}/api/characters"));
        tokio::spawn(async move {
            let started = Instant::now();
            let resp = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), started.elapsed().as_secs_f64() * 1000.0)
        })
    };
    let floods = [flood(body.clone()), flood(body)];
    let mut health = Vec::new();
    while floods.iter().any(|f| !f.is_finished()) {
        let started = Instant::now();
        client.get(format!("{base}/healthz")).send().await.unwrap();
        health.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for flood in floods {
        let (status, ms) = flood.await.unwrap();
        println!("tag flood request: HTTP {status} after {ms:.1} ms");
    }
    health.sort_by(f64::total_cmp);
    report("/healthz during two tag floods", &health);
}

/// `CONCURRENT_SENDS` sends at once from a fresh user with the daily quota `QUOTA`.
async fn quota_overshoot(client: &reqwest::Client, base: &str) {
    let token = sign_up(client, base, "spender").await;
    let character = post_json(client, format!("{base}/api/characters"), Some(&token), json!({"name": "Quota"})).await;
    let body = json!({"character_id": character["id"], "model": "fake"});
    let chat = post_json(client, format!("{base}/api/chats"), Some(&token), body).await;
    let url = format!("{base}/api/chats/{}/messages", chat["id"]);
    let sends: Vec<_> = (0..CONCURRENT_SENDS)
        .map(|i| {
            let (client, token, url) = (client.clone(), token.clone(), url.clone());
            tokio::spawn(async move {
                let resp = client.post(url).bearer_auth(token).json(&json!({"content": format!("hi {i}")})).send();
                resp.await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut admitted = 0;
    for send in sends {
        admitted += usize::from(send.await.unwrap() == 201);
    }
    let admin = login(client, base, "bench_admin", "bench-password-1").await;
    let users: Value = client
        .get(format!("{base}/api/admin/users?q=spender"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let used = users["items"][0]["tokens_today"].as_i64().unwrap();
    println!(
        "quota {QUOTA} tokens, {CONCURRENT_SENDS} concurrent sends: {admitted} admitted, {used} tokens used, \
         overshoot {} tokens",
        (used - QUOTA).max(0)
    );
}

/// Lines of `/metrics` before and after 200 requests with invented methods.
async fn metrics_growth(client: &reqwest::Client, base: &str) {
    let lines =
        || async { client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap().lines().count() };
    let before = lines().await;
    for i in 0..200 {
        let method = reqwest::Method::from_bytes(format!("ZZ{i:03}").as_bytes()).unwrap();
        client.request(method, format!("{base}/api/x")).send().await.unwrap();
    }
    println!("/metrics lines: {before} before, {} after 200 invented methods", lines().await);
}

async fn sign_up(client: &reqwest::Client, base: &str, name: &str) -> String {
    let body = json!({"username": name, "password": "bench-password-1"});
    post_json(client, format!("{base}/api/auth/register"), None, body).await["token"].as_str().unwrap().to_owned()
}

async fn login(client: &reqwest::Client, base: &str, name: &str, password: &str) -> String {
    let body = json!({"username": name, "password": password});
    post_json(client, format!("{base}/api/auth/login"), None, body).await["token"].as_str().unwrap().to_owned()
}
