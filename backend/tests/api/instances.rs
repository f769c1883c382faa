//! Several instances (server processes) on one PostgreSQL database and one Redis: what one
//! instance is told reaches the live connections of the others.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};
use troupe_fake_upstream::{Behavior, FakeUpstream, Script};

use crate::helpers::*;

const WAIT: Duration = Duration::from_secs(10);

/// Instances sharing one database and one Redis namespace of their own.
struct Cluster {
    servers: Vec<ServerProcess>,
    http: reqwest::Client,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
    upstream: FakeUpstream,
}

impl Cluster {
    async fn start(instances: usize) -> Self {
        Self::start_with(instances, &[]).await
    }

    async fn start_with(instances: usize, extra: &[(&str, &str)]) -> Self {
        Self::start_on(&redis_url(), instances, extra).await
    }

    /// Instances on the Redis at `redis`.
    async fn start_on(redis: &str, instances: usize, extra: &[(&str, &str)]) -> Self {
        let database = TestDatabase::create(Engine::Postgres).await;
        let dir = tempfile::tempdir().unwrap();
        let upstream = FakeUpstream::start().await;
        let prefix = format!("troupe-test-{}", uuid::Uuid::new_v4().simple());
        let settings = [("REDIS_URL", redis.to_owned()), ("REDIS_PREFIX", prefix)];
        let settings: Vec<(&str, &str)> =
            settings.iter().map(|(k, v)| (*k, v.as_str())).chain(extra.iter().copied()).collect();
        let servers =
            (0..instances).map(|_| ServerProcess::start(&database.url, &upstream, dir.path(), &settings)).collect();
        Self { servers, http: reqwest::Client::new(), _database: database, _dir: dir, upstream }
    }

    fn url(&self, instance: usize, path: &str) -> String {
        self.servers[instance].url(path)
    }

