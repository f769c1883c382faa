//! Benchmark (not a test): one instance alone, one instance with Redis, and three instances
//! sharing state through Redis, on PostgreSQL, under the same client load against the
//! in-process fake upstream with zero delay. Run with
//! `cargo bench -p troupe-server --bench instances`.
//!
//! `BENCH_DATABASE_URL` names a PostgreSQL server (default
//! `postgres://postgres@127.0.0.1:5432/postgres`): each setup gets a database of its own, dropped
//! afterwards. `BENCH_REDIS_URL` (default `redis://127.0.0.1:6379`) is the Redis the instances
//! share, under a prefix of each run's own, removed afterwards.
//!
//! For each setup, at 1 and 50 concurrent users: JSON-mode turns per second and their latency;
//! the CPU a turn costs each instance (CPU time from /proc over the turns it served), Redis,
//! this process (clients and the fake upstream) and the rest of the machine (PostgreSQL and
//! whatever else runs); Redis commands per turn (`INFO commandstats`, which also counts the
//! commands scripts run); then SSE time to first token. A client's requests take the
//! instances in turn. Last, what Redis costs one instance per turn: the setups' difference, then
//! one client alternating turns between an instance without Redis and one with it (paired, so
//! that other work on the machine weighs on both alike). Clients, instances, PostgreSQL and
//! Redis all share this machine's cores; "rest of the machine" shows how much other work ran.

mod support;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};
use support::{Server, cpu_seconds_of, cpu_times_of, fake_catalog, percentile, post_json, report};
use troupe_fake_upstream::FakeUpstream;

const WINDOW: Duration = Duration::from_secs(5);
/// Unmeasured turns first, so that pools are full and Redis has the scripts.
const WARM_UP: Duration = Duration::from_secs(1);
const USERS: usize = 50;
const LEVELS: [usize; 2] = [1, USERS];
/// Messages per minute per user: high enough never to refuse a turn, yet not 0, which would
/// skip the limit (and with it the Redis script) altogether.
const MESSAGES_PER_MINUTE: &str = "60000";
const JWT_SECRET: &str = "troupe-instances-bench-secret-0123456789";

#[derive(Clone, Copy)]
struct Setup {
    instances: usize,
    redis: bool,
}

const SETUPS: [Setup; 3] =
    [Setup { instances: 1, redis: false }, Setup { instances: 1, redis: true }, Setup { instances: 3, redis: true }];

impl Setup {
    fn label(self) -> String {
        match (self.instances, self.redis) {
            (1, false) => "1 instance, no Redis".into(),
            (1, true) => "1 instance with Redis".into(),
            (n, _) => format!("{n} instances sharing Redis"),
        }
    }
}

#[tokio::main]
async fn main() {
    let upstream = FakeUpstream::start().await;
    let data = tempfile::tempdir().unwrap();
    let models = fake_catalog(data.path());
    let postgres =
        std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let redis_url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut redis = redis::Client::open(redis_url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("this benchmark needs Redis at {redis_url}: {e}"));
    println!("database: postgres; {} cores; load average before: {}", cores(), load_average());

    redis_round_trips(&mut redis).await;
    let client = reqwest::Client::builder().pool_max_idle_per_host(2000).build().unwrap();
    for users in LEVELS {
        let direct = ttft(users, |_, _| direct_ttft(&client, &upstream)).await;
        report(&format!("SSE TTFT straight to the fake upstream, {users:>2} concurrent"), &direct);
    }
    let bench = Bench { client: &client, postgres: &postgres, redis_url: &redis_url, models: &models, upstream };
    let mut outcomes = Vec::new();
    for setup in SETUPS {
        outcomes.push(bench.run(setup, &mut redis).await);
    }
    report_redis_cost(&outcomes[0], &outcomes[1]);
    bench.paired_redis_cost(&mut redis).await;
    report_capacity(&outcomes);
    println!("load average after: {}", load_average());
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews every figure.
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// What every setup shares: the clients, the fake upstream, PostgreSQL and Redis.
struct Bench<'a> {
    client: &'a reqwest::Client,
    postgres: &'a str,
    redis_url: &'a str,
    models: &'a str,
    upstream: FakeUpstream,
}

/// What one setup measured: JSON turns at each of `LEVELS`.
struct Outcome {
    setup: Setup,
    turns: Vec<Turns>,
}

