//! `/api/chats`: ownership, sending messages with each provider, streaming, failures,
//! retries, disconnects, limits, and the usage invariant.

use std::{collections::BTreeMap, time::Duration};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use troupe_fake_upstream::{Behavior, Script};

use crate::helpers::{
    ANTHROPIC_KEY, DIFY_KEY, Engine, OPENAI_KEY, TestApp, error_code, spawn_app, spawn_app_with, sse_events,
};

const FAKE_REPLY: &str = "Hello from the fake upstream.";

/// For every user and UTC day: the ledger equals the sums over stored messages.
async fn assert_usage_invariant(app: &TestApp) {
    let ledger: Vec<(i64, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT user_id, day, CAST(SUM(messages) AS BIGINT), CAST(SUM(prompt_tokens) AS BIGINT), \
         CAST(SUM(completion_tokens) AS BIGINT) FROM usage_daily GROUP BY user_id, day",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    let messages: Vec<(i64, String, i64, i64, i64)> =
        sqlx::query_as("SELECT user_id, role, prompt_tokens, completion_tokens, created_at FROM messages")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    let mut from_messages: BTreeMap<(i64, String), (i64, i64, i64)> = BTreeMap::new();
    for (user, role, prompt, completion, created_at) in messages {
        let day = chrono::DateTime::from_timestamp_millis(created_at).unwrap().format("%Y-%m-%d").to_string();
        let sums = from_messages.entry((user, day)).or_default();
        sums.0 += i64::from(role == "user");
        sums.1 += prompt;
        sums.2 += completion;
    }
    from_messages.retain(|_, sums| *sums != (0, 0, 0));
    let from_ledger: BTreeMap<(i64, String), (i64, i64, i64)> =
        ledger.into_iter().map(|(u, d, m, p, c)| ((u, d), (m, p, c))).filter(|(_, v)| *v != (0, 0, 0)).collect();
    assert_eq!(from_ledger, from_messages);
}

async fn message_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM messages").fetch_one(app.db.pool()).await.unwrap()
}

async fn every_chat_route_is_404_for_another_users_chat(engine: Engine) {
    let app = spawn_app(engine).await;
    let (alice, bob) = (app.new_user().await, app.new_user().await);
    let chat = app.new_chat(&alice.token, "demo").await;
    let url = format!("/api/chats/{chat}");
    let before = message_count(&app).await;

    error_code(app.get_authed(&url, &bob.token).await, StatusCode::NOT_FOUND).await;
    error_code(app.patch_authed(&url, &bob.token, &json!({"title": "mine now"})).await, StatusCode::NOT_FOUND).await;
    error_code(app.get_authed(&format!("{url}/messages"), &bob.token).await, StatusCode::NOT_FOUND).await;
    error_code(app.send(&bob.token, chat, "hello").await, StatusCode::NOT_FOUND).await;
    error_code(app.delete_authed(&url, &bob.token).await, StatusCode::NOT_FOUND).await;
    let bobs: Value = app.get_authed("/api/chats", &bob.token).await.json().await.unwrap();
    assert_eq!(bobs["total"], 0);

    assert_eq!(message_count(&app).await, before);
    assert_eq!(app.get_authed(&url, &alice.token).await.status(), StatusCode::OK);
}

async fn a_new_chat_opens_with_the_greeting_uncharged(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;

    let chat_id = app.new_chat(&user.token, "fake-openai").await;

    let chat: Value = app.get_authed(&format!("/api/chats/{chat_id}"), &user.token).await.json().await.unwrap();
    assert_eq!((chat["character_name"].as_str(), chat["model"].as_str()), (Some("Aria"), Some("fake-openai")));
    assert_eq!(chat["message_count"], 1);
    let messages = app.messages(&user.token, chat_id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["content"], format!("Hi {}!", user.username));
    assert_eq!((messages[0]["prompt_tokens"].as_i64(), messages[0]["completion_tokens"].as_i64()), (Some(0), Some(0)));
    assert_usage_invariant(&app).await;
}

