//! The whole product as a user meets it: the built web app, the real server binary, and real
//! nginx in front with the project's own nginx.conf; plus headless Chromium through
//! chromedriver. Shared by the browser tests and the `web` benchmark.
#![allow(dead_code)] // the tests and the benchmark each use a part

use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

pub const ADMIN: (&str, &str) = ("admin", "admin-pass-123");
/// The password of the users `Api::user_with_chat` makes.
pub const PASSWORD: &str = "password123";

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("backend/ sits in the workspace").to_owned()
}

/// Builds the web app once per test process with `frontend/build.sh` (which installs the
/// toolchain the first time). Fails loudly: a browser test that quietly skips tests nothing.
pub fn web_app() -> PathBuf {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let root = workspace();
        let status = Command::new(root.join("frontend/build.sh")).status().expect("frontend/build.sh runs");
        assert!(status.success(), "frontend/build.sh failed: the web app did not build");
        let dist = root.join("frontend/dist");
        assert!(dist.join("index.html").is_file(), "the build left no frontend/dist/index.html");
        dist
    })
    .clone()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn require(program: &str, package: &str) {
    let found =
        Command::new("sh").arg("-c").arg(format!("command -v {program}")).output().is_ok_and(|o| o.status.success());
    assert!(found, "`{program}` is missing: install Debian's `{package}` (.ci/run does)");
}

fn wait_for_http(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if probe::blocking_get_ok(url) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not answer within 20 s");
}

mod probe {
    /// A tiny blocking probe without pulling in a blocking HTTP client.
    pub fn blocking_get_ok(url: &str) -> bool {
        let Some(rest) = url.strip_prefix("http://") else { return false };
        let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let Ok(mut stream) = std::net::TcpStream::connect(host) else { return false };
        use std::io::{Read, Write};
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).is_ok() && head.ends_with(b"200")
    }
}

/// The server and nginx, stopped when dropped.
pub struct Stack {
    /// nginx's address: what the browser and the checks talk to.
    pub base: String,
    /// nginx's TLS listener (a self-signed certificate for 127.0.0.1).
    pub tls_base: String,
    server: Child,
    nginx: Child,
    dir: tempfile::TempDir,
    launch: Launch,
}

/// How the server is started, so that it can be started again.
struct Launch {
    dir: PathBuf,
    port: u16,
    settings: Vec<(String, String)>,
}

impl Launch {
    /// Starts the server and waits until it answers.
    fn spawn(&self) -> Child {
        let mut server = Command::new(env!("CARGO_BIN_EXE_troupe-server"))
            .current_dir(&self.dir)
            .env("TROUPE_BIND", format!("127.0.0.1:{}", self.port))
            .env("DATABASE_URL", format!("sqlite://{}/troupe.db", self.dir.display()))
            .env("DATA_DIR", &self.dir)
            .env("STATIC_DIR", web_app())
            .env("STARTER_CHARACTERS", "false")
            .env("ADMIN_USERNAME", ADMIN.0)
            .env("ADMIN_PASSWORD", ADMIN.1)
            .env("TRUSTED_PROXIES", "127.0.0.1")
            .env("LOG_LEVEL", "warn")
            .envs(self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .spawn()
            .expect("the server binary starts");
        if let Err(e) = std::panic::catch_unwind(|| wait_for_http(&format!("http://127.0.0.1:{}/healthz", self.port))) {
            server.kill().ok();
            std::panic::resume_unwind(e);
        }
        server
    }
}

impl Stack {
    /// `settings` are extra environment variables for the server. By default it has an admin
    /// (`ADMIN`) and no starter characters; `("ADMIN_USERNAME", "")` and
    /// `("STARTER_CHARACTERS", "true")` give a fresh install instead.
    pub fn start(settings: &[(&str, &str)]) -> Self {
        require("nginx", "nginx");
        let dist = web_app();
        let dir = tempfile::tempdir().unwrap();
        let (server_port, nginx_port, tls_port) = (free_port(), free_port(), free_port());
        let launch = Launch {
            dir: dir.path().to_owned(),
            port: server_port,
            settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        };
        let server = launch.spawn();
        let conf = dir.path().join("nginx.conf");
        let tls = Tls { port: tls_port, cert: self_signed_certificate(dir.path()) };
        std::fs::write(&conf, nginx_conf(nginx_port, &tls, server_port, &dist)).unwrap();
        let error_log = dir.path().join("nginx-error.log");
        let nginx = Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(&error_log)
            .arg("-g")
            .arg(format!("daemon off; pid {};", dir.path().join("nginx.pid").display()))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts");
        let base = format!("http://127.0.0.1:{nginx_port}");
        let stack = Self { base, tls_base: format!("https://127.0.0.1:{tls_port}"), server, nginx, dir, launch };
        wait_for_http(&format!("{}/healthz", stack.base));
        stack
    }

