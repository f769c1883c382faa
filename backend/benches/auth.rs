//! Benchmark (not a test): sign-in and authenticated-request latency, throughput and memory of
//! the real server binary. Run with `cargo bench -p troupe-server --bench auth`.
//! `BENCH_DATABASE_URL=postgres://…` measures on PostgreSQL instead of a fresh SQLite file.
//!
//! "Auth overhead" is `GET /api/auth/me` minus `GET /healthz`, both measured the same way from
//! the same client, so what remains is the server's authentication work (JWT check plus one
//! database round trip).

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, percentile, report};

const SEQUENTIAL_REQUESTS: usize = 5_000;
const LOGINS: usize = 100;
const CONCURRENCY: usize = 32;
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() {
    let data = tempfile::tempdir().unwrap();
    let database_url = support::database_url(data.path());
    let data_dir = data.path().to_string_lossy().into_owned();
    // Sign-in is measured 300 times from one address: the attempt limit would refuse most.
    let server = Server::start([
        ("DATABASE_URL", database_url.as_str()),
        ("DATA_DIR", data_dir.as_str()),
        ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
    ]);
    let base = server.base.clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("database: {}", database_url.split(':').next().unwrap());
    println!("idle RSS after start: {:.1} MB", server.memory_mb("VmRSS"));

    let client = reqwest::Client::new();
    let username = format!("bench_{}", std::process::id());
    let signed_up: Value = client
        .post(format!("{base}/api/auth/register"))
        .json(&json!({"username": username, "password": "bench-pass-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_up["token"].as_str().expect("registered").to_owned();

    let login = measure(LOGINS, || {
        client.post(format!("{base}/api/auth/login")).json(&json!({"username": username, "password": "bench-pass-1"}))
    })
    .await;
    report("POST /api/auth/login (argon2id)", &login);
    let failed_login = |name: String| {
        let (client, url) = (&client, format!("{base}/api/auth/login"));
        move || client.post(&url).json(&json!({"username": name, "password": "wrong-pass-1"}))
    };
    let wrong_password = measure_status(LOGINS, failed_login(username.clone())).await;
    report("login, wrong password (401)", &wrong_password);
    let unknown_user = measure_status(LOGINS, failed_login("no_such_user".into())).await;
    report("login, unknown user (401)", &unknown_user);

    println!("RSS after logins: {:.1} MB (peak {:.1} MB)", server.memory_mb("VmRSS"), server.memory_mb("VmHWM"));

    let health = measure(SEQUENTIAL_REQUESTS, || client.get(format!("{base}/healthz"))).await;
    report("GET /healthz (baseline)", &health);
    let me = measure(SEQUENTIAL_REQUESTS, || client.get(format!("{base}/api/auth/me")).bearer_auth(&token)).await;
    report("GET /api/auth/me", &me);
    println!(
        "auth overhead (me - healthz): p50 {:.3} ms, p99 {:.3} ms",
        percentile(&me, 0.50) - percentile(&health, 0.50),
        percentile(&me, 0.99) - percentile(&health, 0.99),
    );

    println!("RSS after sequential requests: {:.1} MB", server.memory_mb("VmRSS"));
    let throughput = throughput(&client, &format!("{base}/api/auth/me"), &token).await;
    println!("GET /api/auth/me with {CONCURRENCY} concurrent clients: {throughput:.0} req/s");
    println!("peak RSS: {:.1} MB", server.memory_mb("VmHWM"));
}

/// Sequential requests expected to succeed; latencies in milliseconds, sorted.
async fn measure(n: usize, request: impl Fn() -> reqwest::RequestBuilder) -> Vec<f64> {
    measure_expecting(n, request, true).await
}

/// Sequential requests expected to fail (4xx), for comparing refusal timings.
async fn measure_status(n: usize, request: impl Fn() -> reqwest::RequestBuilder) -> Vec<f64> {
    measure_expecting(n, request, false).await
}

async fn measure_expecting(n: usize, request: impl Fn() -> reqwest::RequestBuilder, success: bool) -> Vec<f64> {
    for _ in 0..n.min(100) {
        request().send().await.unwrap().bytes().await.unwrap();
    }
    let mut latencies = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let resp = request().send().await.unwrap();
        assert_eq!(resp.status().is_success(), success, "{}", resp.status());
        resp.bytes().await.unwrap();
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

async fn throughput(client: &reqwest::Client, url: &str, token: &str) -> f64 {
    let deadline = Instant::now() + THROUGHPUT_WINDOW;
    let workers = (0..CONCURRENCY).map(|_| {
        let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
        tokio::spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                let resp = client.get(&url).bearer_auth(&token).send().await.unwrap();
                assert!(resp.status().is_success());
                resp.bytes().await.unwrap();
                done += 1;
            }
            done
        })
    });
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    total as f64 / THROUGHPUT_WINDOW.as_secs_f64()
}