async fn chats_can_be_renamed_listed_and_deleted_keeping_usage(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-openai").await;
    assert_eq!(app.send(&user.token, chat, "hello").await.status(), StatusCode::CREATED);
    let url = format!("/api/chats/{chat}");

    let renamed: Value =
        app.patch_authed(&url, &user.token, &json!({"title": "Evening talk"})).await.json().await.unwrap();
    assert_eq!((renamed["title"].as_str(), renamed["model"].as_str()), (Some("Evening talk"), Some("fake-openai")));
    error_code(app.patch_authed(&url, &user.token, &json!({"model": "nope"})).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    error_code(app.patch_authed(&url, &user.token, &json!({"title": "  "})).await, StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    let listed: Value = app.get_authed("/api/chats", &user.token).await.json().await.unwrap();
    assert_eq!(listed["items"][0]["message_count"], 3);

    let charged_before: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM usage_daily")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(app.delete_authed(&url, &user.token).await.status(), StatusCode::NO_CONTENT);
    let charged_after: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM usage_daily")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(charged_after, charged_before, "deleting a chat never lowers usage");
    assert_eq!(message_count(&app).await, 0);
    error_code(app.get_authed(&url, &user.token).await, StatusCode::NOT_FOUND).await;
}

async fn messages_are_limited_in_characters_not_bytes(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "demo").await;
    let before = message_count(&app).await;

    for too_long in ["가".repeat(201), "😀".repeat(201), "a".repeat(201)] {
        let (code, field) =
            error_code(app.send(&user.token, chat, &too_long).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!((code.as_str(), field.as_deref()), ("message_too_long", Some("content")));
    }
    let (code, _) = error_code(app.send(&user.token, chat, "   ").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(code, "message_empty");
    assert_eq!(message_count(&app).await, before, "refused messages are not stored");

    for fits in ["가".repeat(200), "😀".repeat(200), format!("  {}  ", "a".repeat(200))] {
        assert_eq!(app.send(&user.token, chat, &fits).await.status(), StatusCode::CREATED);
    }
}

/// One JSON turn with `model`; returns the turn.
async fn json_turn(app: &TestApp, model: &str) -> Value {
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, model).await;
    let resp = app.send(&user.token, chat, "Tell me a story").await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json().await.unwrap()
}

async fn each_provider_format_streams_and_reports_usage(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    app.post_authed("/api/prompts", &admin.token, &json!({"name": "House rules", "content": "Stay in character."}))
        .await;

    for (model, credential) in [
        ("fake-openai", format!("Bearer {OPENAI_KEY}")),
        ("fake-anthropic", ANTHROPIC_KEY.to_owned()),
        ("fake-dify", format!("Bearer {DIFY_KEY}")),
    ] {
        let turn = json_turn(&app, model).await;

        assert_eq!(turn["assistant_message"]["content"], FAKE_REPLY, "{model}");
        assert_eq!(turn["assistant_message"]["status"], "complete");
        assert_eq!(
            turn["usage"],
            json!({"prompt_tokens": 42, "completion_tokens": 6, "total_tokens": 48, "source": "provider"})
        );
        assert_eq!(turn["user_message"]["content"], "Tell me a story");
        let sent = app.upstream.received().pop().unwrap();
        assert_eq!(sent.credential.as_deref(), Some(credential.as_str()), "{model}: the key reaches the provider");
        let text = sent.body.to_string();
        assert!(text.contains("Stay in character.") && text.contains("You are Aria, a bard."), "{model}: {text}");
    }
    let anthropic = app.upstream.received().into_iter().find(|r| r.path == "/v1/messages").unwrap();
    assert_eq!(anthropic.anthropic_version.as_deref(), Some("2023-06-01"));
    assert_eq!(anthropic.body["model"], "claude-fake");
    assert_eq!(anthropic.body["messages"][0]["role"], "user", "the greeting is not sent first to Anthropic");
    let openai = app.upstream.received().into_iter().find(|r| r.path == "/v1/chat/completions").unwrap();
    assert_eq!(openai.body["stream_options"]["include_usage"], true);
    assert_eq!(openai.body["messages"][0]["role"], "system");
    assert_usage_invariant(&app).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for expected in [
        r#"tokens_charged_total{provider="anthropic",model="fake-anthropic",kind="prompt"}"#,
        r#"upstream_time_to_first_token_seconds_bucket{provider="dify",model="fake-dify""#,
        r#"upstream_request_duration_seconds_count{provider="openai",model="fake-openai"}"#,
        "active_streams",
    ] {
        assert!(metrics.contains(expected), "/metrics lacks {expected}");
    }
}

async fn dify_conversations_continue_across_turns(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-dify").await;

    app.send(&user.token, chat, "first").await;
    app.send(&user.token, chat, "second").await;

    let bodies: Vec<Value> = app.upstream.received().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies[0]["conversation_id"], "");
    assert_eq!(bodies[0]["response_mode"], "streaming");
    assert_eq!(bodies[1]["conversation_id"], "conv-1");
    assert_eq!(bodies[1]["query"], "second");
}

async fn without_provider_usage_tokens_are_counted_locally(engine: Engine) {
    let app = spawn_app(engine).await;
    app.upstream.set_script(Script { usage: false, ..Script::default() });

    let turn = json_turn(&app, "fake-openai").await;

    assert_eq!(turn["usage"]["source"], "estimated");
    assert_eq!(turn["assistant_message"]["usage_source"], "estimated");
    let completion = turn["usage"]["completion_tokens"].as_i64().unwrap();
    assert_eq!(completion, turn["assistant_message"]["token_count"].as_i64().unwrap());
    assert!(completion > 0 && turn["usage"]["prompt_tokens"].as_i64().unwrap() > 10);
    assert_usage_invariant(&app).await;
}

async fn streamed_turns_send_events_in_order(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-anthropic").await;

    let resp = app.send_streaming(&user.token, chat, "Sing").await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = sse_events(&resp.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"user_message"));
    assert_eq!(names.last(), Some(&"done"));
    assert!(names[1..names.len() - 1].iter().all(|n| *n == "delta"));
    let text: String = events.iter().filter(|(n, _)| n == "delta").map(|(_, d)| d["text"].as_str().unwrap()).collect();
    assert_eq!(text, FAKE_REPLY);
    assert_eq!(names.len(), 2 + 6, "one delta per upstream piece");
    let done = &events.last().unwrap().1;
    let stored = app.messages(&user.token, chat).await;
    assert_eq!(&done["assistant_message"], stored.last().unwrap());
    assert_eq!(&events[0].1, &stored[stored.len() - 2]);
    assert_eq!(done["usage"]["total_tokens"], 48);
}

