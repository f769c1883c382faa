//! What a hostile signed-in user could do to accounting and limits, and what must hold instead:
//! replies stopped and charged when their chat goes, bounded work per request, bounded metrics,
//! live connections that end with their session, quota reservations, and the smaller holes.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use troupe_fake_upstream::Script;

use crate::helpers::{Engine, TestApp, TestUser, error_code, spawn_app, spawn_app_with, sse_events};

/// Tokens charged to `user` today, as the quota sees them.
/// A long, slow reply: 60 pieces, 30 ms apart.
fn slow_script() -> Script {
    Script {
        tokens: (0..60).map(|i| format!(" w{i}")).collect(),
        token_interval: Duration::from_millis(30),
        ..Script::default()
    }
}

async fn deleting_a_chat_mid_stream_stops_the_reply_and_charges_it(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    app.set_quota(user.id, 1).await;
    let chat = app.new_chat(&user.token, "fake-openai").await;
    app.upstream.set_script(slow_script());

    let resp = app.send_streaming(&user.token, chat, "tell me a long story").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("event: delta") {
        seen.push_str(&String::from_utf8_lossy(&body.next().await.unwrap().unwrap()));
    }
    assert_eq!(app.delete_authed(&format!("/api/chats/{chat}"), &user.token).await.status(), StatusCode::NO_CONTENT);
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), body.next()).await.expect("the stream ends") {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }

    let events = sse_events(&seen);
    let deltas = events.iter().filter(|(name, _)| name == "delta").count();
    assert!(deltas < 60, "the reply was stopped, not streamed whole ({deltas} deltas)");
    let (last, data) = events.last().unwrap();
    assert_eq!((last.as_str(), data["code"].as_str()), ("error", Some("chat_deleted")), "{seen}");
    let charged = app.tokens_today(user.id).await;
    assert!(charged > 0, "what was generated is charged");
    let generations: i64 = sqlx::query_scalar(
        "SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM generations WHERE user_id = $1",
    )
    .bind(user.id)
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(generations, charged, "the ledger equals the sum over generations");
    let next_chat = app.new_chat(&user.token, "fake-openai").await;
    let (code, _) = error_code(app.send(&user.token, next_chat, "again").await, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "quota_exceeded", "the quota saw the charge");
}

async fn a_tag_flood_is_refused_before_its_tags_are_read(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    // 100,000 distinct tags, one of them malformed halfway: the count is checked first.
    let mut tags: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
    tags[50_000] = "bad\ttag".into();

    let resp = app.post_authed("/api/characters", &user.token, &json!({"name": "Flood", "tags": tags})).await;

    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_tags");
    assert_eq!(body["error"]["message"], "at most 50 tags", "refused by its length, before any tag was read");
    let listed: Value = app.get_authed("/api/characters?mine=true", &user.token).await.json().await.unwrap();
    assert_eq!(listed["total"], 0);
}

async fn invented_methods_share_one_metrics_label(engine: Engine) {
    let app = spawn_app(engine).await;
    for name in ["ZZABC", "ZZABD", "BREW"] {
        let method = reqwest::Method::from_bytes(name.as_bytes()).unwrap();
        app.client.request(method, app.url("/api/x")).send().await.unwrap();
    }

    let metrics = app.get("/metrics").await.text().await.unwrap();

    assert!(!metrics.contains("method=\"ZZABC\"") && !metrics.contains("method=\"BREW\""), "no series per method");
    assert!(metrics.contains("method=\"other\""), "counted under `other`");
}

/// Opens `/api/events` with `token` and returns the body stream.
async fn open_events(app: &TestApp, token: &str) -> impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> {
    let resp = app.get_authed("/api/events", token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes_stream()
}

/// Reads the stream until it ends; panics if it is still open after 10 s.
async fn until_closed(mut events: impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin) -> String {
    let mut seen = String::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("the stream is closed") {
            Some(Ok(chunk)) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            Some(Err(_)) | None => return seen,
        }
    }
}

