//! `/api/admin`: the admin-only rule on every route, figures that equal independent sums,
//! user management, CSV, announcements and the live feed.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use troupe_fake_upstream::Script;

use crate::helpers::{Engine, TestApp, TestUser, error_code, spawn_app};

/// A signed-in admin.
async fn admin(app: &TestApp) -> TestUser {
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    admin
}

async fn every_admin_route_is_401_without_a_session_and_403_for_users(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        let url = app.url(&path.replace("{id}", "1").replace("{message_id}", "1"));
        for (method, operation) in operations.as_object().unwrap() {
            // Rooms are everyone's to use and admins' to run.
            let admins_only = path.starts_with("/api/admin")
                || path.starts_with("/api/rooms")
                    && operation["summary"].as_str().is_some_and(|s| s.ends_with("(admins)"));
            if !admins_only {
                continue;
            }
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let request = || app.client.request(method.clone(), &url).json(&json!({}));
            let anonymous = request().send().await.unwrap();
            assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{method} {path} without a session");
            let as_user = request().bearer_auth(&user.token).send().await.unwrap();
            let (code, _) = error_code(as_user, StatusCode::FORBIDDEN).await;
            assert_eq!(code, "forbidden", "{method} {path} as a user");
            checked += 1;
        }
    }
    assert!(checked >= 16, "walked {checked} admin operations");
}

/// Sends `turns` messages in a fresh chat of a fresh user on `model`.
async fn user_with_turns(app: &TestApp, model: &str, turns: usize) -> TestUser {
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, model).await;
    for i in 0..turns {
        assert_eq!(app.send(&user.token, chat, &format!("turn {i}")).await.status(), StatusCode::CREATED);
    }
    user
}

/// Per user: (messages sent, tokens charged), summed straight from the stored messages.
async fn sums_from_messages(app: &TestApp) -> BTreeMap<i64, (i64, i64)> {
    let rows: Vec<(i64, String, i64)> =
        sqlx::query_as("SELECT user_id, role, prompt_tokens + completion_tokens FROM messages")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    let mut sums = BTreeMap::new();
    for (user, role, tokens) in rows {
        let entry: &mut (i64, i64) = sums.entry(user).or_default();
        entry.0 += i64::from(role == "user");
        entry.1 += tokens;
    }
    sums
}

