//! Benchmark (not a test): the admin dashboard's heavy reads over a seeded database of
//! 10,000 users and 1,000,000 messages over 90 days. Run with
//! `cargo bench -p troupe-server --bench admin`; `BENCH_DATABASE_URL=postgres://…` (an empty
//! database) measures on PostgreSQL. `BENCH_USERS`, `BENCH_MESSAGES` and `BENCH_DAYS` scale it.

mod support;

use std::{
    io::Write,
    process::{Command, Stdio},
    time::Instant,
};

use serde_json::{Value, json};
use support::{Server, percentile};

const SAMPLES: usize = 30;
const CSV_SAMPLES: usize = 5;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let data = tempfile::tempdir().unwrap();
    let database_url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/admin-bench.db", data.path().display()));
    let (users, messages, days) =
        (env_or("BENCH_USERS", 10_000), env_or("BENCH_MESSAGES", 1_000_000), env_or("BENCH_DAYS", 90));
    println!("database: {}", database_url.split(':').next().unwrap());

    // BENCH_SKIP_SEED=1 reuses a database seeded by an earlier run (PostgreSQL takes minutes).
    let started = Instant::now();
    let skip_seed = std::env::var_os("BENCH_SKIP_SEED").is_some();
    let seed_args =
        ["seed", "--users", &users.to_string(), "--messages", &messages.to_string(), "--days", &days.to_string()]
            .map(str::to_owned);
    let args: Vec<String> = if skip_seed { vec!["migrate".into()] } else { seed_args.to_vec() };
    let seeded = troupe(&database_url, data.path()).args(&args).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    print!("{}", String::from_utf8_lossy(&seeded.stdout));
    println!("seeding took {:.1} s", started.elapsed().as_secs_f64());
    let mut create =
        troupe(&database_url, data.path()).args(["create-admin", "bench_admin"]).stdin(Stdio::piped()).spawn().unwrap();
    create.stdin.take().unwrap().write_all(b"bench-admin-1\n").unwrap();
    assert!(create.wait().unwrap().success());

    let data_dir = data.path().to_string_lossy().into_owned();
    let server = Server::start([
        ("DATABASE_URL", database_url.as_str()),
        ("DATA_DIR", data_dir.as_str()),
        ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
    ]);
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "bench_admin", "password": "bench-admin-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::Duration::days(days as i64 - 1)).format("%Y-%m-%d");
    let to = today.format("%Y-%m-%d");

    let cases = [
        (format!("/api/admin/stats/overview?from={from}&to={to}"), SAMPLES, "overview, 90 days"),
        ("/api/admin/users?sort=tokens&limit=50".to_owned(), SAMPLES, "user list by tokens, page 1"),
        ("/api/admin/users?sort=tokens&limit=50&page=100".to_owned(), SAMPLES, "user list by tokens, page 100"),
        (format!("/api/admin/stats/export.csv?from={from}&to={to}"), CSV_SAMPLES, "CSV export, 90 days"),
        // Text search through the full-text index: a word no message has, a word in one
        // seeded line of six (a sixth of all messages), and a Korean phrase.
        ("/api/admin/conversations?q=hello".to_owned(), SAMPLES, "conversation search `hello` (no match)"),
        ("/api/admin/conversations?q=lighthouse".to_owned(), SAMPLES, "conversation search `lighthouse` (1 in 6)"),
        ("/api/admin/conversations?q=기분이".to_owned(), SAMPLES, "conversation search `기분이` (1 in 6)"),
    ];
    for (path, samples, label) in cases {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..samples + 1 {
            let started = Instant::now();
            let resp = client.get(format!("{base}{path}")).bearer_auth(&token).send().await.unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
            size = resp.bytes().await.unwrap().len();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.remove(0); // the first warms caches
        times.sort_by(f64::total_cmp);
        println!(
            "{label}: n={samples} p50 {:.1} ms, p99 {:.1} ms ({} KB)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            size / 1024
        );
    }
}

/// The server binary on the benchmark's database.
fn troupe(database_url: &str, data_dir: &std::path::Path) -> Command {
    let mut cmd = support::troupe();
    cmd.env("DATABASE_URL", database_url).env("DATA_DIR", data_dir).env("RATE_LIMIT_AUTH_PER_MINUTE", "0");
    cmd
}