async fn demo_replies_stream_in_several_pieces(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "demo").await;

    let events =
        sse_events(&app.send_streaming(&user.token, chat, "What do you sing about?").await.text().await.unwrap());

    let deltas = events.iter().filter(|(n, _)| n == "delta").count();
    assert!(deltas > 10, "{deltas}");
    let done = &events.last().unwrap().1;
    assert!(done["assistant_message"]["content"].as_str().unwrap().contains("What do you sing about?"));
    assert_eq!(done["usage"]["source"], "estimated");
}

/// Sends one JSON message that the fake fails with `behavior`; returns the error code.
async fn failed_turn(app: &TestApp, behavior: Behavior, expected: StatusCode) -> (String, Vec<Value>) {
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-openai").await;
    // Retryable failures must fail every try; the others are tried once.
    let tries = if matches!(behavior, Behavior::Status(_)) { 3 } else { 1 };
    for _ in 0..tries {
        app.upstream.push(behavior.clone());
    }
    let (code, _) = error_code(app.send(&user.token, chat, "Are you there?").await, expected).await;
    (code, app.messages(&user.token, chat).await)
}

async fn upstream_failures_keep_the_user_message_and_store_an_error_reply(engine: Engine) {
    let app = spawn_app(engine).await;
    let cases = [
        (Behavior::Status(500), StatusCode::BAD_GATEWAY, "upstream_error", ""),
        (Behavior::Hang, StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", ""),
        (Behavior::DropMidStream { after_tokens: 2 }, StatusCode::BAD_GATEWAY, "upstream_error", "Hello from"),
        (Behavior::Malformed { after_tokens: 3 }, StatusCode::BAD_GATEWAY, "upstream_error", "Hello from the"),
    ];
    for (behavior, status, expected_code, partial) in cases {
        let (code, messages) = failed_turn(&app, behavior.clone(), status).await;

        assert_eq!(code, expected_code, "{behavior:?}");
        let [_greeting, user_message, reply] = messages.as_slice() else { panic!("{messages:?}") };
        assert_eq!(user_message["content"], "Are you there?");
        assert_eq!(reply["status"], "error", "{behavior:?}");
        assert_eq!(reply["content"], partial, "{behavior:?}");
        assert_eq!(
            (reply["prompt_tokens"].as_i64(), reply["completion_tokens"].as_i64()),
            (Some(0), Some(0)),
            "nothing billed was reported"
        );
    }
    assert_usage_invariant(&app).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for kind in ["server_error", "timeout", "dropped", "malformed"] {
        let counter = format!(r#"upstream_errors_total{{provider="openai",model="fake-openai",kind="{kind}"}}"#);
        assert!(metrics.contains(&counter), "/metrics lacks {counter}");
    }
}

async fn failures_arrive_as_an_error_event_when_streaming(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-openai").await;
    app.upstream.push(Behavior::DropMidStream { after_tokens: 1 });

    let events = sse_events(&app.send_streaming(&user.token, chat, "hi").await.text().await.unwrap());

    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["user_message", "delta", "error"]);
    assert_eq!(events[2].1["code"], "upstream_error");
    let message = events[2].1["message"].as_str().unwrap();
    assert!(!message.contains("127.0.0.1") && !message.contains(OPENAI_KEY), "{message}");
}

async fn retries_happen_only_before_the_first_byte(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-openai").await;

    app.upstream.push(Behavior::Status(503));
    app.upstream.push(Behavior::RateLimited { retry_after_secs: 1 });
    let resp = app.send(&user.token, chat, "try again").await;
    assert_eq!(resp.status(), StatusCode::CREATED, "third try succeeds");
    assert_eq!(app.upstream.received().len(), 3);

    app.upstream.push(Behavior::Status(500));
    app.upstream.push(Behavior::Status(500));
    app.upstream.push(Behavior::Status(500));
    error_code(app.send(&user.token, chat, "give up").await, StatusCode::BAD_GATEWAY).await;
    assert_eq!(app.upstream.received().len(), 6, "at most 3 tries");

    app.upstream.push(Behavior::Status(400));
    error_code(app.send(&user.token, chat, "client error").await, StatusCode::BAD_GATEWAY).await;
    assert_eq!(app.upstream.received().len(), 7, "4xx other than 429 is not retried");

    app.upstream.push(Behavior::DropMidStream { after_tokens: 2 });
    error_code(app.send(&user.token, chat, "cut").await, StatusCode::BAD_GATEWAY).await;
    assert_eq!(app.upstream.received().len(), 8, "no retry once the reply started");
}

async fn a_client_leaving_mid_stream_leaves_an_incomplete_charged_reply(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-openai").await;
    let tokens: Vec<String> = (0..40).map(|i| format!(" w{i}")).collect();
    app.upstream.set_script(Script {
        tokens,
        token_interval: Duration::from_millis(50),
        usage: false,
        ..Script::default()
    });

    let resp = app.send_streaming(&user.token, chat, "long story please").await;
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while seen.matches("event: delta").count() < 3 {
        seen.push_str(&String::from_utf8_lossy(&body.next().await.unwrap().unwrap()));
    }
    drop(body);

    let reply = wait_for_reply(&app, &user.token, chat).await;
    assert_eq!(reply["status"], "incomplete");
    let content = reply["content"].as_str().unwrap();
    assert!(content.starts_with(" w0 w1 w2") && !content.contains("w39"), "{content}");
    assert_eq!(reply["usage_source"], "estimated");
    assert!(reply["completion_tokens"].as_i64().unwrap() > 0 && reply["prompt_tokens"].as_i64().unwrap() > 0);
    assert_usage_invariant(&app).await;
}

/// Polls until the chat's last message is an assistant reply.
async fn wait_for_reply(app: &TestApp, token: &str, chat: i64) -> Value {
    for _ in 0..100 {
        let messages = app.messages(token, chat).await;
        let last = messages.last().unwrap();
        if last["role"] == "assistant" && messages.len() > 2 {
            return last.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no reply was stored");
}

async fn message_rate_limit_answers_429_with_retry_after(engine: Engine) {
    let app = spawn_app_with(engine, &[("RATE_LIMIT_MESSAGES_PER_MINUTE", "2")]).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "demo").await;

    assert_eq!(app.send(&user.token, chat, "one").await.status(), StatusCode::CREATED);
    let resp = app.send(&user.token, chat, "two").await;

    let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    let (code, _) = error_code(resp, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "rate_limited");
    let other = app.new_user().await;
    let other_chat = app.new_chat(&other.token, "demo").await;
    assert_eq!(app.send(&other.token, other_chat, "mine").await.status(), StatusCode::CREATED, "per user");
}

async fn sign_in_attempts_are_limited_per_client(engine: Engine) {
    let app = spawn_app_with(engine, &[("RATE_LIMIT_AUTH_PER_MINUTE", "3")]).await;
    let user = app.new_user().await;
    app.login(&user.username, "wrong-pass-1").await;
    app.login(&user.username, "wrong-pass-1").await;

    let resp = app.login(&user.username, crate::helpers::PASSWORD).await;

    assert!(resp.headers().contains_key("retry-after"));
    let (code, _) = error_code(resp, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "rate_limited");
    // Behind a trusted proxy, each forwarded client has its own allowance.
    let forwarded = app
        .client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"username": user.username, "password": crate::helpers::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), StatusCode::OK);
}

