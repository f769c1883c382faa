//! Benchmark (not a test): live rooms' fan-out over WebSockets, through the real server binary.
//! Run with `cargo bench -p troupe-server --bench rooms`; `BENCH_DATABASE_URL=postgres://…`
//! measures on PostgreSQL instead of a fresh SQLite file. 500 sockets and the server need more
//! than 1,024 open files: raise `ulimit -n` first if yours is that low.
//!
//! Each client is a user of its own, reading its socket in a task of its own. Messages go out
//! one round at a time: a round sends one message in each room at once (each room's clients
//! take turns to send) and waits until every client of the room has it, so latencies are
//! without queueing behind earlier messages. Per message: from just before it is sent to its
//! last client's receipt (p50/p99/max); per receipt: to that client's (p50/p99). Mention mode
//! and text without the character's name: no reply is generated, only fan-out.
//!
//! Reports one room of 500 clients (200 messages), then 50 rooms of 10 (100 rounds of 50
//! messages), and the server's RSS before the 500 connect, once they idle, and at its peak while
//! they talk. Client and server share this machine's cores.

mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use serde_json::json;
use support::{Server, percentile, post_json};
use tokio::sync::mpsc;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest},
};
use troupe_types::{ClientFrame, CreateRoom, ReplyMode, ServerFrame};

const CLIENTS: usize = 500;
const BIG_ROOM_MESSAGES: usize = 200;
const SMALL_ROOMS: usize = 50;
const SMALL_ROOM_ROUNDS: usize = 100;
/// Connections and sign-ups under way at once.
const CONNECTING: usize = 50;
const SIGNING_UP: usize = 8;
/// Every message's text starts with this, then its sequence number.
const MARKER: &str = "fan-out #";
/// How long a round may take before the bench gives up on a lost message.
const WAIT: Duration = Duration::from_secs(30);

type Sink = SplitSink<WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>, Message>;

#[tokio::main]
async fn main() {
    let data = tempfile::tempdir().unwrap();
    let database_url = support::database_url(data.path());
    let data_dir = data.path().to_string_lossy().into_owned();
    let server = Server::start([
        ("DATABASE_URL", database_url.as_str()),
        ("DATA_DIR", data_dir.as_str()),
        ("RATE_LIMIT_MESSAGES_PER_MINUTE", "0"),
        ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
        ("RATE_LIMIT_WRITES_PER_MINUTE", "0"),
        ("STARTER_CHARACTERS", "false"),
    ]);
    let base = server.base.clone();
    println!("database: {}", database_url.split(':').next().unwrap());

    let client = reqwest::Client::new();
    // The first account of a fresh server is its admin (FIRST_ACCOUNT_ADMIN defaults to true).
    let admin = sign_up(&client, &base, "bench_admin".into()).await;
    let names = (0..CLIENTS).map(|i| format!("bench_{i}"));
    let tokens: Vec<String> = futures_util::stream::iter(names)
        .map(|name| sign_up(&client, &base, name))
        .buffered(SIGNING_UP)
        .collect()
        .await;
    let character = post_json(
        &client,
        format!("{base}/api/characters"),
        Some(&admin),
        json!({"name": "Aria", "system_prompt": "You are {{char}}."}),
    )
    .await;
    let character = character["id"].as_i64().expect("a character");
    let mut rooms = Vec::new();
    for i in 0..=SMALL_ROOMS {
        let room = CreateRoom {
            name: format!("Room {i}"),
            character_id: character,
            slow_mode_secs: 0,
            reply_mode: ReplyMode::Mention,
        };
        let room =
            post_json(&client, format!("{base}/api/rooms"), Some(&admin), serde_json::to_value(room).unwrap()).await;
        rooms.push(room["id"].as_i64().expect("a room"));
    }

    let before = server.memory_mb("VmRSS");
    reset_peak_memory(&server);
    let mut big = Clients::connect(&base, &tokens, &rooms[..1], CLIENTS).await;
    // Past the attendance line (one a second at most), so that the room is idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = server.memory_mb("VmRSS");
    println!("{CLIENTS} clients connected in {:.2} s", big.connected_in.as_secs_f64());
    let cpu = server.cpu_seconds();
    let (last, each) = big.talk(BIG_ROOM_MESSAGES).await;
    let label = format!("1 room x {CLIENTS} clients, {BIG_ROOM_MESSAGES} messages one after another");
    report(&label, &last, &each, server.cpu_seconds() - cpu);
    let peak = server.memory_mb("VmHWM");
    println!(
        "server RSS, {CLIENTS} clients in 1 room: before {before:.1} MB, connected and idle {idle:.1} MB \
         (+{:.1} MB, {:.1} KB a client), peak while talking {peak:.1} MB (+{:.1} MB)",
        idle - before,
        (idle - before) * 1024.0 / CLIENTS as f64,
        peak - before,
    );
    drop(big);

    let mut small = Clients::connect(&base, &tokens, &rooms[1..], CLIENTS / SMALL_ROOMS).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "{CLIENTS} clients connected to {SMALL_ROOMS} rooms in {:.2} s; server RSS {:.1} MB",
        small.connected_in.as_secs_f64(),
        server.memory_mb("VmRSS")
    );
    let cpu = server.cpu_seconds();
    let (last, each) = small.talk(SMALL_ROOM_ROUNDS).await;
    report(
        &format!(
            "{SMALL_ROOMS} rooms x {} clients, {SMALL_ROOM_ROUNDS} rounds of a message in every room at once",
            CLIENTS / SMALL_ROOMS
        ),
        &last,
        &each,
        server.cpu_seconds() - cpu,
    );
    println!("server peak RSS overall since the clients first connected: {:.1} MB", server.memory_mb("VmHWM"));
}