    /// Stops the server (every connection through nginx drops) and starts it again on the same
    /// database.
    pub fn restart_server(&mut self) {
        self.server.kill().ok();
        self.server.wait().ok();
        self.server = self.launch.spawn();
    }

    pub fn nginx_error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nginx-error.log")).unwrap_or_default()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SIGTERM lets nginx's master stop its workers too.
        Command::new("kill").arg(self.nginx.id().to_string()).status().ok();
        self.nginx.wait().ok();
        self.server.kill().ok();
        self.server.wait().ok();
    }
}

/// A TLS listener for nginx: its port and certificate (the key sits beside it).
struct Tls {
    port: u16,
    cert: PathBuf,
}

/// A throwaway certificate for 127.0.0.1, made with the openssl command.
fn self_signed_certificate(dir: &Path) -> PathBuf {
    require("openssl", "openssl");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl could not make a certificate");
    cert
}

/// The project's nginx.conf with this run's ports and folder in place of the three lines it
/// marks as the machine's layout (the listener also over TLS, as the file's comment says to).
/// Each must be found, so the test cannot drift from the file.
fn nginx_conf(nginx_port: u16, tls: &Tls, server_port: u16, dist: &Path) -> String {
    let original = std::fs::read_to_string(workspace().join("nginx.conf")).expect("nginx.conf at the top level");
    let mut conf = original;
    let key = tls.cert.with_file_name("key.pem");
    let listen = format!(
        "listen 127.0.0.1:{nginx_port};\n        listen 127.0.0.1:{} ssl;\n        ssl_certificate {};\n        \
         ssl_certificate_key {};",
        tls.port,
        tls.cert.display(),
        key.display()
    );
    for (from, to) in [
        ("listen 8000;".to_owned(), listen),
        ("server 127.0.0.1:8080;".to_owned(), format!("server 127.0.0.1:{server_port};")),
        ("root /srv/troupe/dist;".to_owned(), format!("root {};", dist.display())),
    ] {
        assert!(conf.contains(&from), "nginx.conf no longer contains `{from}`");
        conf = conf.replace(&from, &to);
    }
    // As root, nginx's workers would run as nobody, who may not read the checkout.
    if Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n")) {
        conf = format!("user root;\n{conf}");
    }
    conf
}

/// Headless Chromium driven over WebDriver, closed when dropped.
pub struct Browser {
    pub client: fantoccini::Client,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(width: u32, height: u32) -> Self {
        Self::start_with(width, height, &[]).await
    }

    /// With extra Chromium switches, e.g. `--force-dark-mode` for a dark system theme.
    pub async fn start_with(width: u32, height: u32, switches: &[&str]) -> Self {
        require("chromium", "chromium");
        require("chromedriver", "chromium-driver");
        let port = free_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            if line.unwrap_or_default().contains("started successfully") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--disable-dev-shm-usage",
            "--lang=en-US",
        ]
        .into_iter()
        .chain(switches.iter().copied())
        .map(str::to_owned)
        .collect();
        args.push(format!("--window-size={width},{height}"));
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut capabilities = serde_json::Map::new();
        capabilities
            .insert("goog:chromeOptions".into(), serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("chromedriver opens a Chromium session");
        Self { client, driver, profile }
    }

    pub async fn close(self) {
        self.client.clone().close().await.ok();
        // Drop stops chromedriver and whatever it left running.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.driver.kill().ok();
        self.driver.wait().ok();
        // A test that failed half-way never closed its session: its Chromium processes are
        // the ones started with this profile folder.
        Command::new("pkill").arg("-KILL").arg("-f").arg(self.profile.path()).status().ok();
    }
}

/// Where screenshots go: `target/e2e-artifacts/`, kept after the run.
pub fn artifacts() -> PathBuf {
    let dir = workspace().join("target/e2e-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The API over plain HTTP (through nginx), to set the scene for a test.
pub struct Api {
    pub http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(stack: &Stack) -> Self {
        Self { http: reqwest::Client::new(), base: stack.base.clone() }
    }

    pub async fn token(&self, path: &str, username: &str, password: &str) -> String {
        let body = json!({"username": username, "password": password});
        let resp = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Value {
        let resp = self.http.post(format!("{}{path}", self.base)).bearer_auth(token).json(&body).send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// A new user (password [`PASSWORD`]) with a chat with a new character (no greeting):
    /// (token, chat id).
    pub async fn user_with_chat(&self, username: &str) -> (String, i64) {
        let token = self.token("/api/auth/register", username, PASSWORD).await;
        let character =
            self.post(&token, "/api/characters", json!({"name": "Ishmael", "description": "A sailor"})).await;
        let chat = self.post(&token, "/api/chats", json!({"character_id": character["id"]})).await;
        (token, chat["id"].as_i64().unwrap())
    }
}