/// A setup's database, data folder and running instances.
struct Deployment {
    servers: Vec<Server>,
    cluster: Cluster,
    database: Database,
    /// The instances' Redis namespace, with Redis.
    prefix: Option<String>,
    _data: tempfile::TempDir,
}

impl Bench<'_> {
    /// Starts `setup` on a database of its own.
    async fn deploy(&self, setup: Setup) -> Deployment {
        let database = Database::create(self.postgres).await;
        let data = tempfile::tempdir().unwrap();
        let mut settings = vec![
            ("DATABASE_URL", database.url.clone()),
            ("DATA_DIR", data.path().to_string_lossy().into_owned()),
            ("MODELS_FILE", self.models.to_owned()),
            ("OPENAI_BASE_URL", self.upstream.openai_base_url()),
            ("OPENAI_API_KEY", "sk-bench".into()),
            ("JWT_SECRET", JWT_SECRET.into()),
            ("RATE_LIMIT_MESSAGES_PER_MINUTE", MESSAGES_PER_MINUTE.into()),
            ("RATE_LIMIT_AUTH_PER_MINUTE", "0".into()),
            ("RATE_LIMIT_WRITES_PER_MINUTE", "0".into()),
            ("MAX_CONCURRENT_STREAMS", "100000".into()),
            ("STARTER_CHARACTERS", "false".into()),
        ];
        let prefix = setup.redis.then(|| format!("troupe-bench-{}", uuid::Uuid::new_v4().simple()));
        if let Some(prefix) = &prefix {
            settings.extend([("REDIS_URL", self.redis_url.to_owned()), ("REDIS_PREFIX", prefix.clone())]);
        }
        // One after another: the first applies the migrations.
        let servers: Vec<Server> = (0..setup.instances).map(|_| Server::start(settings.clone())).collect();
        let cluster = Cluster { bases: servers.iter().map(|s| s.base.clone()).collect() };
        Deployment { servers, cluster, database, prefix, _data: data }
    }

    async fn run(&self, setup: Setup, redis: &mut redis::aio::MultiplexedConnection) -> Outcome {
        println!("\n== {} ==", setup.label());
        let deployment = self.deploy(setup).await;
        let (client, cluster) = (self.client, &deployment.cluster);
        let mut sessions = sign_up(client, cluster, USERS).await;
        fresh_chats(client, cluster, &mut sessions).await;
        json_turns(client, cluster, &sessions, WARM_UP).await;
        let mut turns = Vec::new();
        for users in LEVELS {
            fresh_chats(client, cluster, &mut sessions).await;
            let before = deployment.usage(redis).await;
            let mut measured = json_turns(client, cluster, &sessions[..users], WINDOW).await;
            measured.usage = deployment.usage(redis).await.since(&before);
            measured.report();
            turns.push(measured);
        }
        for users in LEVELS {
            fresh_chats(client, cluster, &mut sessions).await;
            let sessions = &sessions[..users];
            let through = ttft(users, |worker, k| troupe_ttft(client, cluster, &sessions[worker], worker + k)).await;
            report(&format!("SSE TTFT, {users:>2} concurrent users"), &through);
        }
        deployment.stop(redis).await;
        Outcome { setup, turns }
    }

    /// One client alternates turns between an instance without Redis and one with it, so that
    /// whatever else the machine does weighs on both alike: the difference is Redis's.
    async fn paired_redis_cost(&self, redis: &mut redis::aio::MultiplexedConnection) {
        let (alone, shared) = (SETUPS[0], SETUPS[1]);
        let deployments = [self.deploy(alone).await, self.deploy(shared).await];
        let mut sessions = Vec::new();
        for deployment in &deployments {
            let mut session = sign_up(self.client, &deployment.cluster, 1).await;
            fresh_chats(self.client, &deployment.cluster, &mut session).await;
            json_turns(self.client, &deployment.cluster, &session, WARM_UP).await;
            fresh_chats(self.client, &deployment.cluster, &mut session).await;
            sessions.push(session.remove(0));
        }
        let cpu_before: Vec<f64> = deployments.iter().map(|d| d.servers[0].cpu_seconds()).collect();
        let (mut without, mut with, mut differences) = (Vec::new(), Vec::new(), Vec::new());
        let deadline = Instant::now() + 2 * WINDOW;
        while Instant::now() < deadline {
            let mut pair = [0.0; 2];
            for (i, (deployment, session)) in deployments.iter().zip(&sessions).enumerate() {
                let started = Instant::now();
                let resp = session.send(self.client, &deployment.cluster.bases[0], "How are you today?", false).await;
                assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
                resp.bytes().await.unwrap();
                pair[i] = started.elapsed().as_secs_f64() * 1000.0;
            }
            without.push(pair[0]);
            with.push(pair[1]);
            differences.push(pair[1] - pair[0]);
        }
        let turns = without.len() as f64;
        let cpu_us: Vec<f64> = deployments
            .iter()
            .zip(&cpu_before)
            .map(|(d, before)| (d.servers[0].cpu_seconds() - before) * 1e6 / turns)
            .collect();
        let mean = |samples: &[f64]| samples.iter().sum::<f64>() / samples.len() as f64;
        for samples in [&mut without, &mut with, &mut differences] {
            samples.sort_by(f64::total_cmp);
        }
        println!(
            "1 client alternating between them, {} turns each: p50 {:.3} → {:.3} ms, mean {:.3} → {:.3} ms; \
             paired difference p50 {:+.0} µs, mean {:+.0} µs; instance CPU {:.0} → {:.0} µs per turn ({:+.0} µs)",
            without.len(),
            percentile(&without, 0.5),
            percentile(&with, 0.5),
            mean(&without),
            mean(&with),
            percentile(&differences, 0.5) * 1000.0,
            mean(&differences) * 1000.0,
            cpu_us[0],
            cpu_us[1],
            cpu_us[1] - cpu_us[0],
        );
        for deployment in deployments {
            deployment.stop(redis).await;
        }
    }
}