/// Registers `username`; returns its token.
async fn sign_up(client: &reqwest::Client, base: &str, username: String) -> String {
    let body = json!({"username": username, "password": "bench-pass-1"});
    let auth = post_json(client, format!("{base}/api/auth/register"), None, body).await;
    auth["token"].as_str().expect("registered").to_owned()
}

/// Starts the server's `VmHWM` again from its RSS now (Linux's `clear_refs`), so that the peak
/// read later is the clients', not sign-ups' argon2.
fn reset_peak_memory(server: &Server) {
    if std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5").is_err() {
        println!("(could not reset the server's peak RSS: the peak below includes sign-ups)");
    }
}

/// Clients in rooms: client `i` is in room `i / room_size`, and sends through `sinks[i]`;
/// every client's reader reports `(sequence number, when)` of each message it receives.
struct Clients {
    sinks: Vec<Sink>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    receipts: mpsc::UnboundedReceiver<(usize, Instant)>,
    room_size: usize,
    /// Messages sent so far: the next one's sequence number.
    sent: usize,
    connected_in: Duration,
}

impl Clients {
    /// One client per token, `room_size` to each of `rooms`, `CONNECTING` at a time.
    async fn connect(base: &str, tokens: &[String], rooms: &[i64], room_size: usize) -> Self {
        let started = Instant::now();
        let (report, receipts) = mpsc::unbounded_channel();
        let urls = (0..rooms.len() * room_size).map(|i| {
            let url = format!("{}/api/rooms/{}/ws", base.replace("http://", "ws://"), rooms[i / room_size]);
            let mut request = url.into_client_request().unwrap();
            request.headers_mut().insert("authorization", format!("Bearer {}", tokens[i]).parse().unwrap());
            request
        });
        let sockets: Vec<_> = futures_util::stream::iter(urls)
            .map(|request| async { tokio_tungstenite::connect_async(request).await.expect("the room accepts").0 })
            .buffered(CONNECTING)
            .collect()
            .await;
        let (sinks, readers) = sockets
            .into_iter()
            .map(|socket| {
                let (sink, mut stream) = socket.split();
                let report = report.clone();
                let reader = tokio::spawn(async move {
                    while let Some(frame) = stream.next().await {
                        let at = Instant::now();
                        let Ok(Message::Text(text)) = frame else { continue };
                        if let Ok(ServerFrame::Message { message }) = serde_json::from_str(&text)
                            && let Some(seq) = message.content.strip_prefix(MARKER).and_then(|n| n.parse().ok())
                        {
                            let _ = report.send((seq, at));
                        }
                    }
                    eprintln!("a client's socket closed");
                });
                (sink, reader)
            })
            .unzip();
        Self { sinks, readers, receipts, room_size, sent: 0, connected_in: started.elapsed() }
    }

    /// `rounds` rounds; returns the per-message and per-receipt latencies (ms, sorted).
    async fn talk(&mut self, rounds: usize) -> (Vec<f64>, Vec<f64>) {
        let (mut last, mut each) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let (round_last, round_each) = self.round(round).await;
            last.extend(round_last);
            each.extend(round_each);
        }
        last.sort_by(f64::total_cmp);
        each.sort_by(f64::total_cmp);
        (last, each)
    }

    /// A message in every room at once, by the rooms' `round`-th clients; waits until every
    /// client has its room's.
    async fn round(&mut self, round: usize) -> (Vec<f64>, Vec<f64>) {
        let first = self.sent;
        let sends = self.sinks.chunks_mut(self.room_size).enumerate().map(|(room, sinks)| {
            let content = format!("{MARKER}{}", first + room);
            let frame = serde_json::to_string(&ClientFrame::Message { content }).unwrap();
            let sink = &mut sinks[round % sinks.len()];
            async move {
                let sent = Instant::now();
                sink.send(Message::text(frame)).await.expect("the message goes out");
                sent
            }
        });
        let sent: Vec<Instant> = futures_util::future::join_all(sends).await;
        self.sent += sent.len();
        let mut last = vec![0.0_f64; sent.len()];
        let mut each = Vec::with_capacity(self.sinks.len());
        while each.len() < self.sinks.len() {
            let (seq, at) = tokio::time::timeout(WAIT, self.receipts.recv())
                .await
                .unwrap_or_else(|_| panic!("{} of {} receipts in time", each.len(), self.sinks.len()))
                .unwrap();
            let room = seq.checked_sub(first).expect("only this round's messages are pending");
            let ms = at.duration_since(sent[room]).as_secs_f64() * 1000.0;
            last[room] = last[room].max(ms);
            each.push(ms);
        }
        (last, each)
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        // The readers hold the sockets' other halves: ending them closes the connections.
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// The latencies, and the server's CPU time (`cpu_seconds` in all) per message.
fn report(label: &str, last: &[f64], each: &[f64], cpu_seconds: f64) {
    println!(
        "{label}: to the last client p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={}); \
         to each client p50 {:.2} ms, p99 {:.2} ms (n={}); server CPU {:.2} ms a message",
        percentile(last, 0.5),
        percentile(last, 0.99),
        last.last().unwrap(),
        last.len(),
        percentile(each, 0.5),
        percentile(each, 0.99),
        each.len(),
        cpu_seconds * 1000.0 / last.len() as f64,
    );
}