async fn the_daily_quota_stops_the_next_message(engine: Engine) {
    let app = spawn_app_with(engine, &[("DEFAULT_DAILY_TOKEN_QUOTA", "40")]).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-openai").await;

    assert_eq!(
        app.send(&user.token, chat, "first").await.status(),
        StatusCode::CREATED,
        "48 tokens, over 40 only after"
    );
    let before = message_count(&app).await;
    let resp = app.send(&user.token, chat, "second").await;

    assert!(resp.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() <= 86_400);
    let (code, _) = error_code(resp, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "quota_exceeded");
    assert_eq!(message_count(&app).await, before, "nothing stored");
    // A user's own quota overrides the default.
    sqlx::query("UPDATE users SET daily_token_quota = 1000 WHERE id = $1")
        .bind(user.id)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(app.send(&user.token, chat, "third").await.status(), StatusCode::CREATED);
}

async fn at_most_the_configured_streams_run_at_once_per_user(engine: Engine) {
    let app = spawn_app_with(engine, &[("MAX_CONCURRENT_STREAMS", "2")]).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-openai").await;
    app.upstream.set_script(Script { first_token_delay: Duration::from_millis(1500), ..Script::default() });

    let first = app.send_streaming(&user.token, chat, "one").await;
    let second = app.send_streaming(&user.token, chat, "two").await;
    let (code, _) = error_code(app.send(&user.token, chat, "three").await, StatusCode::TOO_MANY_REQUESTS).await;

    assert_eq!(code, "too_many_streams");
    let other = app.new_user().await;
    let other_chat = app.new_chat(&other.token, "demo").await;
    assert_eq!(app.send(&other.token, other_chat, "mine").await.status(), StatusCode::CREATED, "per user");
    assert!(first.text().await.unwrap().contains("event: done"));
    assert!(second.text().await.unwrap().contains("event: done"));
    assert_eq!(app.send(&user.token, chat, "four").await.status(), StatusCode::CREATED, "slots come back");
}