impl Deployment {
    async fn usage(&self, redis: &mut redis::aio::MultiplexedConnection) -> Usage {
        Usage::now(&self.servers, &self.database.name, redis).await
    }

    /// Stops the instances, then removes their Redis keys and database.
    async fn stop(self, redis: &mut redis::aio::MultiplexedConnection) {
        drop(self.servers);
        if let Some(prefix) = &self.prefix {
            forget_keys(redis, prefix).await;
        }
    }
}

/// The instances' addresses. Request `k` goes to instance `k % n`, where client `i` numbers its
/// requests from `i`: the clients start spread over the instances, then each takes them in turn.
struct Cluster {
    bases: Vec<String>,
}

impl Cluster {
    fn instance(&self, k: usize) -> usize {
        k % self.bases.len()
    }
}

struct Session {
    token: String,
    character: i64,
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

/// `n` users with a character each, signed up over the instances in turn.
async fn sign_up(client: &reqwest::Client, cluster: &Cluster, n: usize) -> Vec<Session> {
    let mut sessions = Vec::new();
    for i in 0..n {
        let base = &cluster.bases[cluster.instance(i)];
        let body = json!({"username": format!("bench_{i}"), "password": "bench-pass-1"});
        let auth = post_json(client, format!("{base}/api/auth/register"), None, body).await;
        let token = auth["token"].as_str().expect("registered").to_owned();
        let body = json!({"name": "Bench", "system_prompt": "You are {{char}}.", "greeting": "Hello!"});
        let character = post_json(client, format!("{base}/api/characters"), Some(&token), body).await;
        sessions.push(Session { token, character: character["id"].as_i64().expect("a character"), chat: 0 });
    }
    sessions
}

/// A new chat for every session, so that each phase starts from the same short histories.
async fn fresh_chats(client: &reqwest::Client, cluster: &Cluster, sessions: &mut [Session]) {
    for (i, s) in sessions.iter_mut().enumerate() {
        let base = &cluster.bases[cluster.instance(i)];
        let chat =
            post_json(client, format!("{base}/api/chats"), Some(&s.token), json!({"character_id": s.character})).await;
        s.chat = chat["id"].as_i64().expect("a chat");
    }
}

/// JSON turns from one client per session for `window`.
struct Turns {
    users: usize,
    /// Each turn's latency in ms, sorted.
    latencies: Vec<f64>,
    /// Turns each instance served.
    served: Vec<u64>,
    window: Duration,
    usage: Usage,
}

async fn json_turns(client: &reqwest::Client, cluster: &Cluster, sessions: &[Session], window: Duration) -> Turns {
    let deadline = Instant::now() + window;
    let workers = sessions.iter().enumerate().map(|(i, s)| async move {
        let mut done = Vec::new();
        let mut k = i;
        while Instant::now() < deadline {
            let at = cluster.instance(k);
            let started = Instant::now();
            let resp = s.send(client, &cluster.bases[at], "How are you today?", false).await;
            assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
            resp.bytes().await.unwrap();
            done.push((at, started.elapsed().as_secs_f64() * 1000.0));
            k += 1;
        }
        done
    });
    let done: Vec<(usize, f64)> = futures_util::future::join_all(workers).await.into_iter().flatten().collect();
    let mut served = vec![0; cluster.bases.len()];
    for (at, _) in &done {
        served[*at] += 1;
    }
    let mut latencies: Vec<f64> = done.into_iter().map(|(_, ms)| ms).collect();
    latencies.sort_by(f64::total_cmp);
    Turns { users: sessions.len(), latencies, served, window, usage: Usage::default() }
}

impl Turns {
    fn count(&self) -> f64 {
        self.latencies.len() as f64
    }

