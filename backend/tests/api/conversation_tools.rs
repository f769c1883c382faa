//! The conversation tools: regenerate and alternatives, edit, delete and rewind, branch,
//! export and import — and what the next prompt sees after each.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use troupe_fake_upstream::Script;

use crate::helpers::{Engine, TestApp, TestUser, assert_ledger_matches_generations, error_code, spawn_app, sse_events};

/// The fake's reply is `words`, one piece each.
fn replying(app: &TestApp, words: &str) {
    let tokens = words.split_inclusive(' ').map(str::to_owned).collect();
    app.upstream.set_script(Script { tokens, ..Script::default() });
}

/// A chat with the fake OpenAI model and one finished turn; returns (chat, reply id).
async fn chat_with_a_reply(app: &TestApp, user: &TestUser) -> (i64, i64) {
    let chat = app.new_chat(&user.token, "fake-openai").await;
    replying(app, "First reply");
    let turn: Value = app.send(&user.token, chat, "hello").await.json().await.unwrap();
    (chat, turn["assistant_message"]["id"].as_i64().unwrap())
}

fn message_url(chat: i64, message: i64) -> String {
    format!("/api/chats/{chat}/messages/{message}")
}

async fn regenerate(app: &TestApp, user: &TestUser, chat: i64, message: i64) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{}/regenerate", message_url(chat, message))))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
}

/// The texts of the conversation (the system prompt aside) the fake upstream received last.
fn last_prompt(app: &TestApp) -> Vec<String> {
    let received = app.upstream.received();
    let body = &received.last().expect("the upstream was called").body;
    let messages = body["messages"].as_array().unwrap().iter().filter(|m| m["role"] != "system");
    messages.map(|m| m["content"].as_str().unwrap().to_owned()).collect()
}

