//! What nginx must do for the product, checked at the HTTP level through the real proxy.

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::header;
use serde_json::{Value, json};

use crate::stack::{ADMIN, Api, Stack};

#[tokio::test(flavor = "multi_thread")]
async fn streamed_replies_arrive_token_by_token_through_nginx() {
    let stack = Stack::start(&[("DEMO_DELAY_MS", "50")]);
    let api = Api::new(&stack);
    let (token, chat) = api.user_with_chat("sse_user").await;

    let started = Instant::now();
    let resp = api
        .http
        .post(format!("{}/api/chats/{chat}/messages", stack.base))
        .bearer_auth(&token)
        .header(header::ACCEPT, "text/event-stream")
        .header(header::ACCEPT_ENCODING, "gzip")
        .json(&json!({"content": "Tell me about the whale"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get(header::CONTENT_ENCODING).is_none(), "an event stream must not be compressed");
    let mut events = resp.bytes_stream().eventsource();
    let mut deltas = Vec::new();
    let mut done_at = None;
    while let Some(event) = events.next().await {
        let event = event.unwrap();
        match event.event.as_str() {
            "delta" => deltas.push(started.elapsed()),
            "done" => done_at = Some(started.elapsed()),
            _ => {}
        }
    }
    let done_at = done_at.expect("the stream ends with `done`");
    assert!(deltas.len() >= 5, "several deltas, got {}", deltas.len());
    // Buffered, every delta would land together with `done`; unbuffered they are spread out.
    let spread = *deltas.last().unwrap() - deltas[0];
    assert!(spread >= Duration::from_millis(150), "deltas arrived within {spread:?}: nginx buffered the stream");
    assert!(
        done_at - deltas[0] >= Duration::from_millis(150),
        "the first delta came {:?} before done",
        done_at - deltas[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn websockets_and_announcement_events_pass_through_nginx() {
    let stack = Stack::start(&[]);
    let api = Api::new(&stack);
    let admin = api.token("/api/auth/login", ADMIN.0, ADMIN.1).await;
    let (user, _) = api.user_with_chat("listener").await;

    // The admin live feed: a 101 upgrade, then a snapshot.
    let ws_url = format!("{}/api/admin/live", stack.base.replace("http://", "ws://"));
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
    request.headers_mut().insert("Authorization", format!("Bearer {admin}").parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.expect("the upgrade passes nginx");
    assert_eq!(response.status(), 101);
    let first = tokio::time::timeout(Duration::from_secs(10), socket.next()).await.unwrap().unwrap().unwrap();
    let stats: Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert!(stats["online_users"].as_i64().unwrap() >= 1, "{stats}");

    // Announcements over SSE on /api/events reach a user as they are posted.
    let resp = api
        .http
        .get(format!("{}/api/events", stack.base))
        .bearer_auth(&user)
        .header(header::ACCEPT, "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut events = resp.bytes_stream().eventsource();
    api.post(&admin, "/api/admin/announcements", json!({"text": "Dry dock on Friday"})).await;
    let event = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the event arrives")
        .unwrap()
        .unwrap();
    assert_eq!(event.event, "announcement");
    assert!(event.data.contains("Dry dock on Friday"));
}

#[tokio::test(flavor = "multi_thread")]
async fn nginx_serves_the_app_with_security_and_cache_headers_within_budget() {
    let stack = Stack::start(&[]);
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    let get = |path: &str| http.get(format!("{}{path}", stack.base)).header(header::ACCEPT_ENCODING, "gzip").send();

    // Each app's page, for any of its client routes, within the budget; the admin console is an
    // app of its own, so that its code is not in everyone's download.
    let app = initial_download(&http, &stack.base, "/chats/42", "troupe-web").await;
    let admin = initial_download(&http, &stack.base, "/admin/users", "troupe-admin").await;
    for (name, gzip_bytes) in [("the app", app), ("the admin console", admin)] {
        println!(
            "{name}: initial download (wasm + JS + CSS, gzip) {gzip_bytes} bytes ({:.1} KB)",
            gzip_bytes as f64 / 1024.0
        );
        assert!(gzip_bytes <= 350 * 1024, "{name}'s initial download is {gzip_bytes} bytes, over the 350 KB budget");
    }
    // The Markdown worker, not in the page: loaded after it, and checked for a new build each time.
    let worker = get("/markdown-worker_bg.wasm").await.unwrap();
    assert_eq!(worker.status(), 200);
    assert_eq!(worker.headers()[header::CACHE_CONTROL], "no-cache");
    assert_eq!(worker.headers()[header::CONTENT_ENCODING], "gzip");
    assert!(worker.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("'wasm-unsafe-eval'"));

    // The API through the proxy keeps its own answers; the edge adds its headers.
    let health = get("/healthz").await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().get(header::CONTENT_SECURITY_POLICY).is_some());
    for path in ["/openapi.json", "/docs", "/metrics"] {
        assert_eq!(get(path).await.unwrap().status(), 200, "{path}");
    }
    // /metrics only for the addresses nginx.conf allows (this machine's 127.0.0.1, not .2).
    let elsewhere = reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap());
    let metrics = elsewhere.build().unwrap().get(format!("{}/metrics", stack.base)).send().await.unwrap();
    assert_eq!(metrics.status(), 403);
    assert_eq!(metrics.json::<Value>().await.unwrap()["error"]["code"], "forbidden");
    assert!(health.headers().get(header::STRICT_TRANSPORT_SECURITY).is_none(), "no HSTS over plain http");
    // Over TLS, every answer (the app, the API, nginx's own errors) says to stay on https.
    let tls = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    for path in ["/", "/healthz", "/api/auth/me", "/api/nope"] {
        let resp = tls.get(format!("{}{path}", stack.tls_base)).send().await.unwrap();
        let hsts = resp.headers().get(header::STRICT_TRANSPORT_SECURITY).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(hsts.as_deref(), Some("max-age=63072000; includeSubDomains"), "{path}");
    }
    let missing = get("/api/nope").await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_edge_limits_sign_in_attempts_with_the_contract_error() {
    // The server's own limit is raised so that what answers 429 here is nginx.
    let stack = Stack::start(&[("RATE_LIMIT_AUTH_PER_MINUTE", "10000")]);
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut limited = None;
    for i in 0..40 {
        // A name each: the server's own per-account back-off must not answer first.
        let resp = http
            .post(format!("{}/api/auth/login", stack.base))
            .json(&json!({"username": format!("nobody_{i}"), "password": "wrong-password-1"}))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            assert!(resp.headers().contains_key(header::RETRY_AFTER));
            assert_eq!(resp.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            limited = Some(resp.json::<Value>().await.unwrap());
            break;
        }
    }
    let body = limited.unwrap_or_else(|| panic!("no 429 from the edge: {statuses:?}"));
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(statuses.iter().filter(|s| **s == 401).count() >= 5, "{statuses:?}");

    // Too large a body is refused at the edge, in the same error shape (1 MiB, except the
    // uploads and characters, which carry lorebooks: nginx.conf says which).
    let big = "x".repeat(2 * 1024 * 1024);
    let resp = http.post(format!("{}/api/personas", stack.base)).body(big).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "payload_too_large");
}

/// Checks the page `path` is served as `bin`'s (no-cache, a policy whose nonce it carries) and
/// its hashed build files as immutable gzip; returns what they weigh, gzip-compressed.
async fn initial_download(http: &reqwest::Client, base: &str, path: &str, bin: &str) -> usize {
    let get = |path: &str| http.get(format!("{base}{path}")).header(header::ACCEPT_ENCODING, "gzip").send();
    let index = http.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let headers = index.headers().clone();
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::REFERRER_POLICY], "strict-origin-when-cross-origin");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(
        csp.contains("'wasm-unsafe-eval'")
            && !csp.contains("'unsafe-eval'")
            && !csp.contains("script-src 'self' 'unsafe-inline'")
    );
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce in the policy");
    let html = index.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the boot script carries this request's nonce");
    assert!(!html.contains("TROUPE_CSP_NONCE"), "every placeholder is replaced");
    assert!(html.contains(&format!("/{bin}-")), "{path} is {bin}'s page");
    let again = http.get(format!("{base}{path}")).send().await.unwrap();
    assert_ne!(again.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap(), csp, "a fresh nonce per request");

    // The hashed build files: cached for a year, gzip-compressed, wasm with its type.
    let assets: std::collections::BTreeSet<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with('/') && (s.ends_with(".wasm") || s.ends_with(".js") || s.ends_with(".css")))
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".wasm")) && assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
    let mut gzip_bytes = 0;
    for asset in assets {
        let resp = get(asset).await.unwrap();
        assert_eq!(resp.status(), 200, "{asset}");
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable", "{asset}");
        assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip", "{asset}");
        if asset.ends_with(".wasm") {
            assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/wasm");
        }
        gzip_bytes += resp.bytes().await.unwrap().len();
    }
    gzip_bytes
}