    fn per_second(&self) -> f64 {
        self.count() / self.window.as_secs_f64()
    }

    fn mean_ms(&self) -> f64 {
        self.latencies.iter().sum::<f64>() / self.count()
    }

    /// Milliseconds of CPU per turn, of `seconds` over all turns.
    fn per_turn_ms(&self, seconds: f64) -> f64 {
        seconds * 1000.0 / self.count()
    }

    /// CPU ms per turn of all instances together.
    fn instances_ms(&self) -> f64 {
        self.per_turn_ms(self.usage.instances.iter().sum())
    }

    fn report(&self) {
        let usage = &self.usage;
        println!(
            "JSON turns, {:>2} concurrent users: {:>6.0} turns/s; latency p50 {:.3} ms, p99 {:.3} ms, mean {:.3} ms",
            self.users,
            self.per_second(),
            percentile(&self.latencies, 0.5),
            percentile(&self.latencies, 0.99),
            self.mean_ms(),
        );
        let each: Vec<String> = usage
            .instances
            .iter()
            .zip(&self.served)
            .map(|(cpu, served)| format!("{:.3} ms over {served} turns", cpu * 1000.0 / *served as f64))
            .collect();
        let rest = usage.machine - usage.instances.iter().sum::<f64>() - usage.redis_cpu - usage.bench - usage.postgres;
        println!(
            "  CPU per turn: instances {:.3} ms ({:.3} ms of it in the kernel; each: {}); PostgreSQL {:.3} ms (its connections to this \
             database {:.3} ms); Redis {:.3} ms (running commands {:.3} ms); clients + fake upstream {:.3} ms; \
             rest of the machine (kernel, other work) {:.3} ms; machine busy {:.0} % of {:.1} s",
            self.instances_ms(),
            self.per_turn_ms(usage.instances_system),
            each.join(", "),
            self.per_turn_ms(usage.postgres),
            self.per_turn_ms(usage.postgres_here),
            self.per_turn_ms(usage.redis_cpu),
            self.per_turn_ms(usage.redis_busy),
            self.per_turn_ms(usage.bench),
            self.per_turn_ms(rest),
            usage.machine / self.window.as_secs_f64() / cores() as f64 * 100.0,
            self.window.as_secs_f64(),
        );
        let per_turn = |calls: u64| calls as f64 / self.count();
        let all: u64 = usage.commands.iter().filter(|(name, _)| *name != "info").map(|(_, calls)| calls).sum();
        let scripts: u64 = usage.commands.iter().filter(|(name, _)| name.starts_with("eval")).map(|(_, c)| c).sum();
        let mut named: Vec<(&String, &u64)> = usage.commands.iter().filter(|(name, _)| *name != "info").collect();
        named.sort_by(|a, b| b.1.cmp(a.1));
        let named: Vec<String> = named
            .into_iter()
            .filter(|(_, calls)| per_turn(**calls) >= 0.005)
            .map(|(name, calls)| format!("{name} {:.2}", per_turn(*calls)))
            .collect();
        println!(
            "  Redis per turn: {:.2} scripts run, {:.2} commands with those inside scripts ({}); \
             total_commands_processed {:.2}",
            per_turn(scripts),
            per_turn(all),
            if named.is_empty() { "none".into() } else { named.join(", ") },
            per_turn(usage.processed),
        );
    }
}

/// CPU seconds and Redis counters at one moment, or their growth over a window.
#[derive(Default)]
struct Usage {
    /// Each instance's CPU.
    instances: Vec<f64>,
    /// The instances' CPU in the kernel, all together.
    instances_system: f64,
    /// This process: the clients and the fake upstream.
    bench: f64,
    /// Every core's busy time (/proc/stat).
    machine: f64,
    /// Every PostgreSQL process's CPU, and that of its connections to the setup's database.
    postgres: f64,
    postgres_here: f64,
    redis_cpu: f64,
    /// Calls per command (lower case).
    commands: BTreeMap<String, u64>,
    /// Redis's time running commands (`usec` of every command but INFO), in seconds.
    redis_busy: f64,
    processed: u64,
}

impl Usage {
    async fn now(servers: &[Server], database: &str, redis: &mut redis::aio::MultiplexedConnection) -> Self {
        let info: String = redis::cmd("INFO").arg("everything").query_async(redis).await.unwrap();
        let field = |name: &str| {
            info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(str::trim).unwrap_or_default()
        };
        let stats: Vec<(&str, u64, f64)> = info
            .lines()
            .filter_map(|l| {
                let (name, stats) = l.strip_prefix("cmdstat_")?.split_once(':')?;
                let stat = |key: &str| stats.split(',').find_map(|s| s.strip_prefix(key)?.strip_prefix('='));
                Some((name, stat("calls")?.parse().ok()?, stat("usec")?.parse().ok()?))
            })
            .collect();
        let (postgres, postgres_here) = postgres_cpu_seconds(database);
        Self {
            instances: servers.iter().map(Server::cpu_seconds).collect(),
            instances_system: servers.iter().map(|s| cpu_times_of(s.pid()).1).sum(),
            bench: cpu_seconds_of(std::process::id()),
            machine: machine_busy_seconds(),
            postgres,
            postgres_here,
            redis_cpu: field("used_cpu_user").parse::<f64>().unwrap_or(0.0)
                + field("used_cpu_sys").parse::<f64>().unwrap_or(0.0),
            commands: stats.iter().map(|(name, calls, _)| ((*name).to_owned(), *calls)).collect(),
            redis_busy: stats.iter().filter(|(name, ..)| *name != "info").map(|(.., usec)| usec / 1e6).sum(),
            processed: field("total_commands_processed").parse().unwrap_or(0),
        }
    }