async fn deleted_characters_leave_their_chats_working(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "demo").await;
    let character_id = app.get_authed(&format!("/api/chats/{chat}"), &user.token).await.json::<Value>().await.unwrap()
        ["character_id"]
        .clone();

    app.delete_authed(&format!("/api/characters/{character_id}"), &user.token).await;

    assert_eq!(app.messages(&user.token, chat).await.len(), 1);
    assert_eq!(app.send(&user.token, chat, "still there?").await.status(), StatusCode::CREATED);
    let (code, _) = error_code(
        app.post_authed("/api/chats", &user.token, &json!({"character_id": character_id})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(code, "not_found", "no new chats with it");
}

async fn usage_matches_messages_after_100_concurrent_sends(engine: Engine) {
    let app = spawn_app(engine).await;
    let mut chats = Vec::new();
    for _ in 0..5 {
        let user = app.new_user().await;
        for model in ["fake-openai", "fake-anthropic", "demo", "fake-dify"] {
            chats.push((user.token.clone(), app.new_chat(&user.token, model).await));
        }
    }

    let sends = (0..100).map(|i| {
        let (token, chat) = chats[i % chats.len()].clone();
        let app = &app;
        async move { app.send(&token, chat, &format!("message {i}")).await.status() }
    });
    let statuses = futures_util::future::join_all(sends).await;

    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "{statuses:?}");
    let replies: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM messages WHERE role = 'assistant' AND status = 'complete' AND prompt_tokens > 0",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(replies, 100);
    assert_usage_invariant(&app).await;
}

