//! Benchmark (not a test): character cards and lorebooks. Run with
//! `cargo bench -p troupe-server --bench cards`.
//!
//! Reports: the lorebook scan of one turn (a 1,000-entry book of 3 keys each against 200
//! messages, at scan depth 2 and 200), p50/p99; importing a folder of 100 PNG cards (256 px,
//! each with a 20-entry lorebook) in one request through the real server, p50/p99 of 5 runs,
//! and the server's peak RSS.

mod support;

use std::time::Instant;

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use support::{Server, post_json, report};
use troupe_server::services::lore;
use troupe_types::{Lorebook, LorebookEntry};

const ENTRIES: usize = 1_000;
const MESSAGES: usize = 200;
const SCANS: usize = 1_000;
const CARDS: usize = 100;
const IMPORTS: usize = 5;

#[tokio::main]
async fn main() {
    scan_per_turn();
    import_a_folder().await;
}

fn words(seed: usize, n: usize) -> String {
    (0..n).map(|i| format!("word{}", (seed * 31 + i * 7) % 5_000)).collect::<Vec<_>>().join(" ")
}

fn scan_per_turn() {
    let entries = (0..ENTRIES)
        .map(|i| LorebookEntry {
            keys: vec![format!("word{i}"), format!("Name{i}"), format!("place {i}")],
            content: words(i, 40),
            enabled: true,
            insertion_order: i as i64,
            ..LorebookEntry::default()
        })
        .collect();
    let messages: Vec<String> = (0..MESSAGES).map(|i| words(i + 10_000, 60)).collect();
    let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
    for depth in [2, MESSAGES as i64] {
        let book = Lorebook { entries: Vec::clone(&entries), scan_depth: Some(depth), ..Lorebook::default() };
        let book = lore::PreparedBook::new(book, None);
        let mut samples = Vec::with_capacity(SCANS);
        let mut inserted = 0;
        for _ in 0..SCANS {
            let start = Instant::now();
            let lore = lore::scan(&[&book], &messages, usize::MAX);
            samples.push(start.elapsed().as_secs_f64() * 1000.0);
            inserted = lore.before_char.len();
        }
        samples.sort_by(f64::total_cmp);
        report(
            &format!("lorebook scan, {ENTRIES} entries, {MESSAGES} messages, depth {depth} ({inserted} inserted)"),
            &samples,
        );
    }
}

/// A PNG of 256 × 256 with a V2 card in its `chara` chunk.
fn card_png(i: usize) -> Vec<u8> {
    let entries: Vec<Value> = (0..20)
        .map(|e| json!({"keys": [format!("key{e}")], "content": words(e, 50), "enabled": true, "insertion_order": e}))
        .collect();
    let card = json!({"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": format!("Card {i}"), "description": words(i, 300), "personality": words(i, 50), "scenario": words(i, 50),
        "first_mes": words(i, 80), "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Hello.",
        "alternate_greetings": [words(i, 40), words(i + 1, 40)], "tags": ["bench", "fantasy"],
        "extensions": {"world": "bench"}, "character_book": {"name": "lore", "entries": entries}}});
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 256, 256);
    encoder.set_color(png::ColorType::Rgba);
    encoder.add_text_chunk("chara".into(), STANDARD.encode(card.to_string())).unwrap();
    let mut writer = encoder.write_header().unwrap();
    let pixels: Vec<u8> = (0..256 * 256 * 4).map(|p| ((p * 7 + i) % 251) as u8).collect();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// A `multipart/form-data` body with one `file` part per file: its content type and bytes.
fn multipart(files: &[Vec<u8>]) -> (String, Vec<u8>) {
    let boundary = "troupe-bench-boundary";
    let mut body = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"card{i}.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        );
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn import_a_folder() {
    let data = tempfile::tempdir().unwrap();
    let database_url = support::database_url(data.path());
    let data_dir = data.path().to_string_lossy().into_owned();
    let server = Server::start([
        ("DATABASE_URL", database_url.as_str()),
        ("DATA_DIR", data_dir.as_str()),
        ("RATE_LIMIT_AUTH_PER_MINUTE", "0"),
        ("RATE_LIMIT_WRITES_PER_MINUTE", "0"),
    ]);
    let client = reqwest::Client::new();
    let body = json!({"username": "bench", "password": "bench-pass-1"});
    let token = post_json(&client, format!("{}/api/auth/register", server.base), None, body).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let files: Vec<Vec<u8>> = (0..CARDS).map(card_png).collect();
    let megabytes = files.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
    let mut samples = Vec::with_capacity(IMPORTS);
    for _ in 0..IMPORTS {
        let (content_type, body) = multipart(&files);
        let start = Instant::now();
        let resp = client
            .post(format!("{}/api/characters/import", server.base))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let answer: Value = resp.json().await.unwrap();
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
        let imported = answer["items"].as_array().unwrap().iter().filter(|i| i["character"].is_object()).count();
        assert_eq!(imported, CARDS, "{answer}");
    }
    samples.sort_by(f64::total_cmp);
    report(&format!("import {CARDS} PNG cards ({megabytes:.1} MB) in one request"), &samples);
    println!("server peak RSS: {:.1} MB", server.memory_mb("VmHWM"));
}