    fn since(&self, before: &Self) -> Self {
        let commands = self
            .commands
            .iter()
            .map(|(name, calls)| (name.clone(), calls - before.commands.get(name).copied().unwrap_or(0)))
            .filter(|(_, calls)| *calls > 0)
            .collect();
        Self {
            instances: self.instances.iter().zip(&before.instances).map(|(now, then)| now - then).collect(),
            instances_system: self.instances_system - before.instances_system,
            bench: self.bench - before.bench,
            machine: self.machine - before.machine,
            postgres: self.postgres - before.postgres,
            postgres_here: self.postgres_here - before.postgres_here,
            redis_cpu: self.redis_cpu - before.redis_cpu,
            commands,
            redis_busy: self.redis_busy - before.redis_busy,
            processed: self.processed - before.processed,
        }
    }
}

/// Busy time of all cores so far, in seconds (/proc/stat: all but idle and iowait).
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: f64 = ticks.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, t)| t).sum();
    busy / 100.0
}

/// CPU seconds of every PostgreSQL process, and of those serving `database` (their title names
/// it). A process that ends in between takes its time with it: connection pools keep theirs.
fn postgres_cpu_seconds(database: &str) -> (f64, f64) {
    let (mut all, mut here) = (0.0, 0.0);
    let pids = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    for pid in pids.filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok()) {
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "postgres") {
            let cpu = cpu_seconds_of(pid);
            all += cpu;
            let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&title).split_whitespace().any(|word| word == database) {
                here += cpu;
            }
        }
    }
    (all, here)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs `measure(worker, k)` (its `k`-th request) from `concurrency` workers for the window;