async fn tokens_charged(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>(
        "SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM usage_daily",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap()
    .unwrap_or(0)
}

async fn regenerating_adds_alternatives_each_charged(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;

    for n in 2..=4 {
        replying(&app, &format!("Reply number {n}"));
        let resp = regenerate(&app, &user, chat, reply).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let done: Value = resp.json().await.unwrap();
        let message = &done["assistant_message"];
        assert_eq!((message["id"].as_i64(), message["alternative_count"].as_i64()), (Some(reply), Some(n)));
        assert_eq!(message["alternative_index"], n - 1, "the new one is selected");
        assert_eq!(message["content"], format!("Reply number {n}"));
        assert!(done["usage"]["total_tokens"].as_i64().unwrap() > 0);
    }

    // Four generations, each charged: 42 prompt tokens and a piece per word.
    let generations: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM generations").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(generations, 4);
    assert_eq!(tokens_charged(&app).await, 4 * 42 + 2 + 3 * 3);
    assert_ledger_matches_generations(&app.db).await;
    // What the prompt of the regeneration held: the history up to the user's message.
    assert_eq!(last_prompt(&app), [format!("Hi {}!", user.username), "hello".to_owned()]);
    let messages = app.messages(&user.token, chat).await;
    assert_eq!(messages.len(), 3, "alternatives, not new messages");
}

async fn a_regeneration_streams_as_a_send_does_without_the_user_message(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;
    replying(&app, "Streamed again");

    let resp = app
        .client
        .post(app.url(&format!("{}/regenerate", message_url(chat, reply))))
        .bearer_auth(&user.token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::OK);
    let events = sse_events(&resp.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["delta", "delta", "done"]);
    assert_eq!(events[2].1["assistant_message"]["content"], "Streamed again");
    assert_eq!(events[2].1["assistant_message"]["alternative_count"], 2);
}

async fn a_failed_regeneration_keeps_the_alternatives(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;
    app.upstream.push(troupe_fake_upstream::Behavior::Status(400));

    let (code, _) = error_code(regenerate(&app, &user, chat, reply).await, StatusCode::BAD_GATEWAY).await;

    assert_eq!(code, "upstream_error");
    let messages = app.messages(&user.token, chat).await;
    let last = messages.last().unwrap();
    assert_eq!((last["content"].as_str(), last["alternative_count"].as_i64()), (Some("First reply"), Some(1)));
    assert_ledger_matches_generations(&app.db).await;
}

async fn choosing_an_alternative_is_free_and_decides_the_next_prompt(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;
    replying(&app, "Second reply");
    regenerate(&app, &user, chat, reply).await;
    let charged = tokens_charged(&app).await;
    let url = format!("{}/alternative", message_url(chat, reply));

    let chosen: Value = app.put_authed(&url, &user.token, &json!({"index": 0})).await.json().await.unwrap();

    assert_eq!((chosen["content"].as_str(), chosen["alternative_index"].as_i64()), (Some("First reply"), Some(0)));
    assert_eq!(tokens_charged(&app).await, charged, "choosing costs nothing");
    replying(&app, "Third");
    app.send(&user.token, chat, "and then?").await;
    let prompt = last_prompt(&app);
    assert!(prompt.contains(&"First reply".to_owned()) && !prompt.contains(&"Second reply".to_owned()), "{prompt:?}");
    for index in [2, -1] {
        let (_, field) = error_code(
            app.put_authed(&url, &user.token, &json!({"index": index})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(field.as_deref(), Some("index"));
    }
}

async fn only_the_last_reply_can_be_regenerated(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, first_reply) = chat_with_a_reply(&app, &user).await;
    let turn: Value = app.send(&user.token, chat, "again").await.json().await.unwrap();
    let user_message = turn["user_message"]["id"].as_i64().unwrap();

    for message in [first_reply, user_message] {
        let (code, _) = error_code(regenerate(&app, &user, chat, message).await, StatusCode::CONFLICT).await;
        assert_eq!(code, "not_last_message");
    }
    let greeting_only = app.new_chat(&user.token, "fake-openai").await;
    let greeting = app.messages(&user.token, greeting_only).await[0]["id"].as_i64().unwrap();
    let (code, _) = error_code(regenerate(&app, &user, greeting_only, greeting).await, StatusCode::CONFLICT).await;
    assert_eq!(code, "not_last_message", "a greeting is chosen, not regenerated");
    error_code(regenerate(&app, &user, chat, 999_999).await, StatusCode::NOT_FOUND).await;
}

async fn regenerating_while_a_reply_streams_is_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;
    app.upstream.set_script(Script { first_token_delay: Duration::from_millis(800), ..Script::default() });
    let streaming = app.send_streaming(&user.token, chat, "take your time").await;
    let mut body = streaming.bytes_stream();
    body.next().await; // the user message is stored: the reply is under way

    let (code, _) = error_code(regenerate(&app, &user, chat, reply).await, StatusCode::CONFLICT).await;

    assert_eq!(code, "reply_in_progress");
    while body.next().await.is_some() {}
}

async fn edits_change_what_later_prompts_see_and_never_the_usage(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;
    let user_message = app.messages(&user.token, chat).await[1]["id"].as_i64().unwrap();
    let charged = tokens_charged(&app).await;

    let edited: Value = app
        .patch_authed(&message_url(chat, user_message), &user.token, &json!({"content": "  hello, edited  "}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(edited["content"], "hello, edited");
    assert!(edited["edited_at"].as_str().is_some());
    let edited_reply =
        app.patch_authed(&message_url(chat, reply), &user.token, &json!({"content": "A better reply"})).await;
    assert_eq!(edited_reply.status(), StatusCode::OK);

    app.send(&user.token, chat, "next").await;
    let prompt = last_prompt(&app);
    assert_eq!(prompt[1..], ["hello, edited".to_owned(), "A better reply".to_owned(), "next".to_owned()]);
    assert_eq!(tokens_charged(&app).await - charged, 42 + 2, "only the new turn was charged");
    let too_long = "가".repeat(201);
    let (_, field) = error_code(
        app.patch_authed(&message_url(chat, user_message), &user.token, &json!({"content": too_long})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(field.as_deref(), Some("content"));
    let (_, field) = error_code(
        app.patch_authed(&message_url(chat, reply), &user.token, &json!({"content": "x".repeat(8001)})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(field.as_deref(), Some("content"));
}

async fn delete_and_rewind_keep_recorded_usage(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, _) = chat_with_a_reply(&app, &user).await;
    for words in ["two", "three"] {
        app.send(&user.token, chat, words).await;
    }
    let charged = tokens_charged(&app).await;
    let ids: Vec<i64> = app.messages(&user.token, chat).await.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 7);

    let deleted = app.delete_authed(&message_url(chat, ids[6]), &user.token).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let rewound = app.delete_authed(&format!("{}?and_after=true", message_url(chat, ids[3])), &user.token).await;
    assert_eq!(rewound.status(), StatusCode::NO_CONTENT);

    let left: Vec<i64> = app.messages(&user.token, chat).await.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(left, ids[..3]);
    let listed: Value = app.get_authed(&format!("/api/chats/{chat}"), &user.token).await.json().await.unwrap();
    assert_eq!(listed["message_count"], 3);
    assert_eq!(tokens_charged(&app).await, charged, "recorded usage never goes down");
    app.send(&user.token, chat, "after the rewind").await;
    assert_eq!(last_prompt(&app)[1..], ["hello".to_owned(), "First reply".to_owned(), "after the rewind".to_owned()]);
    error_code(app.delete_authed(&message_url(chat, ids[6]), &user.token).await, StatusCode::NOT_FOUND).await;
}

async fn a_branch_copies_up_to_a_message_and_is_never_charged(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;
    replying(&app, "Another take");
    regenerate(&app, &user, chat, reply).await;
    app.send(&user.token, chat, "later").await;
    let charged = tokens_charged(&app).await;
    let chats_counted: i64 = sqlx::query_scalar("SELECT chats FROM user_totals WHERE user_id = $1")
        .bind(user.id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();

    let branch =
        app.post_authed(&format!("/api/chats/{chat}/branch"), &user.token, &json!({"message_id": reply})).await;

    assert_eq!(branch.status(), StatusCode::CREATED);
    let branch: Value = branch.json().await.unwrap();
    let copies = app.messages(&user.token, branch["id"].as_i64().unwrap()).await;
    let texts: Vec<&str> = copies.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(texts, [format!("Hi {}!", user.username).as_str(), "hello", "Another take"]);
    assert_eq!((copies[2]["alternative_count"].as_i64(), copies[2]["alternative_index"].as_i64()), (Some(2), Some(1)));
    assert_eq!(copies[2]["prompt_tokens"], 0, "copies carry no charge");
    assert_eq!(tokens_charged(&app).await, charged);
    let chats_now: i64 = sqlx::query_scalar("SELECT chats FROM user_totals WHERE user_id = $1")
        .bind(user.id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(chats_now, chats_counted, "a branch is not a chat started");
    assert_ledger_matches_generations(&app.db).await;
}

/// (role, texts of the alternatives, selected, edited) of each message, in order.
async fn transcript(app: &TestApp, user: &TestUser, chat: i64) -> Vec<(String, Vec<String>, i64, bool)> {
    let mut out = Vec::new();
    for m in app.messages(&user.token, chat).await {
        let id = m["id"].as_i64().unwrap();
        let count = m["alternative_count"].as_i64().unwrap();
        let mut texts = Vec::new();
        for index in 0..count {
            let url = format!("{}/alternative", message_url(chat, id));
            let shown: Value = app.put_authed(&url, &user.token, &json!({"index": index})).await.json().await.unwrap();
            texts.push(shown["content"].as_str().unwrap().to_owned());
        }
        let selected = m["alternative_index"].as_i64().unwrap();
        app.put_authed(&format!("{}/alternative", message_url(chat, id)), &user.token, &json!({"index": selected}))
            .await;
        out.push((m["role"].as_str().unwrap().to_owned(), texts, selected, m["edited_at"].is_string()));
    }
    out
}

async fn import(app: &TestApp, user: &TestUser, character: i64, file: String) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/chats/import?character_id={character}")))
        .bearer_auth(&user.token)
        .header("content-type", "application/octet-stream")
        .body(file)
        .send()
        .await
        .unwrap()
}

async fn an_export_imports_back_to_the_same_chat(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;
    replying(&app, "Second \"take\"\nwith a line");
    regenerate(&app, &user, chat, reply).await;
    app.put_authed(&format!("{}/alternative", message_url(chat, reply)), &user.token, &json!({"index": 0})).await;
    app.send(&user.token, chat, "and *more*").await;
    let original = transcript(&app, &user, chat).await;
    let character: Value = app.get_authed(&format!("/api/chats/{chat}"), &user.token).await.json().await.unwrap();
    let character = character["character_id"].as_i64().unwrap();
    let charged = tokens_charged(&app).await;

    for format in ["json", "jsonl"] {
        let export = app.get_authed(&format!("/api/chats/{chat}/export?format={format}"), &user.token).await;
        assert_eq!(export.status(), StatusCode::OK);
        assert!(export.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename="));
        let file = export.text().await.unwrap();
        let imported = import(&app, &user, character, file).await;
        assert_eq!(imported.status(), StatusCode::CREATED, "{format}");
        let imported: Value = imported.json().await.unwrap();
        let copy = transcript(&app, &user, imported["id"].as_i64().unwrap()).await;
        let shape = |t: &[(String, Vec<String>, i64, bool)]| {
            t.iter().map(|(r, a, s, _)| (r.clone(), a.clone(), *s)).collect::<Vec<_>>()
        };
        assert_eq!(shape(&copy), shape(&original), "{format}");
    }
    assert_eq!(tokens_charged(&app).await, charged, "imports are never charged");
    assert_ledger_matches_generations(&app.db).await;

    let text = app.get_authed(&format!("/api/chats/{chat}/export?format=txt"), &user.token).await.text().await.unwrap();
    assert!(
        text.starts_with(&format!("Aria: Hi {}!\n\n{}: hello\n\nAria: First reply", user.username, user.username)),
        "{text}"
    );
}

async fn sillytavern_files_follow_the_format(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;
    replying(&app, "Second");
    regenerate(&app, &user, chat, reply).await;

    let file =
        app.get_authed(&format!("/api/chats/{chat}/export?format=jsonl"), &user.token).await.text().await.unwrap();

    let lines: Vec<Value> = file.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines.len(), 4, "a header and three messages");
    assert_eq!(
        (lines[0]["user_name"].as_str(), lines[0]["character_name"].as_str()),
        (Some(user.username.as_str()), Some("Aria"))
    );
    assert!(lines[0]["create_date"].is_string() && lines[0]["chat_metadata"].is_object());
    for line in &lines[1..] {
        for key in ["name", "is_user", "is_system", "send_date", "mes", "swipes", "swipe_id", "extra"] {
            assert!(line.get(key).is_some(), "{key} in {line}");
        }
        let swipes = line["swipes"].as_array().unwrap();
        assert_eq!(line["mes"], swipes[line["swipe_id"].as_u64().unwrap() as usize], "mes is the chosen swipe");
    }
    assert_eq!((lines[2]["is_user"].as_bool(), lines[2]["name"].as_str()), (Some(true), Some(user.username.as_str())));
    assert_eq!(lines[3]["swipes"], json!(["First reply", "Second"]));
}

async fn malformed_imports_name_the_line_and_store_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let character = app.create_character(&user.token, json!({"name": "Aria"})).await["id"].as_i64().unwrap();
    let chats =
        || async { app.get_authed("/api/chats", &user.token).await.json::<Value>().await.unwrap()["total"].clone() };
    let before = chats().await;

    let file =
        "{\"user_name\":\"u\",\"character_name\":\"Aria\"}\n{\"mes\":\"hi\",\"is_user\":true}\n{\"mes\": oops}\n";
    let (code, field) =
        error_code(import(&app, &user, character, file.into()).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!((code.as_str(), field.as_deref()), ("invalid_file", Some("line 3")));
    // A million lines: refused by their count, not parsed to the end.
    let flood = "{\"mes\":\"x\"}\n".repeat(1_000_000);
    let (_, field) = error_code(import(&app, &user, character, flood).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(field.as_deref(), Some("line 20002"));
    assert_eq!(chats().await, before, "nothing stored");

    // Ten megabytes is fine, as a multipart upload too.
    let line =
        format!("{{\"mes\":\"{}\",\"is_user\":false,\"send_date\":\"November 25, 2026 5:20pm\"}}\n", "w".repeat(2000));
    let big = format!("{{\"user_name\":\"u\",\"character_name\":\"Aria\"}}\n{}", line.repeat(5000));
    assert!(big.len() > 10_000_000);
    let boundary = "troupe-test-boundary";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"chat.jsonl\"\r\n\
         Content-Type: application/jsonl\r\n\r\n{big}\r\n--{boundary}--\r\n"
    );
    let resp = app
        .client
        .post(app.url(&format!("/api/chats/import?character_id={character}")))
        .bearer_auth(&user.token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.json::<Value>().await.unwrap()["message_count"], 5000);
}

async fn every_new_route_is_404_for_another_users_chat(engine: Engine) {
    let app = spawn_app(engine).await;
    let (alice, bob) = (app.new_user().await, app.new_user().await);
    let (chat, reply) = chat_with_a_reply(&app, &alice).await;
    let private = app.create_character(&alice.token, json!({"name": "Secret"})).await["id"].as_i64().unwrap();
    let before = app.messages(&alice.token, chat).await;
    let url = message_url(chat, reply);

    error_code(regenerate(&app, &bob, chat, reply).await, StatusCode::NOT_FOUND).await;
    error_code(
        app.put_authed(&format!("{url}/alternative"), &bob.token, &json!({"index": 0})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    error_code(app.patch_authed(&url, &bob.token, &json!({"content": "mine"})).await, StatusCode::NOT_FOUND).await;
    error_code(app.delete_authed(&format!("{url}?and_after=true"), &bob.token).await, StatusCode::NOT_FOUND).await;
    let branch = app.post_authed(&format!("/api/chats/{chat}/branch"), &bob.token, &json!({"message_id": reply})).await;
    error_code(branch, StatusCode::NOT_FOUND).await;
    error_code(app.get_authed(&format!("/api/chats/{chat}/export"), &bob.token).await, StatusCode::NOT_FOUND).await;
    let file = "{\"mes\":\"hi\",\"is_user\":true}\n".to_owned();
    error_code(import(&app, &bob, private, file).await, StatusCode::NOT_FOUND).await;

    assert_eq!(app.messages(&alice.token, chat).await, before, "nothing changed");
    let bobs: Value = app.get_authed("/api/chats", &bob.token).await.json().await.unwrap();
    assert_eq!(bobs["total"], 0);
}

async fn admin_transcripts_show_the_chosen_alternative_and_the_count(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    let (chat, reply) = chat_with_a_reply(&app, &user).await;
    replying(&app, "Second");
    regenerate(&app, &user, chat, reply).await;

    let seen: Value =
        app.get_authed(&format!("/api/admin/chats/{chat}/messages"), &admin.token).await.json().await.unwrap();

    let last = seen["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["content"].as_str(), last["alternative_count"].as_i64()), (Some("Second"), Some(2)));
}

crate::engine_tests!(
    regenerating_adds_alternatives_each_charged,
    a_regeneration_streams_as_a_send_does_without_the_user_message,
    a_failed_regeneration_keeps_the_alternatives,
    choosing_an_alternative_is_free_and_decides_the_next_prompt,
    only_the_last_reply_can_be_regenerated,
    regenerating_while_a_reply_streams_is_refused,
    edits_change_what_later_prompts_see_and_never_the_usage,
    delete_and_rewind_keep_recorded_usage,
    a_branch_copies_up_to_a_message_and_is_never_charged,
    an_export_imports_back_to_the_same_chat,
    sillytavern_files_follow_the_format,
    malformed_imports_name_the_line_and_store_nothing,
    every_new_route_is_404_for_another_users_chat,
    admin_transcripts_show_the_chosen_alternative_and_the_count,
);
