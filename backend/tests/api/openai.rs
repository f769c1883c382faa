//! The OpenAI-compatible API (`/v1`): models, completions whole and streamed for each provider
//! kind, a character's prompt as the provider receives it, limits and OpenAI's error shape.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use troupe_fake_upstream::{Behavior, Script};

use crate::{
    helpers::{Engine, TestApp, TestUser, assert_ledger_matches_generations, spawn_app, spawn_app_with},
    keys::secret_of,
};

const MODELS: [&str; 4] = ["fake-openai", "fake-anthropic", "fake-dify", "demo"];

async fn complete(app: &TestApp, key: &str, body: &Value) -> Response {
    app.client.post(app.url("/v1/chat/completions")).bearer_auth(key).json(body).send().await.unwrap()
}

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Hello there"}]})
}

/// Asserts OpenAI's error shape and returns `(type, code, param)`.
async fn openai_error(resp: Response, status: StatusCode) -> (String, String, Option<String>) {
    assert_eq!(resp.status(), status);
    let body: Value = resp.json().await.unwrap();
    let error = &body["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(error.get("param").is_some() && error.get("code").is_some(), "OpenAI's four fields: {body}");
    (
        error["type"].as_str().unwrap().into(),
        error["code"].as_str().unwrap().into(),
        error["param"].as_str().map(Into::into),
    )
}

/// The `data:` payloads of an OpenAI stream.
fn stream_data(body: &str) -> Vec<String> {
    body.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_owned).collect()
}

async fn usage_booked(app: &TestApp, user: &TestUser) -> (i64, i64) {
    sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(messages), 0) AS BIGINT), \
         CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) FROM usage_user_days WHERE user_id = $1",
    )
    .bind(user.id)
    .fetch_one(app.db.pool())
    .await
    .unwrap()
}