async fn announce(app: &TestApp, admin: &TestUser, text: &str) {
    let resp = app.post_authed("/api/admin/announcements", &admin.token, &json!({"text": text, "level": "info"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

async fn admin(app: &TestApp) -> TestUser {
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    admin
}

async fn live_events_end_when_the_token_is_signed_out(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let user = app.new_user().await;
    let events = Box::pin(open_events(&app, &user.token).await);

    assert_eq!(app.logout(&user.token).await.status(), StatusCode::NO_CONTENT);
    let seen = until_closed(events).await;
    announce(&app, &boss, "after sign-out").await;

    assert!(!seen.contains("after sign-out"), "{seen}");
}

async fn live_events_end_when_the_account_is_disabled(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let user = app.new_user().await;
    let events = Box::pin(open_events(&app, &user.token).await);

    let resp =
        app.patch_authed(&format!("/api/admin/users/{}", user.id), &boss.token, &json!({"disabled": true})).await;
    assert_eq!(resp.status(), StatusCode::OK);

    until_closed(events).await;
}

async fn live_events_end_when_the_token_expires(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": user.id.to_string(), "iat": now, "exp": now + 2, "jti": "short-lived"});
    let key = jsonwebtoken::EncodingKey::from_secret(app.jwt_secret.as_bytes());
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap();

    until_closed(Box::pin(open_events(&app, &token).await)).await;
}

/// Connects to `/api/admin/live` with the session cookie and `origin`.
async fn live_feed(
    app: &TestApp,
    token: &str,
    origin: &str,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    tokio_tungstenite::tungstenite::Error,
> {
    let url = format!("{}/api/admin/live", app.address.replace("http://", "ws://"));
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("cookie", format!("troupe_session={token}").parse().unwrap());
    request.headers_mut().insert("origin", origin.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

async fn the_admin_live_feed_closes_when_its_admin_is_demoted(engine: Engine) {
    let app = spawn_app(engine).await;
    let (boss, deputy) = (admin(&app).await, admin(&app).await);
    let mut socket = live_feed(&app, &deputy.token, &app.address).await.expect("an admin may connect");

    let resp =
        app.patch_authed(&format!("/api/admin/users/{}", deputy.id), &boss.token, &json!({"is_admin": false})).await;
    assert_eq!(resp.status(), StatusCode::OK);

    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(message)) = socket.next().await {
            if message.is_close() {
                return true;
            }
        }
        true
    });
    assert!(closed.await.expect("the socket closes"));
}

async fn a_cross_site_websocket_with_the_cookie_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;

    let refused = live_feed(&app, &boss.token, "https://evil.example").await.unwrap_err();

    match refused {
        tokio_tungstenite::tungstenite::Error::Http(resp) => assert_eq!(resp.status(), StatusCode::FORBIDDEN),
        other => panic!("expected 403, got {other:?}"),
    }
    assert!(live_feed(&app, &boss.token, &app.address).await.is_ok(), "our own origin is fine");
}

async fn live_connections_are_capped_per_user(engine: Engine) {
    let app = spawn_app_with(engine, &[("MAX_LIVE_CONNECTIONS_PER_USER", "2")]).await;
    let user = app.new_user().await;
    let first = open_events(&app, &user.token).await;
    let _second = open_events(&app, &user.token).await;

    let (code, _) = error_code(app.get_authed("/api/events", &user.token).await, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "too_many_connections");
    let other = app.new_user().await;
    let _theirs = open_events(&app, &other.token).await;
    drop(first);
    // The server notices a closed connection when it next writes to it: the keep-alive, every
    // 15 s, at the latest.
    let mut reopened = false;
    for _ in 0..200 {
        if app.get_authed("/api/events", &user.token).await.status() == StatusCode::OK {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened, "a closed connection frees its place");
}

async fn concurrent_sends_cannot_overspend_the_quota(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    app.set_quota(user.id, 35).await;
    let chat = app.new_chat(&user.token, "fake-openai").await;
    app.upstream.set_script(Script { first_token_delay: Duration::from_millis(300), ..Script::default() });

    let (a, b) = tokio::join!(app.send(&user.token, chat, "first"), app.send(&user.token, chat, "second"));

    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS],
        "the second sees the first's reservation"
    );
    let refused = if a.status() == StatusCode::CREATED { b } else { a };
    assert_eq!(error_code(refused, StatusCode::TOO_MANY_REQUESTS).await.0, "quota_exceeded");
    // The fake charges 42 + 6 tokens for a turn: one turn over at most.
    assert_eq!(app.tokens_today(user.id).await, 48);
}

async fn an_account_backs_off_after_failed_sign_ins_from_any_address(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let attempt = |i: u32, password: &'static str| {
        let (client, url, username) = (app.client.clone(), app.url("/api/auth/login"), user.username.clone());
        async move {
            client
                .post(url)
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .json(&json!({"username": username.to_uppercase(), "password": password}))
                .send()
                .await
                .unwrap()
        }
    };
    for i in 0..5 {
        assert_eq!(attempt(i, "wrong-pass-1").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(attempt(5, "wrong-pass-1").await.status(), StatusCode::UNAUTHORIZED);

    let resp = attempt(6, crate::helpers::PASSWORD).await;

    let (code, _) = error_code(resp, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "rate_limited", "even the right password waits");
    let unknown = app.login("nobody_here", "wrong-pass-1").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED, "other names are not held back");
}

async fn ipv6_clients_share_a_limit_per_64(engine: Engine) {
    let app = spawn_app_with(engine, &[("RATE_LIMIT_AUTH_PER_MINUTE", "2")]).await;
    let from = |address: &'static str| {
        let (client, url) = (app.client.clone(), app.url("/api/auth/login"));
        async move {
            let body = json!({"username": "nobody", "password": "wrong-pass-1"});
            client.post(url).header("x-forwarded-for", address).json(&body).send().await.unwrap().status()
        }
    };

    assert_eq!(from("2001:db8:1:2::1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(from("2001:db8:1:2::2").await, StatusCode::UNAUTHORIZED);
    assert_eq!(from("2001:db8:1:2:ffff::3").await, StatusCode::TOO_MANY_REQUESTS, "same /64");
    assert_eq!(from("2001:db8:1:3::1").await, StatusCode::UNAUTHORIZED, "another /64");
}

async fn demote(app: &TestApp, actor: &TestUser, target: &TestUser) -> reqwest::Response {
    app.patch_authed(&format!("/api/admin/users/{}", target.id), &actor.token, &json!({"is_admin": false})).await
}

async fn two_admins_demoting_each_other_leave_one_admin(engine: Engine) {
    let app = spawn_app(engine).await;
    for round in 0..8 {
        let (a, b) = (admin(&app).await, admin(&app).await);
        // Earlier rounds' admins step aside first, so these two are the only ones.
        sqlx::query("UPDATE users SET is_admin = 0 WHERE id <> $1 AND id <> $2")
            .bind(a.id)
            .bind(b.id)
            .execute(app.db.pool())
            .await
            .unwrap();
        let (x, y) = tokio::join!(demote(&app, &a, &b), demote(&app, &b, &a));

        let admins: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin = 1").fetch_one(app.db.pool()).await.unwrap();
        assert_eq!(admins, 1, "round {round}: {} and {}", x.status(), y.status());
    }
}

async fn creates_are_rate_limited(engine: Engine) {
    let app = spawn_app_with(engine, &[("RATE_LIMIT_WRITES_PER_MINUTE", "4")]).await;
    let user = app.new_user().await;
    // A burst of half the minute's allowance: two creates, of any kind.
    let character = app.create_character(&user.token, json!({"name": "One"})).await;
    let chat = app.post_authed("/api/chats", &user.token, &json!({"character_id": character["id"]})).await;
    assert_eq!(chat.status(), StatusCode::CREATED);

    let resp = app.post_authed("/api/characters", &user.token, &json!({"name": "Three"})).await;

    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(error_code(resp, StatusCode::TOO_MANY_REQUESTS).await.0, "rate_limited");
    let other = app.new_user().await;
    assert_eq!(app.post_authed("/api/characters", &other.token, &json!({"name": "Theirs"})).await.status(), 201);
}

async fn api_answers_are_never_cached(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;

    for resp in [app.me(&user.token).await, app.get("/api/nothing-here").await, app.get("/healthz").await] {
        assert_eq!(resp.headers()["cache-control"], "no-store", "{}", resp.url());
    }
}

async fn method_not_allowed_says_what_is(engine: Engine) {
    let app = spawn_app(engine).await;

    let resp = app.client.put(app.url("/api/chats")).send().await.unwrap();
    assert_eq!(resp.headers()["allow"], "GET, POST");
    error_code(resp, StatusCode::METHOD_NOT_ALLOWED).await;
    let resp = app.client.post(app.url("/api/chats/7")).send().await.unwrap();
    assert_eq!(resp.headers()["allow"], "GET, PATCH, DELETE");
}

async fn bodies_follow_the_spec_on_null_and_shape(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let user = app.new_user().await;
    let url = format!("/api/admin/users/{}", user.id);

    for body in [json!({"is_admin": null}), json!({"disabled": null}), json!([])] {
        let (code, _) = error_code(app.patch_authed(&url, &boss.token, &body).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(code, "invalid_body", "{body}");
    }
    let set: Value =
        app.patch_authed(&url, &boss.token, &json!({"daily_token_quota": 500})).await.json().await.unwrap();
    assert_eq!(set["daily_token_quota"], 500);
    let cleared: Value =
        app.patch_authed(&url, &boss.token, &json!({"daily_token_quota": null})).await.json().await.unwrap();
    assert_eq!(cleared["daily_token_quota"], Value::Null, "null = unlimited");
    assert_eq!(cleared["is_admin"], false, "nothing else changed");
    let chat = app.new_chat(&user.token, "demo").await;
    let (_, field) = error_code(
        app.patch_authed(&format!("/api/chats/{chat}"), &user.token, &json!({"title": null})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(field.as_deref(), Some("title"));
    // The spec says the same: optional fields sent as null are nullable, the refused ones are not.
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schemas = &spec["components"]["schemas"];
    for (schema, field) in [("User", "email"), ("MessageList", "next_before_id"), ("UpdateUser", "daily_token_quota")] {
        assert_eq!(schemas[schema]["properties"][field]["nullable"], true, "{schema}.{field}");
    }
    assert_eq!(schemas["Message"]["properties"]["usage_source"]["nullable"], true);
    assert_eq!(schemas["UpdateUser"]["properties"]["is_admin"].get("nullable"), None);
}

crate::engine_tests!(
    bodies_follow_the_spec_on_null_and_shape,
    deleting_a_chat_mid_stream_stops_the_reply_and_charges_it,
    a_tag_flood_is_refused_before_its_tags_are_read,
    invented_methods_share_one_metrics_label,
    live_events_end_when_the_token_is_signed_out,
    live_events_end_when_the_account_is_disabled,
    live_events_end_when_the_token_expires,
    the_admin_live_feed_closes_when_its_admin_is_demoted,
    a_cross_site_websocket_with_the_cookie_is_refused,
    live_connections_are_capped_per_user,
    concurrent_sends_cannot_overspend_the_quota,
    an_account_backs_off_after_failed_sign_ins_from_any_address,
    ipv6_clients_share_a_limit_per_64,
    two_admins_demoting_each_other_leave_one_admin,
    creates_are_rate_limited,
    api_answers_are_never_cached,
    method_not_allowed_says_what_is,
);
