//! What the benchmarks share: starting the real server binary, and reading figures.
#![allow(dead_code)] // each benchmark uses a different part

use std::{
    ffi::OsStr,
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

/// The release server binary with quiet logs, as a command to add settings to.
/// `BENCH_SERVER_BIN` measures another build instead (an older commit's, for before/after).
pub fn troupe() -> Command {
    let binary = std::env::var("BENCH_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_troupe-server").into());
    let mut cmd = Command::new(binary);
    cmd.env("LOG_LEVEL", "warn").env("STATIC_DIR", "/nonexistent");
    cmd
}

/// A running server, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    /// SQL statements it has run so far, when it logs them (`Server::counting`).
    statements: Arc<AtomicUsize>,
}

impl Server {
    /// Starts `troupe-server` on a free port with `settings` and waits for its address.
    /// `BENCH_SPANS=FILE` writes each traced step's timing (`LOG_SPANS`) to `FILE`, as JSON lines.
    pub fn start<K: AsRef<OsStr>, V: AsRef<OsStr>>(settings: impl IntoIterator<Item = (K, V)>) -> Self {
        let spans = std::env::var("BENCH_SPANS").ok();
        let log_level = if spans.is_some() { "warn,troupe_server=info" } else { "warn,troupe_server::startup=info" };
        Self::launch(troupe(), settings, log_level, spans)
    }

    /// A server that logs every SQL statement it runs (sqlx's and the direct reads), counted
    /// by `statements`; under `wrapper` (a profiler such as valgrind) when one is given, its
    /// report on standard error.
    pub fn counting<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        settings: impl IntoIterator<Item = (K, V)>,
        wrapper: &[&str],
    ) -> Self {
        let command = match wrapper.split_first() {
            Some((program, args)) => {
                let troupe = troupe();
                let mut command = Command::new(program);
                command.args(args).arg(troupe.get_program()).envs(troupe.get_envs().filter_map(|(k, v)| Some((k, v?))));
                command.stderr(Stdio::piped());
                command
            }
            None => troupe(),
        };
        Self::launch(command, settings, "warn,troupe_server::startup=info,sqlx::query=debug", None)
    }

    fn launch<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        mut command: Command,
        settings: impl IntoIterator<Item = (K, V)>,
        log_level: &str,
        spans: Option<String>,
    ) -> Self {
        let mut child = command
            .envs(settings)
            .env("TROUPE_BIND", "127.0.0.1:0")
            .env("LOG_LEVEL", log_level)
            .env("LOG_FORMAT", "json")
            .env("LOG_SPANS", spans.is_some().to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("the server logs its address").unwrap();
            if let Some(at) = line.find("listening on http://") {
                break line[at + "listening on ".len()..].split('"').next().unwrap().to_owned();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        let statements = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&statements);
        std::thread::spawn(move || match spans {
            Some(path) => {
                let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("a spans file"));
                for line in lines.map_while(Result::ok) {
                    let _ = writeln!(out, "{line}");
                }
            }
            None => {
                for line in lines.map_while(Result::ok) {
                    if line.contains("\"target\":\"sqlx::query\"") {
                        counted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        Self { child, base, statements }
    }

    /// SQL statements run so far (see `counting`).
    pub fn statements(&self) -> usize {
        self.statements.load(Ordering::Relaxed)
    }

    /// Stops the server as an operator would (SIGTERM: it finishes what it was doing) and
    /// returns what it wrote on standard error (a wrapper's report).
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let mut report = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut report);
        }
        let _ = self.child.wait();
        report
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A memory figure from /proc, in MB (`VmRSS` now, `VmHWM` peak).
    pub fn memory_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        kb / 1024.0
    }

    /// User + system CPU time so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(self.pid())
    }
}

/// User + system CPU time of process `pid` so far, in seconds.
pub fn cpu_seconds_of(pid: u32) -> f64 {
    let (user, system) = cpu_times_of(pid);
    user + system
}

/// User and system CPU time of process `pid` so far, in seconds (/proc, 100 ticks a second).
pub fn cpu_times_of(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// POSTs `body` as JSON (with a bearer token when given) and returns the JSON answer.
pub async fn post_json(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: serde_json::Value,
) -> serde_json::Value {
    let request = client.post(url).json(&body);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap().json().await.unwrap()
}

/// A model catalogue in `dir` with one OpenAI-compatible model, `fake`; returns its path.
pub fn fake_catalog(dir: &std::path::Path) -> String {
    let models = dir.join("models.toml");
    std::fs::write(
        &models,
        "[[model]]\nid = \"fake\"\nprovider = \"openai\"\ncontext_window = 16000\nmax_output_tokens = 256\n",
    )
    .unwrap();
    models.to_string_lossy().into_owned()
}

/// `BENCH_DATABASE_URL` (PostgreSQL), else a fresh SQLite file in `dir`.
pub fn database_url(dir: &std::path::Path) -> String {
    std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.display()))
}

/// The `p` quantile (0–1) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// `label: n=… p50 … ms, p99 … ms` of sorted millisecond samples.
pub fn report(label: &str, sorted: &[f64]) {
    println!(
        "{label}: n={} p50 {:.3} ms, p99 {:.3} ms",
        sorted.len(),
        percentile(sorted, 0.5),
        percentile(sorted, 0.99)
    );
}