/// all samples in ms, sorted.
async fn ttft<F, Fut>(concurrency: usize, measure: F) -> Vec<f64>
where
    F: Fn(usize, usize) -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let deadline = Instant::now() + WINDOW;
    let measure = &measure;
    let workers = (0..concurrency).map(|worker| async move {
        let mut samples = Vec::new();
        while Instant::now() < deadline {
            samples.push(measure(worker, samples.len()).await);
        }
        samples
    });
    let mut all: Vec<f64> = futures_util::future::join_all(workers).await.into_iter().flatten().collect();
    all.sort_by(f64::total_cmp);
    all
}

/// Milliseconds from sending a message (the client's `k`-th request) to its first `delta` event.
async fn troupe_ttft(client: &reqwest::Client, cluster: &Cluster, session: &Session, k: usize) -> f64 {
    let base = &cluster.bases[cluster.instance(k)];
    let started = Instant::now();
    let resp = session.send(client, base, "Stream to me", true).await;
    first_match(resp, "event: delta", started).await
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

/// What Redis adds to a turn of one instance: latency, the instance's CPU, Redis's own.
fn report_redis_cost(alone: &Outcome, shared: &Outcome) {
    println!("\n== Redis's cost per turn: {} minus {} ==", shared.setup.label(), alone.setup.label());
    for (a, s) in alone.turns.iter().zip(&shared.turns) {
        let us = |ms: f64| ms * 1000.0;
        println!(
            "{:>2} concurrent users: latency p50 {:+.0} µs, mean {:+.0} µs; instance CPU {:+.0} µs \
             ({:.0} → {:.0} µs); Redis CPU {:.0} µs; turns/s {:.0} → {:.0}",
            a.users,
            us(percentile(&s.latencies, 0.5) - percentile(&a.latencies, 0.5)),
            us(s.mean_ms() - a.mean_ms()),
            us(s.instances_ms() - a.instances_ms()),
            us(a.instances_ms()),
            us(s.instances_ms()),
            us(s.per_turn_ms(s.usage.redis_cpu)),
            a.per_second(),
            s.per_second(),
        );
    }
}

/// Turns per second one core gives an instance at the CPU per turn measured at 50 users.
fn report_capacity(outcomes: &[Outcome]) {
    println!("\n== Turns/s per core of instance CPU (50 users; PostgreSQL, Redis and clients not included) ==");
    for outcome in outcomes {
        let turns = outcome.turns.last().expect("measured");
        println!(
            "{}: {:.0} turns/s per core ({:.3} ms of instance CPU per turn); with Redis's CPU too: {:.0}",
            outcome.setup.label(),
            1000.0 / turns.instances_ms(),
            turns.instances_ms(),
            1000.0 / (turns.instances_ms() + turns.per_turn_ms(turns.usage.redis_cpu)),
        );
    }
}

/// One Redis round trip from a tokio client on this machine (PING, one after another).
async fn redis_round_trips(redis: &mut redis::aio::MultiplexedConnection) {
    let mut samples = Vec::new();
    for _ in 0..2000 {
        let started = Instant::now();
        let _: String = redis::cmd("PING").query_async(redis).await.unwrap();
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    report("Redis PING round trip from this process, one at a time", &samples);
}

/// Removes the run's keys from Redis (most would expire by themselves).
async fn forget_keys(redis: &mut redis::aio::MultiplexedConnection, prefix: &str) {
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(redis)
            .await
            .unwrap();
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(redis).await.unwrap();
    }
}

/// A PostgreSQL database of the setup's own, dropped with it.
struct Database {
    server: String,
    name: String,
    url: String,
}

impl Database {
    async fn create(server: &str) -> Self {
        let name = format!("troupe_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(server)
            .await
            .unwrap_or_else(|e| panic!("this benchmark needs PostgreSQL at BENCH_DATABASE_URL: {e}"));
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
        let (base, query) = server.split_once('?').map_or((server, None), |(b, q)| (b, Some(q)));
        let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
        let url = match query {
            Some(q) => format!("{base}/{name}?{q}"),
            None => format!("{base}/{name}"),
        };
        Self { server: server.to_owned(), name, url }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the runtime; do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&server).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = conn.execute(sqlx::AssertSqlSafe(drop)).await;
                }
            });
        })
        .join();
    }
}