async fn models_are_the_catalogue_and_the_characters_one_may_read(engine: Engine) {
    let app = spawn_app(engine).await;
    let (user, other) = (app.new_user().await, app.new_user().await);
    let mine = app.create_character(&user.token, json!({"name": "Mine"})).await;
    let public = app.create_character(&other.token, json!({"name": "Shared", "visibility": "public"})).await;
    let private = app.create_character(&other.token, json!({"name": "Hidden"})).await;
    let key = secret_of(&app, &user).await;

    let resp = app.client.get(app.url("/v1/models")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let list: Value = resp.json().await.unwrap();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    let character = |c: &Value| format!("character-{}", c["id"]);
    assert_eq!(ids, [&MODELS[..], &[character(&mine).as_str(), character(&public).as_str()]].concat());
    assert!(!ids.contains(&character(&private).as_str()));
    let shared = &list["data"][5];
    assert_eq!(
        (shared["object"].as_str(), shared["owned_by"].as_str()),
        (Some("model"), Some(other.username.as_str()))
    );
    assert!(shared["created"].as_i64().unwrap() > 1_700_000_000);

    let one =
        app.client.get(app.url(&format!("/v1/models/{}", character(&mine)))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(one.json::<Value>().await.unwrap()["id"], character(&mine));

    // Someone else's private character is no model of this key's.
    let resp = complete(&app, &key, &hello(&character(&private))).await;
    assert_eq!(openai_error(resp, StatusCode::NOT_FOUND).await.1, "model_not_found");
    let resp =
        app.client.get(app.url(&format!("/v1/models/{}", character(&private)))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(openai_error(resp, StatusCode::NOT_FOUND).await.1, "model_not_found");
}

async fn only_api_keys_open_v1(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let no_key = app.client.get(app.url("/v1/models")).send().await.unwrap();
    assert_eq!(openai_error(no_key, StatusCode::UNAUTHORIZED).await.1, "invalid_api_key");
    let session = app.client.get(app.url("/v1/models")).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(openai_error(session, StatusCode::UNAUTHORIZED).await.1, "invalid_api_key");
    let cookie = app
        .client
        .get(app.url("/v1/models"))
        .header("cookie", format!("troupe_session={}", user.token))
        .send()
        .await
        .unwrap();
    assert_eq!(openai_error(cookie, StatusCode::UNAUTHORIZED).await.1, "invalid_api_key");
    let unknown = complete(&app, "trp_0000000000000000000000000000000000000000", &hello("demo")).await;
    assert_eq!(
        openai_error(unknown, StatusCode::UNAUTHORIZED).await,
        ("invalid_request_error".into(), "invalid_api_key".into(), None)
    );
    assert!(app.upstream.received().is_empty());
}

async fn completions_answer_whole_for_every_provider_and_are_charged_what_they_say(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let key = secret_of(&app, &user).await;
    let mut charged = 0;
    for model in MODELS {
        let resp = complete(&app, &key, &hello(model)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{model}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!((body["object"].as_str(), body["model"].as_str()), (Some("chat.completion"), Some(model)));
        assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-") && body["created"].as_i64().unwrap() > 0);
        let choice = &body["choices"][0];
        assert_eq!((choice["index"].as_i64(), choice["finish_reason"].as_str()), (Some(0), Some("stop")));
        assert_eq!(choice["message"]["role"], "assistant");
        let content = choice["message"]["content"].as_str().unwrap();
        if model != "demo" {
            assert_eq!(content, "Hello from the fake upstream.", "{model}");
        } else {
            assert!(!content.is_empty());
        }
        let usage = &body["usage"];
        let total = usage["total_tokens"].as_i64().unwrap();
        assert_eq!(total, usage["prompt_tokens"].as_i64().unwrap() + usage["completion_tokens"].as_i64().unwrap());
        charged += total;
        assert_eq!(usage_booked(&app, &user).await.1, charged, "the ledger booked what usage says ({model})");
    }
    assert_eq!(usage_booked(&app, &user).await.0, 4, "each completion is one message");
    let sources: Vec<(String, i64)> = sqlx::query_as(
        "SELECT source, CAST(COUNT(*) AS BIGINT) FROM generations WHERE user_id = $1 AND api_key_id IS NOT NULL GROUP BY source",
    )
    .bind(user.id)
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    assert_eq!(sources, [("api".to_owned(), 4)]);
    let by_source: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(messages) AS BIGINT) FROM usage_source_days WHERE source = 'api'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(by_source, 4);
    assert_ledger_matches_generations(&app.db).await;

    // The dashboard shows the API as a source of its own, beside chats.
    let chat = app.new_chat(&user.token, "demo").await;
    assert_eq!(app.send(&user.token, chat, "hi").await.status(), StatusCode::CREATED);
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    let overview: Value = app.get_authed("/api/admin/stats/overview", &admin.token).await.json().await.unwrap();
    let sources: Vec<(String, i64, i64)> = overview["by_source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap().to_owned(),
                s["messages"].as_i64().unwrap(),
                s["total_tokens"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!((sources[1].0.as_str(), sources[1].1, sources[1].2), ("api", 4, charged), "{overview}");
    assert_eq!((sources[0].0.as_str(), sources[0].1), ("chat", 1));
}

async fn completions_stream_openai_chunks_for_every_provider(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let key = secret_of(&app, &user).await;
    for model in MODELS {
        let mut body = hello(model);
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        let resp = complete(&app, &key, &body).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let data = stream_data(&resp.text().await.unwrap());
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{model}");
        let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
        let id = chunks[0]["id"].as_str().unwrap();
        assert!(chunks.iter().all(|c| c["id"] == id && c["object"] == "chat.completion.chunk" && c["model"] == model));
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let text: String =
            chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect::<Vec<_>>().concat();
        if model != "demo" {
            assert_eq!(text, "Hello from the fake upstream.");
        }
        let (last, finish) = (&chunks[chunks.len() - 1], &chunks[chunks.len() - 2]);
        assert_eq!(finish["choices"][0]["finish_reason"], "stop");
        assert_eq!(last["choices"], json!([]));
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c["usage"].is_null()), "null usage until the last");
        let booked = usage_booked(&app, &user).await.1;
        assert!(last["usage"]["total_tokens"].as_i64().unwrap() > 0);
        let total_so_far: i64 = sqlx::query_scalar(
            "SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM generations WHERE user_id = $1",
        )
        .bind(user.id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        assert_eq!(booked, total_so_far);
    }
    // Without `include_usage` there is no usage at all.
    let mut body = hello("fake-openai");
    body["stream"] = json!(true);
    let text = complete(&app, &key, &body).await.text().await.unwrap();
    assert!(!text.contains("usage"), "{text}");
}

async fn a_character_model_puts_the_characters_prompt_first(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    let prompt = json!({"name": "House rules", "content": "Be kind.", "enabled": true});
    assert_eq!(app.post_authed("/api/prompts", &admin.token, &prompt).await.status(), StatusCode::CREATED);
    let character = app
        .create_character(
            &user.token,
            json!({
                "name": "Aria",
                "system_prompt": "You are {{char}}, talking to {{user}}.",
                "model": "fake-openai",
                "post_history_instructions": "Stay in character.",
                "character_book": {"entries": [{"keys": ["dragon"], "content": "Dragons sleep in Emberpeak.", "enabled": true, "insertion_order": 1}]},
            }),
        )
        .await;
    let key = secret_of(&app, &user).await;
    let body = json!({
        "model": format!("character-{}", character["id"]),
        "messages": [
            {"role": "system", "content": "Answer in one line."},
            {"role": "user", "content": [{"type": "text", "text": "Tell me of the dragon"}]},
        ],
        "temperature": 0.5,
        "stop": "END",
        "max_tokens": 50,
        "user": "ignored",
        "unknown_field": {"is": "ignored"},
    });
    let resp = complete(&app, &key, &body).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());

    let sent = app.upstream.received().pop().unwrap().body;
    let messages = sent["messages"].as_array().unwrap();
    let system = messages[0]["content"].as_str().unwrap();
    let at = |needle: &str| system.find(needle).unwrap_or_else(|| panic!("{needle:?} in {system}"));
    assert!(at("Be kind.") < at(&format!("You are Aria, talking to {}.", user.username)));
    assert!(at("Dragons sleep in Emberpeak.") < at("Answer in one line."), "the client's system text comes after");
    assert_eq!(messages[1], json!({"role": "user", "content": "Tell me of the dragon"}));
    assert_eq!(messages[2], json!({"role": "system", "content": "Stay in character."}));
    assert_eq!((sent["model"].as_str(), sent["max_tokens"].as_i64()), (Some("gpt-fake"), Some(50)));
    assert_eq!((sent["temperature"].as_f64(), &sent["stop"]), (Some(0.5), &json!(["END"])));

    // A catalogue model passes the client's messages as they are.
    let body = json!({"model": "fake-anthropic", "messages": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"},
    ]});
    assert_eq!(complete(&app, &key, &body).await.status(), StatusCode::OK);
    let sent = app.upstream.received().pop().unwrap().body;
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(sent["messages"].as_array().unwrap().len(), 3);
    assert!(sent.get("temperature").is_none());
}

async fn bad_completions_get_openais_errors_and_cost_nothing(engine: Engine) {
    let app = spawn_app_with(engine, &[("MAX_MESSAGE_CHARS", "20")]).await;
    let user = app.new_user().await;
    let key = secret_of(&app, &user).await;
    let cases = [
        (
            json!({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}),
            StatusCode::NOT_FOUND,
            Some("model"),
        ),
        (
            json!({"model": "character-999999", "messages": [{"role": "user", "content": "hi"}]}),
            StatusCode::NOT_FOUND,
            Some("model"),
        ),
        (json!({"model": "demo", "messages": []}), StatusCode::BAD_REQUEST, Some("messages")),
        (
            json!({"model": "demo", "messages": [{"role": "system", "content": "only rules"}]}),
            StatusCode::BAD_REQUEST,
            Some("messages"),
        ),
        (
            json!({"model": "demo", "messages": [{"role": "user", "content": "x".repeat(21)}]}),
            StatusCode::BAD_REQUEST,
            Some("messages"),
        ),
        (
            json!({"model": "demo", "messages": [{"role": "tool", "content": "x"}]}),
            StatusCode::BAD_REQUEST,
            Some("messages[0].role"),
        ),
        (
            json!({"model": "demo", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
            StatusCode::BAD_REQUEST,
            Some("messages[0].content"),
        ),
        (
            json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}),
            StatusCode::BAD_REQUEST,
            Some("max_tokens"),
        ),
        (
            json!({"model": "demo", "messages": [{"role": "user", "content": "hi"}], "temperature": 3}),
            StatusCode::BAD_REQUEST,
            Some("temperature"),
        ),
        (json!({"messages": [{"role": "user", "content": "hi"}]}), StatusCode::BAD_REQUEST, None),
        (json!({"model": 7, "messages": [{"role": "user", "content": "hi"}]}), StatusCode::BAD_REQUEST, Some("model")),
    ];
    for (body, status, param) in cases {
        let (kind, _, got) = openai_error(complete(&app, &key, &body).await, status).await;
        assert_eq!(kind, "invalid_request_error", "{body}");
        if param.is_some() {
            assert_eq!(got.as_deref(), param, "{body}");
        }
    }
    let not_json = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    openai_error(not_json, StatusCode::BAD_REQUEST).await;
    let no_route = app.client.get(app.url("/v1/embeddings")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(openai_error(no_route, StatusCode::NOT_FOUND).await.1, "not_found");
    assert_eq!(usage_booked(&app, &user).await, (0, 0));
    assert!(app.upstream.received().is_empty());
}

async fn completions_are_held_to_the_users_limits(engine: Engine) {
    let app = spawn_app_with(engine, &[("RATE_LIMIT_MESSAGES_PER_MINUTE", "4"), ("MAX_CONCURRENT_STREAMS", "1")]).await;
    let user = app.new_user().await;
    let key = secret_of(&app, &user).await;

    // One stream at a time, shared with chats.
    app.upstream.set_script(Script { first_token_delay: Duration::from_millis(400), ..Script::default() });
    let body = hello("fake-openai");
    let (a, b) = tokio::join!(complete(&app, &key, &body), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        complete(&app, &key, &body).await
    });
    assert_eq!(a.status(), StatusCode::OK);
    assert!(b.headers().contains_key("retry-after"));
    assert_eq!(openai_error(b, StatusCode::TOO_MANY_REQUESTS).await.1, "too_many_streams");
    app.upstream.set_script(Script::default());

    // The message rate (a burst of 2, both spent above, the refused one too): now a wait.
    let limited = complete(&app, &key, &hello("fake-openai")).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(
        openai_error(limited, StatusCode::TOO_MANY_REQUESTS).await,
        ("rate_limit_error".into(), "rate_limit_exceeded".into(), None)
    );
}

async fn a_spent_quota_refuses_completions_and_charges_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let key = secret_of(&app, &user).await;
    app.set_quota(user.id, 40).await;
    assert_eq!(complete(&app, &key, &hello("fake-openai")).await.status(), StatusCode::OK);
    let spent = app.tokens_today(user.id).await;
    assert_eq!(spent, 48, "42 prompt + 6 completion tokens from the fake");

    let resp = complete(&app, &key, &hello("fake-openai")).await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(
        openai_error(resp, StatusCode::TOO_MANY_REQUESTS).await,
        ("insufficient_quota".into(), "insufficient_quota".into(), None)
    );
    assert_eq!(app.tokens_today(user.id).await, spent);
    assert_eq!(app.upstream.received().len(), 1);
}

async fn provider_failures_are_server_errors_and_a_cut_stream_is_charged(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let key = secret_of(&app, &user).await;
    app.upstream.push(Behavior::Status(500));
    app.upstream.push(Behavior::Status(500));
    app.upstream.push(Behavior::Status(500));
    let resp = complete(&app, &key, &hello("fake-openai")).await;
    assert_eq!(openai_error(resp, StatusCode::BAD_GATEWAY).await.0, "server_error");

    let mut body = hello("fake-anthropic");
    body["stream"] = json!(true);
    app.upstream.push(Behavior::DropMidStream { after_tokens: 2 });
    let resp = complete(&app, &key, &body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let data = stream_data(&resp.text().await.unwrap());
    let last: Value = serde_json::from_str(data.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "server_error", "{data:?}");
    assert_ledger_matches_generations(&app.db).await;
}

async fn the_spec_documents_v1(engine: Engine) {
    let app = spawn_app(engine).await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let create = &spec["paths"]["/v1/chat/completions"]["post"];
    assert!(create["responses"]["200"]["content"]["text/event-stream"].is_object(), "{create}");
    assert!(spec["paths"]["/v1/models"]["get"].is_object());
    assert!(spec["paths"]["/api/keys"]["post"].is_object());
}

crate::engine_tests!(
    models_are_the_catalogue_and_the_characters_one_may_read,
    only_api_keys_open_v1,
    completions_answer_whole_for_every_provider_and_are_charged_what_they_say,
    completions_stream_openai_chunks_for_every_provider,
    a_character_model_puts_the_characters_prompt_first,
    bad_completions_get_openais_errors_and_cost_nothing,
    completions_are_held_to_the_users_limits,
    a_spent_quota_refuses_completions_and_charges_nothing,
    provider_failures_are_server_errors_and_a_cut_stream_is_charged,
    the_spec_documents_v1,
);

/// OpenAI's own Python SDK (`scripts/test` installs it in `target/openai-venv`; or set
/// `TROUPE_TEST_PYTHON` to a Python that has `openai`) drives `/v1`: models, a character's
/// completion whole, a stream with usage, and three errors as the SDK's exception classes.
#[tokio::test]
async fn a_real_openai_client_speaks_v1() {
    let python = std::env::var("TROUPE_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/openai-venv/bin/python"));
    assert!(
        python.is_file(),
        "no Python with OpenAI's SDK at {}: run scripts/test (it installs one) or set TROUPE_TEST_PYTHON",
        python.display()
    );
    let app = spawn_app(Engine::Sqlite).await;
    let user = app.new_user().await;
    let character = app.create_character(&user.token, json!({"name": "Aria", "model": "fake-openai"})).await;
    let key = secret_of(&app, &user).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/openai_sdk.py");
    let mut command = std::process::Command::new(python);
    command
        .arg(script)
        .env("TROUPE_BASE_URL", &app.address)
        .env("TROUPE_API_KEY", &key)
        .env("TROUPE_CHARACTER_MODEL", format!("character-{}", character["id"]))
        .env("NO_PROXY", "127.0.0.1");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the SDK script failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(seen["whole"]["text"], "Hello from the fake upstream.");
    assert_eq!(seen["stream"]["text"], "Hello from the fake upstream.");
    let reported = seen["whole"]["total_tokens"].as_i64().unwrap() + seen["stream"]["total_tokens"].as_i64().unwrap();
    assert_eq!(usage_booked(&app, &user).await, (2, reported), "two completions booked as the SDK was told");
    assert_eq!(seen["not_found"], true);
}