async fn overview_and_user_list_equal_the_sums_over_messages(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let heavy = user_with_turns(&app, "fake-openai", 3).await;
    let light = user_with_turns(&app, "fake-anthropic", 1).await;
    let _idle = app.new_user().await;
    let sums = sums_from_messages(&app).await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();

    let overview: Value = app
        .get_authed(&format!("/api/admin/stats/overview?from={today}&to={today}"), &boss.token)
        .await
        .json()
        .await
        .unwrap();

    let totals = &overview["totals"];
    let all_tokens: i64 = sums.values().map(|s| s.1).sum();
    assert_eq!(totals["messages"], 4);
    assert_eq!(totals["total_tokens"], all_tokens);
    assert_eq!(totals["users"], 4);
    assert_eq!(totals["new_users"], 4);
    assert_eq!(totals["active_users"], 2);
    assert_eq!(totals["chats"], 2);
    let daily = overview["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 1);
    assert_eq!((daily[0]["day"].as_str(), daily[0]["messages"].as_i64()), (Some(today.as_str()), Some(4)));
    assert_eq!(daily[0]["new_users"], 4);
    assert_eq!(overview["top_users"][0]["user_id"], heavy.id);
    assert_eq!(overview["top_users"][0]["total_tokens"], sums[&heavy.id].1);
    assert_eq!(overview["top_users"][1]["user_id"], light.id);
    let openai = overview["by_model"].as_array().unwrap().iter().find(|m| m["model"] == "fake-openai").unwrap();
    // The fake reports 42 prompt + 6 completion tokens per turn; prices are $1 and $2 per million.
    assert_eq!((openai["prompt_tokens"].as_i64(), openai["completion_tokens"].as_i64()), (Some(126), Some(18)));
    let expected_cost = (126.0 * 1.0 + 18.0 * 2.0) / 1e6;
    assert!((openai["estimated_cost_usd"].as_f64().unwrap() - expected_cost).abs() < 1e-12);
    assert!((totals["estimated_cost_usd"].as_f64().unwrap() - expected_cost).abs() < 1e-12, "anthropic has no price");
    assert_eq!(overview["top_characters"][0]["name"], "Aria");

    let listed: Value = app.get_authed("/api/admin/users?sort=tokens", &boss.token).await.json().await.unwrap();
    assert_eq!(listed["total"], 4);
    let first = &listed["items"][0];
    assert_eq!((first["id"].as_i64(), first["messages"].as_i64()), (Some(heavy.id), Some(3)));
    assert_eq!(first["total_tokens"], sums[&heavy.id].1);
    assert_eq!(first["tokens_today"], sums[&heavy.id].1);
    assert_eq!(first["chats"], 1);
    assert!(first["last_active_at"].as_str().is_some());
    let found: Value = app
        .get_authed(&format!("/api/admin/users?q={}", &light.username[..8]), &boss.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(found["items"].as_array().unwrap().iter().any(|u| u["id"] == light.id));
}

async fn date_ranges_include_their_edges_and_nothing_else(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let user = user_with_turns(&app, "fake-openai", 1).await;
    // A turn three days ago, stored as the server would have stored it then.
    let three_days_ago = chrono::Utc::now() - chrono::Duration::days(3);
    let (day, at) = (three_days_ago.format("%Y-%m-%d").to_string(), three_days_ago.timestamp_millis());
    let (chat, character): (i64, i64) = sqlx::query_as("SELECT id, character_id FROM chats WHERE user_id = $1")
        .bind(user.id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    for (role, prompt, completion, when) in [("user", 0i64, 0i64, at), ("assistant", 42, 6, at + 1)] {
        sqlx::query(
            "INSERT INTO messages (chat_id, user_id, character_id, role, content, status, model, prompt_tokens, \
             completion_tokens, token_count, created_at) VALUES ($1, $2, $3, $4, 'then', 'complete', 'fake-openai', $5, $6, 1, $7)",
        )
        .bind(chat)
        .bind(user.id)
        .bind(character)
        .bind(role)
        .bind(prompt)
        .bind(completion)
        .bind(when)
        .execute(app.db.writer())
        .await
        .unwrap();
    }
    let get = |from: String, to: String| {
        let app = &app;
        let token = boss.token.clone();
        async move {
            app.get_authed(&format!("/api/admin/stats/overview?from={from}&to={to}"), &token)
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let day_after = (three_days_ago + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let day_before = (three_days_ago - chrono::Duration::days(1)).format("%Y-%m-%d").to_string();

    assert_eq!(get(day.clone(), day.clone()).await["totals"]["messages"], 1, "a one-day range holds its day");
    assert_eq!(get(day_before.clone(), day_before.clone()).await["totals"]["messages"], 0);
    assert_eq!(get(day_after.clone(), day_after).await["totals"]["messages"], 0);
    let wide = get(day_before, chrono::Utc::now().format("%Y-%m-%d").to_string()).await;
    assert_eq!(wide["totals"]["messages"], 2);
    assert_eq!(wide["daily"].as_array().unwrap().len(), 5);
    let usage: Value = app
        .get_authed(&format!("/api/admin/users/{}/usage?from={day}", user.id), &boss.token)
        .await
        .json()
        .await
        .unwrap();
    let days: Vec<&str> = usage["items"].as_array().unwrap().iter().map(|d| d["day"].as_str().unwrap()).collect();
    assert_eq!(days.len(), 2);
    assert_eq!(days[0], day);
    let (code, field) = error_code(
        app.get_authed("/api/admin/stats/overview?from=2026-02-10&to=2026-02-01", &boss.token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!((code.as_str(), field.as_deref()), ("invalid_parameter", Some("from")));
}

async fn csv_export_parses_back_to_the_same_figures(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    user_with_turns(&app, "fake-openai", 2).await;
    user_with_turns(&app, "fake-dify", 1).await;
    // A username that needs no quoting and figures that must round-trip.
    let sums = sums_from_messages(&app).await;

    let resp = app.get_authed("/api/admin/stats/export.csv", &boss.token).await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["day", "user_id", "username", "messages", "chats", "prompt_tokens", "completion_tokens", "total_tokens"]
    );
    let mut from_csv: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for record in reader.records() {
        let r = record.unwrap();
        let (user, messages, total): (i64, i64, i64) =
            (r[1].parse().unwrap(), r[3].parse().unwrap(), r[7].parse().unwrap());
        assert_eq!(total, r[5].parse::<i64>().unwrap() + r[6].parse::<i64>().unwrap());
        let entry = from_csv.entry(user).or_default();
        entry.0 += messages;
        entry.1 += total;
    }
    assert_eq!(from_csv, sums);
}

async fn admins_manage_roles_access_and_quotas(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-openai").await;
    let url = format!("/api/admin/users/{}", user.id);

    let limited = app.patch_authed(&url, &boss.token, &json!({"daily_token_quota": 10})).await;
    assert_eq!(limited.json::<Value>().await.unwrap()["daily_token_quota"], 10);
    assert_eq!(app.send(&user.token, chat, "first").await.status(), StatusCode::CREATED);
    let (code, _) = error_code(app.send(&user.token, chat, "second").await, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(code, "quota_exceeded", "the quota applies to the next message");
    let unlimited = app.patch_authed(&url, &boss.token, &json!({"daily_token_quota": null})).await;
    assert_eq!(unlimited.json::<Value>().await.unwrap()["daily_token_quota"], Value::Null);
    assert_eq!(app.send(&user.token, chat, "third").await.status(), StatusCode::CREATED);
    error_code(
        app.patch_authed(&url, &boss.token, &json!({"daily_token_quota": -5})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let disabled = app.patch_authed(&url, &boss.token, &json!({"disabled": true})).await;
    assert_eq!(disabled.json::<Value>().await.unwrap()["disabled"], true);
    let (code, _) = error_code(app.me(&user.token).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "account_disabled", "shut out at once");
    app.patch_authed(&url, &boss.token, &json!({"disabled": false, "is_admin": true})).await;
    let me: Value = app.me(&user.token).await.json().await.unwrap();
    assert_eq!((me["disabled"].as_bool(), me["is_admin"].as_bool()), (Some(false), Some(true)));

    error_code(
        app.patch_authed("/api/admin/users/999999", &boss.token, &json!({"disabled": true})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn the_last_admin_cannot_step_down(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let own = format!("/api/admin/users/{}", boss.id);

    let (code, _) =
        error_code(app.patch_authed(&own, &boss.token, &json!({"is_admin": false})).await, StatusCode::CONFLICT).await;
    assert_eq!(code, "last_admin");
    error_code(app.patch_authed(&own, &boss.token, &json!({"disabled": true})).await, StatusCode::CONFLICT).await;
    assert_eq!(app.me(&boss.token).await.json::<Value>().await.unwrap()["is_admin"], true, "nothing changed");

    let deputy = admin(&app).await;
    assert_eq!(app.patch_authed(&own, &boss.token, &json!({"is_admin": false})).await.status(), StatusCode::OK);
    assert_eq!(app.me(&deputy.token).await.json::<Value>().await.unwrap()["is_admin"], true);
}

async fn conversations_can_be_browsed_and_read(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let alice = user_with_turns(&app, "fake-openai", 1).await;
    let bob = app.new_user().await;
    let bob_chat = app.new_chat(&bob.token, "demo").await;
    app.send(&bob.token, bob_chat, "the secret word is pineapple").await;

    let all: Value = app.get_authed("/api/admin/conversations", &boss.token).await.json().await.unwrap();
    assert_eq!(all["total"], 2);
    let by_user: Value = app
        .get_authed(&format!("/api/admin/conversations?user_id={}", alice.id), &boss.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_user["total"], 1);
    assert_eq!(by_user["items"][0]["username"], alice.username.as_str());
    assert_eq!(by_user["items"][0]["total_tokens"], 48);
    let by_text: Value =
        app.get_authed("/api/admin/conversations?q=PINEAPPLE", &boss.token).await.json().await.unwrap();
    assert_eq!((by_text["total"].as_i64(), by_text["items"][0]["id"].as_i64()), (Some(1), Some(bob_chat)));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let in_range: Value = app
        .get_authed(&format!("/api/admin/conversations?from={today}&to={today}"), &boss.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(in_range["total"], 2);
    let user_chats: Value =
        app.get_authed(&format!("/api/admin/users/{}/chats", bob.id), &boss.token).await.json().await.unwrap();
    assert_eq!(user_chats["items"][0]["message_count"], 3);

    let messages: Value =
        app.get_authed(&format!("/api/admin/chats/{bob_chat}/messages"), &boss.token).await.json().await.unwrap();
    let items = messages["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1]["content"], "the secret word is pineapple");
    assert!(items[2]["token_count"].as_i64().unwrap() > 0);
    error_code(app.get_authed("/api/admin/chats/999999/messages", &boss.token).await, StatusCode::NOT_FOUND).await;
}

async fn exported_cells_that_start_like_formulas_are_text(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let mallory = app.new_user().await;
    let chat = app.new_chat(&mallory.token, "demo").await;
    let formula = "=HYPERLINK(\"http://evil.example\",\"totals\")";
    app.send(&mallory.token, chat, formula).await;
    app.send(&mallory.token, chat, "-1 + 2 stays as it was, after its quote").await;

    let csv = app.get_authed("/api/admin/conversations/export.csv", &boss.token).await.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let content = reader.headers().unwrap().iter().position(|h| h == "content").expect("a content column");
    let cells: Vec<String> = reader.records().map(|r| r.unwrap()[content].to_owned()).collect();
    assert!(cells.contains(&format!("'{formula}")), "{cells:?}");
    assert!(cells.contains(&"'-1 + 2 stays as it was, after its quote".to_owned()));
    assert!(!cells.iter().any(|c| c.starts_with('=') || c.starts_with('-')));
}

async fn announcements_reach_connected_users(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let user = app.new_user().await;
    let events = app
        .client
        .get(app.url("/api/events"))
        .header("cookie", format!("troupe_session={}", user.token))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let mut body = events.bytes_stream();

    let posted = app
        .post_authed(
            "/api/admin/announcements",
            &boss.token,
            &json!({"text": "Maintenance at 22:00 UTC", "level": "warning"}),
        )
        .await;

    assert_eq!(posted.status(), StatusCode::CREATED);
    let mut seen = String::new();
    while !seen.contains("Maintenance") {
        let chunk =
            tokio::time::timeout(std::time::Duration::from_secs(5), body.next()).await.expect("pushed").unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(seen.contains("event: announcement") && seen.contains("\"level\":\"warning\""), "{seen}");
    let active: Value = app.get_authed("/api/announcements", &user.token).await.json().await.unwrap();
    assert_eq!(active["items"][0]["text"], "Maintenance at 22:00 UTC");
    let id = active["items"][0]["id"].as_i64().unwrap();
    error_code(
        app.post_authed("/api/admin/announcements", &boss.token, &json!({"text": " "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        app.delete_authed(&format!("/api/admin/announcements/{id}"), &boss.token).await.status(),
        StatusCode::NO_CONTENT
    );
    let after: Value = app.get_authed("/api/announcements", &user.token).await.json().await.unwrap();
    assert_eq!(after["items"].as_array().unwrap().len(), 0);
}

async fn the_live_feed_counts_an_active_stream(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let user = app.new_user().await;
    let chat = app.new_chat(&user.token, "fake-openai").await;
    app.upstream.set_script(Script { first_token_delay: std::time::Duration::from_secs(4), ..Script::default() });
    let streaming = app.send_streaming(&user.token, chat, "take your time").await;

    let ws_url = format!("{}/api/admin/live", app.address.replace("http://", "ws://"));
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(ws_url).unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", boss.token).parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("the live feed accepts an admin");
    let message =
        tokio::time::timeout(std::time::Duration::from_secs(5), socket.next()).await.unwrap().unwrap().unwrap();

    let stats: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
    assert_eq!(stats["active_streams"], 1);
    assert_eq!(stats["online_users"], 2);
    assert_eq!(stats["messages_last_minute"], 1);
    assert_eq!(stats["tokens_last_minute"], 0, "nothing charged until the reply is stored");
    drop(streaming);
}

async fn the_seeder_writes_a_ledger_consistent_with_its_messages(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_troupe-server"))
        .args(["seed", "--users", "40", "--days", "5", "--messages", "600"])
        .env("DATABASE_URL", &app.database_url)
        .env("JWT_SECRET", &app.jwt_secret)
        .env("LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let messages: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(messages, 600);
    let sums = sums_from_messages(&app).await;
    let listed: Value = app.get_authed("/api/admin/users?limit=200", &boss.token).await.json().await.unwrap();
    for user in listed["items"].as_array().unwrap() {
        let expected = sums.get(&user["id"].as_i64().unwrap()).copied().unwrap_or_default();
        assert_eq!((user["messages"].as_i64().unwrap(), user["total_tokens"].as_i64().unwrap()), expected);
    }
    let from = (chrono::Utc::now() - chrono::Duration::days(10)).format("%Y-%m-%d").to_string();
    let overview: Value =
        app.get_authed(&format!("/api/admin/stats/overview?from={from}"), &boss.token).await.json().await.unwrap();
    assert_eq!(overview["totals"]["messages"], 300);
    assert_eq!(overview["totals"]["total_tokens"], sums.values().map(|s| s.1).sum::<i64>());
    let seeded = app.login("seed_2", "seed-password-1").await;
    assert_eq!(seeded.status(), StatusCode::OK, "seeded users can sign in");
}

async fn the_user_list_pages_with_page_and_limit(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = admin(&app).await;
    for _ in 0..2 {
        app.new_user().await;
    }
    let page = |n: i64| {
        let (app, token) = (&app, admin.token.clone());
        async move {
            let list: Value = app
                .get_authed(&format!("/api/admin/users?sort=username&limit=1&page={n}"), &token)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(list["total"], 3);
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let (first, second, third) = (page(1).await, page(2).await, page(3).await);
    assert_eq!([first.len(), second.len(), third.len()], [1, 1, 1]);
    assert!(first[0] < second[0] && second[0] < third[0], "{first:?} {second:?} {third:?}");
    assert!(page(4).await.is_empty());
}

crate::engine_tests!(
    every_admin_route_is_401_without_a_session_and_403_for_users,
    the_user_list_pages_with_page_and_limit,
    overview_and_user_list_equal_the_sums_over_messages,
    date_ranges_include_their_edges_and_nothing_else,
    csv_export_parses_back_to_the_same_figures,
    admins_manage_roles_access_and_quotas,
    the_last_admin_cannot_step_down,
    conversations_can_be_browsed_and_read,
    exported_cells_that_start_like_formulas_are_text,
    announcements_reach_connected_users,
    the_live_feed_counts_an_active_stream,
    the_seeder_writes_a_ledger_consistent_with_its_messages,
);