async fn the_message_limits_are_published_per_user(engine: Engine) {
    let settings =
        [("MAX_MESSAGE_CHARS", "120"), ("DEFAULT_DAILY_TOKEN_QUOTA", "5000"), ("MAX_CONCURRENT_STREAMS", "3")];
    let app = spawn_app_with(engine, &settings).await;
    assert_eq!(app.get("/api/limits").await.status(), StatusCode::UNAUTHORIZED);
    let user = app.new_user().await;
    let limits: Value = app.get_authed("/api/limits", &user.token).await.json().await.unwrap();
    let expected = json!({"max_message_chars": 120, "messages_per_minute": 0, "max_concurrent_streams": 3,
        "daily_token_quota": 5000, "storage_used_bytes": 0, "storage_quota_bytes": 1024 * 1024 * 1024});
    assert_eq!(limits, expected);

    // A quota of the user's own wins over the default.
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    let own = app
        .patch_authed(&format!("/api/admin/users/{}", user.id), &admin.token, &json!({"daily_token_quota": 700}))
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    let limits: Value = app.get_authed("/api/limits", &user.token).await.json().await.unwrap();
    assert_eq!(limits["daily_token_quota"], 700);
}

crate::engine_tests!(
    every_chat_route_is_404_for_another_users_chat,
    the_message_limits_are_published_per_user,
    a_new_chat_opens_with_the_greeting_uncharged,
    chats_can_be_renamed_listed_and_deleted_keeping_usage,
    messages_are_limited_in_characters_not_bytes,
    each_provider_format_streams_and_reports_usage,
    dify_conversations_continue_across_turns,
    without_provider_usage_tokens_are_counted_locally,
    streamed_turns_send_events_in_order,
    demo_replies_stream_in_several_pieces,
    upstream_failures_keep_the_user_message_and_store_an_error_reply,
    failures_arrive_as_an_error_event_when_streaming,
    retries_happen_only_before_the_first_byte,
    a_client_leaving_mid_stream_leaves_an_incomplete_charged_reply,
    message_rate_limit_answers_429_with_retry_after,
    sign_in_attempts_are_limited_per_client,
    the_daily_quota_stops_the_next_message,
    at_most_the_configured_streams_run_at_once_per_user,
    deleted_characters_leave_their_chats_working,
    usage_matches_messages_after_100_concurrent_sends,
);