    /// A new user, registered through `instance`: (id, token).
    async fn user(&self, instance: usize) -> (i64, String) {
        let name = format!("user_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let body = json!({"username": name, "password": PASSWORD});
        let resp = self.http.post(self.url(instance, "/api/auth/register")).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let answer: Value = resp.json().await.unwrap();
        (answer["user"]["id"].as_i64().unwrap(), answer["token"].as_str().unwrap().to_owned())
    }

    async fn admin(&self, instance: usize) -> String {
        let (id, token) = self.user(instance).await;
        self.sql("UPDATE users SET is_admin = 1 WHERE id = $1", id).await;
        token
    }

    /// Runs `sql` with `$1` = `id` on the shared database.
    async fn sql(&self, sql: &'static str, id: i64) {
        let db = troupe_server::storage::Db::connect(&self._database.url).await.unwrap();
        sqlx::query(sql).bind(id).execute(db.pool()).await.unwrap();
    }

    /// Starts a streamed reply in `chat` through `instance` and returns once it streams.
    async fn streaming(&self, instance: usize, token: &str, chat: i64) -> reqwest::Response {
        let resp = self
            .http
            .post(self.url(instance, &format!("/api/chats/{chat}/messages")))
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .json(&json!({"content": "tell me a long story"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp
    }

    /// A user with a chat with a character on the fake upstream, made through instance 0:
    /// (token, chat id).
    async fn chatting_user(&self) -> (String, i64) {
        let (_, token) = self.user(0).await;
        let character = self.post(0, &token, "/api/characters", json!({"name": "Echo", "model": "fake-openai"})).await;
        let character = character.json::<Value>().await.unwrap();
        let chat = self.post(0, &token, "/api/chats", json!({"character_id": character["id"]})).await;
        (token, chat.json::<Value>().await.unwrap()["id"].as_i64().unwrap())
    }

    /// Sends a message in `chat` through `instance` (a JSON answer: the whole turn).
    async fn send(&self, instance: usize, token: &str, chat: i64) -> reqwest::Response {
        self.post(instance, token, &format!("/api/chats/{chat}/messages"), json!({"content": "hello"})).await
    }

    async fn post(&self, instance: usize, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http.post(self.url(instance, path)).bearer_auth(token).json(&body).send().await.unwrap()
    }

    /// `method path` through `instance` with `body` (none when null): the status.
    async fn call(&self, method: Method, instance: usize, token: &str, path: &str, body: Value) -> StatusCode {
        let request = self.http.request(method, self.url(instance, path)).bearer_auth(token);
        let request = if body.is_null() { request } else { request.json(&body) };
        request.send().await.unwrap().status()
    }

    /// Sends a message in `chat` through `instance`: the texts of the prompt the model got
    /// (the system text first).
    async fn prompt(&self, instance: usize, token: &str, chat: i64) -> Vec<String> {
        assert_eq!(self.send(instance, token, chat).await.status(), StatusCode::CREATED);
        let body = self.upstream.received().pop().unwrap().body;
        body["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap().to_owned()).collect()
    }

    /// `/api/events` on `instance`, as a stream of body chunks.
    async fn events(&self, instance: usize, token: &str) -> impl futures_util::Stream<Item = String> + Unpin {
        let resp = self.http.get(self.url(instance, "/api/events")).bearer_auth(token).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        Box::pin(resp.bytes_stream().map(|chunk| String::from_utf8_lossy(&chunk.unwrap()).into_owned()))
    }

    async fn room_socket(&self, instance: usize, token: &str, room: i64) -> RoomSocket {
        let url = self.url(instance, &format!("/api/rooms/{room}/ws")).replace("http://", "ws://");
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(request).await.unwrap().0
    }
}

type RoomSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn redis_url() -> String {
    std::env::var("TROUPE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Reads `events` until a chunk holds `text`.
async fn heard(events: &mut (impl futures_util::Stream<Item = String> + Unpin), text: &str) {
    tokio::time::timeout(WAIT, async {
        while let Some(chunk) = events.next().await {
            if chunk.contains(text) {
                return;
            }
        }
        panic!("the stream ended before `{text}`");
    })
    .await
    .unwrap_or_else(|_| panic!("`{text}` did not arrive"));
}

/// The contents of the next `n` people's messages on a room socket.
async fn said(socket: &mut RoomSocket, n: usize) -> Vec<String> {
    let mut said = Vec::new();
    while said.len() < n {
        let next = tokio::time::timeout(WAIT, socket.next()).await.expect("a frame in time");
        if let Some(Ok(Message::Text(text))) = next {
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == "message" && frame["message"]["kind"] == "user" {
                said.push(frame["message"]["content"].as_str().unwrap().to_owned());
            }
        }
    }
    said
}

#[tokio::test]
async fn an_announcement_on_one_instance_reaches_the_others_listeners() {
    let cluster = Cluster::start(3).await;
    let admin = cluster.admin(0).await;
    let (_, listener) = cluster.user(0).await;
    let mut on_b = cluster.events(1, &listener).await;
    let mut on_c = cluster.events(2, &listener).await;

    let resp = cluster.post(0, &admin, "/api/admin/announcements", json!({"text": "Maintenance at noon"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    heard(&mut on_b, "Maintenance at noon").await;
    heard(&mut on_c, "Maintenance at noon").await;
}

#[tokio::test]
async fn signing_out_on_one_instance_ends_the_sessions_streams_on_the_others() {
    let cluster = Cluster::start(2).await;
    let (_, token) = cluster.user(0).await;
    let mut on_b = cluster.events(1, &token).await;

    let resp = cluster.post(0, &token, "/api/auth/logout", json!({})).await;
    assert!(resp.status().is_success());
    let ended = tokio::time::timeout(WAIT, async { while on_b.next().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the stream on the other instance ended with the session");
}

#[tokio::test]
async fn a_rooms_messages_reach_every_instances_sockets_in_order() {
    let cluster = Cluster::start(3).await;
    let admin = cluster.admin(0).await;
    let character = cluster
        .post(0, &admin, "/api/characters", json!({"name": "Aria", "visibility": "public"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let room = cluster.post(0, &admin, "/api/rooms", json!({"name": "Lobby", "character_id": character["id"]})).await;
    let room = room.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (_, talker) = cluster.user(0).await;
    let (_, listener) = cluster.user(1).await;
    let mut speaking = cluster.room_socket(0, &talker, room).await;
    let mut on_b = cluster.room_socket(1, &listener, room).await;
    let mut on_c = cluster.room_socket(2, &listener, room).await;

    let words: Vec<String> = (0..10).map(|i| format!("message {i}")).collect();
    for word in &words {
        speaking.send(Message::text(json!({"type": "message", "content": word}).to_string())).await.unwrap();
    }
    assert_eq!(said(&mut on_b, 10).await, words, "in order on B");
    assert_eq!(said(&mut on_c, 10).await, words, "in order on C");
    assert_eq!(said(&mut speaking, 10).await, words, "and back on A");
}

#[tokio::test]
async fn the_message_rate_limit_holds_in_total_over_the_instances() {
    // 4 a minute, 2 at once: the third message is one too many, wherever it goes.
    let cluster = Cluster::start_with(3, &[("RATE_LIMIT_MESSAGES_PER_MINUTE", "4")]).await;
    let (token, chat) = cluster.chatting_user().await;
    let send = |instance: usize| cluster.send(instance, &token, chat);

    assert_eq!(send(0).await.status(), StatusCode::CREATED);
    assert_eq!(send(1).await.status(), StatusCode::CREATED);
    for instance in [2, 0, 1] {
        let refused = send(instance).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "on instance {instance}");
        let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=15).contains(&wait), "Retry-After {wait}");
    }
}

#[tokio::test]
async fn the_stream_limit_holds_over_the_instances_and_a_dead_instances_slot_comes_back() {
    let mut cluster = Cluster::start_with(2, &[("MAX_CONCURRENT_STREAMS", "1")]).await;
    let (token, chat) = cluster.chatting_user().await;
    // The reply on B never ends: B holds the user's one stream slot.
    cluster.upstream.push(Behavior::Hang);
    let on_b = cluster.streaming(1, &token, chat).await;

    let refused = cluster.send(0, &token, chat).await;
    assert_eq!(error_code(refused, StatusCode::TOO_MANY_REQUESTS).await.0, "too_many_streams", "B's slot counts on A");

    cluster.servers[1].kill_hard();
    drop(on_b);
    let killed = std::time::Instant::now();
    let freed = loop {
        let resp = cluster.send(0, &token, chat).await;
        if resp.status() == StatusCode::CREATED {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(25), "the dead instance's slot is still held");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(freed > Duration::from_secs(5), "held until its lease ran out ({freed:?}), not given back by magic");
}

#[tokio::test]
async fn a_quota_is_not_overspent_by_sends_spread_over_the_instances() {
    let cluster = Cluster::start(2).await;
    let (token, chat) = cluster.chatting_user().await;
    let me: Value = cluster
        .http
        .get(cluster.url(0, "/api/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Less than one reply's worst case (the prompt and 500 tokens of answer): the first reply
    // under way holds the whole quota, on every instance.
    cluster.sql("UPDATE users SET daily_token_quota = 100 WHERE id = $1", me["id"].as_i64().unwrap()).await;
    cluster.upstream.push(Behavior::Hang);
    let _on_b = cluster.streaming(1, &token, chat).await;

    let refused = cluster.send(0, &token, chat).await;
    assert_eq!(
        error_code(refused, StatusCode::TOO_MANY_REQUESTS).await.0,
        "quota_exceeded",
        "B's reservation counts on A"
    );
}

#[tokio::test]
async fn the_admin_live_feed_counts_every_instances_users_and_streams() {
    let cluster = Cluster::start(3).await;
    let admin = cluster.admin(0).await;
    let (token, chat) = cluster.chatting_user().await;
    let (_, other) = cluster.user(0).await;
    for (instance, who) in [(1, &token), (2, &other)] {
        let me = cluster.http.get(cluster.url(instance, "/api/auth/me")).bearer_auth(who).send().await.unwrap();
        assert_eq!(me.status(), StatusCode::OK);
    }
    cluster.upstream.push(Behavior::Hang);
    let _streaming_on_b = cluster.streaming(1, &token, chat).await;

    let url = cluster.url(0, "/api/admin/live").replace("http://", "ws://");
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {admin}").parse().unwrap());
    let mut feed = tokio_tungstenite::connect_async(request).await.unwrap().0;
    let figures = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Ok(Message::Text(text))) = feed.next().await {
                let figures: Value = serde_json::from_str(&text).unwrap();
                if figures["online_users"] == 3 && figures["active_streams"] == 1 {
                    return figures;
                }
            }
        }
    })
    .await;
    assert!(figures.is_ok(), "A's feed counts the users seen on B and C and the reply streaming on B");
}

#[tokio::test]
async fn instances_starting_together_migrate_once_and_make_the_admin_and_starters_once() {
    let database = TestDatabase::create(Engine::Postgres).await;
    let upstream = FakeUpstream::start().await;
    let prefix = format!("troupe-test-{}", uuid::Uuid::new_v4().simple());
    let starting: Vec<_> = (0..3)
        .map(|_| {
            let (url, upstream, redis, prefix) = (database.url.clone(), upstream.clone(), redis_url(), prefix.clone());
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let settings = [
                    ("REDIS_URL", redis.as_str()),
                    ("REDIS_PREFIX", prefix.as_str()),
                    ("ADMIN_USERNAME", "boss"),
                    ("ADMIN_PASSWORD", "boss-password-123"),
                    ("STARTER_CHARACTERS", "true"),
                ];
                (ServerProcess::start(&url, &upstream, dir.path(), &settings), dir)
            })
        })
        .collect();
    let servers: Vec<_> = starting.into_iter().map(|t| t.join().expect("every instance starts")).collect();

    let db = troupe_server::storage::Db::connect(&database.url).await.unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move { sqlx::query_as::<_, (i64,)>(sql).fetch_one(db.pool()).await.unwrap().0 }
    };
    assert_eq!(count("SELECT COUNT(*) FROM users WHERE is_admin = 1").await, 1, "one bootstrap admin");
    let starters = count("SELECT COUNT(*) FROM characters").await;
    assert!(starters > 0);
    assert_eq!(count("SELECT COUNT(DISTINCT name) FROM characters").await, starters, "each starter once");
    let http = reqwest::Client::new();
    for (server, _) in &servers {
        let login = json!({"username": "boss", "password": "boss-password-123"});
        let resp = http.post(server.url("/api/auth/login")).json(&login).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "every instance serves");
    }
}

/// A Redis server of the test's own, to stop and start again.
struct OwnRedis {
    port: u16,
    process: std::process::Child,
}

impl OwnRedis {
    fn start_on(port: u16) -> Self {
        let process = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs it)");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < WAIT, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, process }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        self.process.kill().unwrap();
        self.process.wait().unwrap();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[tokio::test]
async fn without_redis_each_instance_goes_on_alone_and_all_recovers_when_it_returns() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut redis = OwnRedis::start_on(port);
    let cluster = Cluster::start_on(&redis.url(), 2, &[("RATE_LIMIT_MESSAGES_PER_MINUTE", "600")]).await;
    let admin = cluster.admin(0).await;
    let (token, chat) = cluster.chatting_user().await;
    let announce = |text: &'static str| {
        let (cluster, admin) = (&cluster, &admin);
        async move {
            let resp = cluster.post(0, admin, "/api/admin/announcements", json!({"text": text})).await;
            assert_eq!(resp.status(), StatusCode::CREATED);
        }
    };

    redis.stop();
    for instance in [0, 1] {
        assert_eq!(cluster.send(instance, &token, chat).await.status(), StatusCode::CREATED, "chats go on");
    }
    let mut own_listener = cluster.events(0, &token).await;
    announce("Redis is away").await;
    heard(&mut own_listener, "Redis is away").await;

    let _back = OwnRedis::start_on(port);
    let mut on_b = cluster.events(1, &token).await;
    let recovered = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            announce("Redis is back").await;
            if tokio::time::timeout(Duration::from_secs(1), heard(&mut on_b, "Redis is back")).await.is_ok() {
                return;
            }
        }
    })
    .await;
    assert!(recovered.is_ok(), "announcements reach the other instance again once Redis answers");
    assert_eq!(cluster.send(1, &token, chat).await.status(), StatusCode::CREATED);
}

/// nginx with the project's `nginx.conf`, its upstream made of `servers`.
struct Nginx {
    base: String,
    process: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(servers: &[ServerProcess]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let conf = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../nginx.conf")).unwrap();
        let upstream: String =
            servers.iter().map(|s| format!("server {};\n        ", s.address.trim_start_matches("http://"))).collect();
        let mut conf = conf
            .replacen("listen 8000;", &format!("listen 127.0.0.1:{port};"), 1)
            .replacen("server 127.0.0.1:8080;", &upstream, 1)
            .replacen("root /srv/troupe/dist;", &format!("root {};", dir.path().display()), 1);
        // As root, nginx's workers would run as nobody.
        if std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n")) {
            conf = format!("user root;\n{conf}");
        }
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let process = std::process::Command::new("nginx")
            .arg("-c")
            .arg(&path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-g")
            .arg(format!("daemon off; pid {};", dir.path().join("nginx.pid").display()))
            .spawn()
            .expect("nginx (scripts/test installs it)");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < WAIT, "nginx did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { base: format!("http://127.0.0.1:{port}"), process, _dir: dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets nginx's master stop its workers too.
        let _ = std::process::Command::new("kill").arg(self.process.id().to_string()).status();
        let _ = self.process.wait();
    }
}

#[tokio::test]
async fn behind_nginx_live_feeds_and_limits_hold_whichever_instance_answers() {
    let cluster = Cluster::start_with(3, &[("RATE_LIMIT_MESSAGES_PER_MINUTE", "4")]).await;
    let nginx = Nginx::start(&cluster.servers);
    let admin = cluster.admin(0).await;
    let (token, chat) = cluster.chatting_user().await;
    let http = &cluster.http;
    let through = |path: &str| format!("{}{path}", nginx.base);

    // Three listeners, spread over the instances by nginx.
    let mut listeners = Vec::new();
    for _ in 0..3 {
        let resp = http.get(through("/api/events")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        listeners.push(Box::pin(resp.bytes_stream().map(|c| String::from_utf8_lossy(&c.unwrap()).into_owned())));
    }
    let posted = http
        .post(through("/api/admin/announcements"))
        .bearer_auth(&admin)
        .json(&json!({"text": "Through nginx"}))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::CREATED);
    for listener in &mut listeners {
        heard(listener, "Through nginx").await;
    }

    // A room's sockets through nginx, each on whichever instance.
    let character = cluster.post(0, &admin, "/api/characters", json!({"name": "Aria", "visibility": "public"})).await;
    let character = character.json::<Value>().await.unwrap();
    let room = cluster.post(0, &admin, "/api/rooms", json!({"name": "Lobby", "character_id": character["id"]})).await;
    let room = room.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let mut sockets = Vec::new();
    for _ in 0..3 {
        let url = through(&format!("/api/rooms/{room}/ws")).replace("http://", "ws://");
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        sockets.push(tokio_tungstenite::connect_async(request).await.unwrap().0);
    }
    let words: Vec<String> = (0..2).map(|i| format!("hello {i}")).collect();
    for word in &words {
        sockets[0].send(Message::text(json!({"type": "message", "content": word}).to_string())).await.unwrap();
    }
    for socket in &mut sockets {
        assert_eq!(said(socket, 2).await, words);
    }

    // The message limit (2 at once) counts room messages and chat turns alike, wherever they
    // land: the 2 room messages above spent it.
    let refused = http
        .post(through(&format!("/api/chats/{chat}/messages")))
        .bearer_auth(&token)
        .json(&json!({"content": "one more"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_room_has_one_character_reply_at_a_time_over_the_instances() {
    let cluster = Cluster::start(2).await;
    cluster.upstream.set_script(Script { token_interval: Duration::from_millis(100), ..Script::default() });
    let admin = cluster.admin(0).await;
    let character = cluster
        .post(0, &admin, "/api/characters", json!({"name": "Aria", "visibility": "public", "model": "fake-openai"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let body = json!({"name": "Lobby", "character_id": character["id"], "reply_mode": "every_message"});
    let room = cluster.post(0, &admin, "/api/rooms", body).await.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (_, ann) = cluster.user(0).await;
    let (_, bob) = cluster.user(1).await;
    let mut on_a = cluster.room_socket(0, &ann, room).await;
    let mut on_b = cluster.room_socket(1, &bob, room).await;

    for socket in [&mut on_a, &mut on_b] {
        socket.send(Message::text(json!({"type": "message", "content": "sing, Aria"}).to_string())).await.unwrap();
    }
    // The character's messages as A sees them: each reply starts (empty) only after the one
    // before it is done.
    let mut replying: Option<Value> = None;
    let mut done = 0;
    while done < 2 {
        let next = tokio::time::timeout(WAIT, on_a.next()).await.expect("the replies come");
        let Some(Ok(Message::Text(text))) = next else { continue };
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["type"] != "message" || frame["message"]["kind"] != "character" {
            continue;
        }
        let message = &frame["message"];
        if message["content"] == "" {
            assert!(replying.is_none(), "a second reply started while {replying:?} was under way");
            replying = Some(message["id"].clone());
        } else {
            assert_eq!(replying.take(), Some(message["id"].clone()));
            done += 1;
        }
    }
}

#[tokio::test]
async fn a_rooms_presence_counts_people_over_the_instances_and_announces_each_once() {
    let cluster = Cluster::start(3).await;
    let admin = cluster.admin(0).await;
    let character = cluster.post(0, &admin, "/api/characters", json!({"name": "Aria", "visibility": "public"})).await;
    let character = character.json::<Value>().await.unwrap();
    let room = cluster.post(0, &admin, "/api/rooms", json!({"name": "Lobby", "character_id": character["id"]})).await;
    let room = room.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (_, ann) = cluster.user(0).await;
    let (_, bob) = cluster.user(0).await;
    let mut anns_first_tab = cluster.room_socket(0, &ann, room).await;
    let _anns_second_tab = cluster.room_socket(2, &ann, room).await;
    let _bobs = cluster.room_socket(1, &bob, room).await;

    // Presence and attendance lines as A's socket sees them, until the count is 2.
    let mut joined = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let Some(Ok(Message::Text(text))) = anns_first_tab.next().await else { continue };
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["message"]["content"] == "joined" {
                joined.push(frame["message"]["author"].as_str().unwrap().to_owned());
            }
            if frame["type"] == "presence" && frame["participants"] == 2 && joined.join(", ").split(", ").count() >= 2 {
                return;
            }
        }
    })
    .await
    .expect("two people, over three instances");
    let listed: Value =
        cluster.http.get(cluster.url(2, "/api/rooms")).bearer_auth(&ann).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"][0]["participants"], 2, "people, not tabs, over every instance");
    let names: Vec<String> = joined.join(", ").split(", ").map(str::to_owned).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(names.len(), unique.len(), "each person announced once: {joined:?}");
}

/// What a chat turn keeps in memory (its character, lorebooks, the shared prompts, its history)
/// is never served after a change made through another instance: each change below is made
/// through instance 1 after both instances have answered the chat, and the next turn through
/// instance 0 sees it.
#[tokio::test]
async fn a_change_made_through_one_instance_is_in_the_next_turn_on_the_others() {
    let cluster = Cluster::start(2).await;
    let admin = cluster.admin(0).await;
    let (_, token) = cluster.user(0).await;
    let lore =
        |content: &str| json!({"entries": [{"keys": [], "constant": true, "enabled": true, "content": content}]});
    let echo = |version: &str, book: &str| json!({"name": "Echo", "model": "fake-openai", "description": version, "character_book": lore(book)});
    let character =
        cluster.post(0, &token, "/api/characters", echo("Version one of Echo.", "Old character lore.")).await;
    let character = character.json::<Value>().await.unwrap();
    let world =
        |content: &str| json!({"name": "World", "entries": [{"keys": ["hello"], "enabled": true, "content": content}]});
    let book = cluster.post(0, &token, "/api/lorebooks", world("Old world lore.")).await.json::<Value>().await.unwrap();
    let chat = cluster.post(0, &token, "/api/chats", json!({"character_id": character["id"]})).await;
    let chat = chat.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let attach = json!({"lorebook_ids": [book["id"]]});
    assert_eq!(cluster.call(Method::PATCH, 1, &token, &format!("/api/chats/{chat}"), attach).await, StatusCode::OK);
    let rule = |content: &str| json!({"name": "Rule", "content": content});
    let prompt = cluster.post(1, &admin, "/api/prompts", rule("Old house rule.")).await;
    assert_eq!(prompt.status(), StatusCode::CREATED);
    let prompt_url = format!("/api/prompts/{}", prompt.json::<Value>().await.unwrap()["id"]);

    // Both instances answer once, so both hold the chat's character, books, prompts and history.
    for instance in [0, 1] {
        let system = cluster.prompt(instance, &token, chat).await.remove(0);
        for old in ["Version one of Echo.", "Old character lore.", "Old world lore.", "Old house rule."] {
            assert!(system.contains(old), "{old} in {system}");
        }
    }

    // Changed through instance 1, seen through instance 0.
    let character_url = format!("/api/characters/{}", character["id"]);
    let edited = echo("Version two of Echo.", "New character lore.");
    assert_eq!(cluster.call(Method::PUT, 1, &token, &character_url, edited).await, StatusCode::OK);
    let book_url = format!("/api/lorebooks/{}", book["id"]);
    assert_eq!(cluster.call(Method::PUT, 1, &token, &book_url, world("New world lore.")).await, StatusCode::OK);
    assert_eq!(cluster.call(Method::PUT, 1, &admin, &prompt_url, rule("New house rule.")).await, StatusCode::OK);
    let messages = cluster.http.get(cluster.url(1, &format!("/api/chats/{chat}/messages"))).bearer_auth(&token);
    let messages: Value = messages.send().await.unwrap().json().await.unwrap();
    let hello = messages["items"].as_array().unwrap().iter().find(|m| m["role"] == "user").unwrap()["id"].clone();
    let edit = json!({"content": "hello, edited elsewhere"});
    let message_url = format!("/api/chats/{chat}/messages/{hello}");
    assert_eq!(cluster.call(Method::PATCH, 1, &token, &message_url, edit).await, StatusCode::OK);

    let texts = cluster.prompt(0, &token, chat).await;
    for new in ["Version two of Echo.", "New character lore.", "New world lore.", "New house rule."] {
        assert!(texts[0].contains(new), "{new} in {}", texts[0]);
    }
    for old in ["Version one", "Old character lore.", "Old world lore.", "Old house rule."] {
        assert!(!texts[0].contains(old), "{old} in {}", texts[0]);
    }
    assert!(texts.contains(&"hello, edited elsewhere".to_owned()), "{texts:?}");

    // Deleted through instance 1: gone from instance 0's next turn.
    assert_eq!(cluster.call(Method::DELETE, 1, &token, &book_url, Value::Null).await, StatusCode::NO_CONTENT);
    assert_eq!(cluster.call(Method::DELETE, 1, &admin, &prompt_url, Value::Null).await, StatusCode::NO_CONTENT);
    let system = cluster.prompt(0, &token, chat).await.remove(0);
    assert!(!system.contains("New world lore.") && !system.contains("New house rule."), "{system}");
    assert!(system.contains("Version two of Echo."), "{system}");
}

/// One bulk write per account at a time over every instance (429 for the next, with
/// Retry-After); another account's import goes on meanwhile, and the account's next one
/// once the first is done.
#[tokio::test]
async fn an_account_runs_one_import_at_a_time_over_every_instance() {
    let cluster = Cluster::start(2).await;
    let (_, token) = cluster.user(0).await;
    let (_, other) = cluster.user(1).await;
    let cluster = &cluster;
    let character = |token: String| async move {
        let made = cluster.post(0, &token, "/api/characters", json!({"name": "Aria"})).await;
        made.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    };
    let (mine, theirs) = (character(token.clone()).await, character(other.clone()).await);
    let file = |messages: usize| {
        let line = format!("{{\"mes\":\"{}\",\"is_user\":true}}\n", "w".repeat(800));
        format!("{{\"user_name\":\"u\"}}\n{}", line.repeat(messages))
    };
    let import = |instance: usize, token: &str, character: i64, body: String| {
        let url = cluster.url(instance, &format!("/api/chats/import?character_id={character}"));
        cluster.http.post(url).bearer_auth(token).body(body).send()
    };

    let db = troupe_server::storage::Db::connect(&cluster._database.url).await.unwrap();
    let meanwhile = async {
        let started = std::time::Instant::now();
        while sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM chats WHERE bulk_write_at IS NOT NULL")
            .fetch_one(db.pool())
            .await
            .unwrap()
            == 0
        {
            assert!(started.elapsed() < Duration::from_secs(60), "the first import began writing");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let second = import(1, &token, mine, file(2)).await.unwrap();
        assert_eq!(second.headers()["retry-after"], "5");
        let (code, _) = error_code(second, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(code, "bulk_write_in_progress");
        assert_eq!(import(1, &other, theirs, file(2)).await.unwrap().status(), StatusCode::CREATED, "others go on");
    };
    let (first, ()) = tokio::join!(import(0, &token, mine, file(19_000)), meanwhile);
    assert_eq!(first.unwrap().status(), StatusCode::CREATED);
    assert_eq!(import(1, &token, mine, file(2)).await.unwrap().status(), StatusCode::CREATED, "then the next");
}
