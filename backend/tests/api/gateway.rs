//! The service gateway: systems, their keys and users, the service API, chat tokens (minted
//! and self-signed), the embedded chat, and admins browsing by system.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Engine, TestApp, TestUser, assert_ledger_matches_generations, error_code, spawn_app, spawn_app_with, sse_events,
};

const ORIGIN: &str = "https://quiz.example";

/// An admin and a public character for systems to use.
async fn admin_with_character(app: &TestApp) -> (TestUser, i64) {
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    let body = json!({"name": "Quizzy", "visibility": "public", "greeting": "Ready for a quiz?"});
    let character = app.create_character(&admin.token, body).await;
    (admin, character["id"].as_i64().unwrap())
}

/// Creates system `id` with `character` as its default; returns the answer (with secrets).
async fn create_system(app: &TestApp, admin: &TestUser, id: &str, character: i64) -> Value {
    let body = json!({"id": id, "name": "Drill Quiz", "allowed_origins": [ORIGIN], "default_character_id": character});
    let resp = app.post_authed("/api/admin/systems", &admin.token, &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

fn key_of(system: &Value) -> String {
    system["service_key"].as_str().unwrap().to_owned()
}

async fn service_post(app: &TestApp, key: &str, path: &str, body: &Value) -> reqwest::Response {
    app.client.post(app.url(path)).header("x-api-key", key).json(body).send().await.unwrap()
}

async fn service_get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).header("x-api-key", key).send().await.unwrap()
}

/// Sends `message` for `user` (a new chat, or `chat`); returns the JSON turn.
async fn chat_for(app: &TestApp, key: &str, user: &str, message: &str, chat: Option<i64>) -> Value {
    let body = json!({"user_id": user, "message": message, "chat_id": chat});
    let resp = service_post(app, key, "/api/service/chat", &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn mint(app: &TestApp, key: &str, user: &str) -> String {
    let resp = service_post(app, key, "/api/service/chat-tokens", &json!({"user_id": user, "lang": "ko"})).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    let body: Value = resp.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(body["url"].as_str().unwrap(), format!("/embed?token={token}&lang=ko"));
    token
}

fn self_signed(secret: &str, claims: Value, algorithm: Algorithm) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn in_seconds(seconds: i64) -> i64 {
    chrono::Utc::now().timestamp() + seconds
}

async fn systems_are_created_changed_rotated_and_disabled(engine: Engine) {
    let app = spawn_app(engine).await;
    let (admin, character) = admin_with_character(&app).await;
    let created = create_system(&app, &admin, "drillquiz", character).await;
    let key = key_of(&created);
    assert!(key.starts_with("trs_") && key.len() == 44, "{key}");
    assert!(created["jwt_secret"].as_str().unwrap().len() >= 32);
    assert_eq!((created["id"].as_str(), created["disabled"].as_bool()), (Some("drillquiz"), Some(false)));
    assert_eq!(created["allowed_origins"], json!([ORIGIN]));

    // Bad input changes nothing.
    let bad = [
        (json!({"id": "Drill Quiz", "name": "x"}), "id"),
        (json!({"id": "ok", "name": ""}), "name"),
        (json!({"id": "ok", "name": "x", "allowed_origins": ["quiz.example"]}), "allowed_origins"),
        (json!({"id": "ok", "name": "x", "model": "no-such-model"}), "model"),
        (json!({"id": "ok", "name": "x", "default_character_id": 999_999}), "default_character_id"),
        (json!({"id": "ok", "name": "x", "daily_token_quota_per_user": -1}), "daily_token_quota_per_user"),
    ];
    for (body, field) in bad {
        let resp = app.post_authed("/api/admin/systems", &admin.token, &body).await;
        let (_, got) = error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(got.as_deref(), Some(field), "{body}");
    }
    let again = app.post_authed("/api/admin/systems", &admin.token, &json!({"id": "drillquiz", "name": "Again"})).await;
    assert_eq!(error_code(again, StatusCode::CONFLICT).await.0, "system_exists");
    let list: Value = app.get_authed("/api/admin/systems", &admin.token).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&key), "secrets are never listed");

    let changed =
        app.patch_authed("/api/admin/systems/drillquiz", &admin.token, &json!({"name": "Quiz", "model": null})).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(changed.json::<Value>().await.unwrap()["name"], "Quiz");
    assert_eq!(
        app.patch_authed("/api/admin/systems/nope", &admin.token, &json!({})).await.status(),
        StatusCode::NOT_FOUND
    );

    // Rotation: the old key stops, the new one works.
    chat_for(&app, &key, "alice", "Hello", None).await;
    let rotated: Value =
        app.post_authed("/api/admin/systems/drillquiz/rotate", &admin.token, &json!({})).await.json().await.unwrap();
    let new_key = rotated["service_key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    assert_ne!(rotated["jwt_secret"], created["jwt_secret"]);
    let old = service_get(&app, &key, "/api/service/conversations?user_id=alice").await;
    assert_eq!(error_code(old, StatusCode::UNAUTHORIZED).await.0, "invalid_service_key");
    assert_eq!(service_get(&app, &new_key, "/api/service/conversations?user_id=alice").await.status(), StatusCode::OK);

    // Disabling stops the key at once; enabling brings it back.
    let gone = app.delete_authed("/api/admin/systems/drillquiz", &admin.token).await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let off = service_get(&app, &new_key, "/api/service/conversations?user_id=alice").await;
    assert_eq!(error_code(off, StatusCode::UNAUTHORIZED).await.0, "system_disabled");
    app.patch_authed("/api/admin/systems/drillquiz", &admin.token, &json!({"disabled": false})).await;
    assert_eq!(service_get(&app, &new_key, "/api/service/conversations?user_id=alice").await.status(), StatusCode::OK);
    for key in ["", "trs_short", "trp_not_a_service_key_at_all_0000000000000000"] {
        let resp = service_get(&app, key, "/api/service/conversations?user_id=alice").await;
        assert_eq!(error_code(resp, StatusCode::UNAUTHORIZED).await.0, "invalid_service_key");
    }
}

async fn a_system_chats_for_its_users_and_sees_only_their_chats(engine: Engine) {
    let app = spawn_app(engine).await;
    let (admin, character) = admin_with_character(&app).await;
    let key = key_of(&create_system(&app, &admin, "drillquiz", character).await);
    let other_key = key_of(&create_system(&app, &admin, "tutor", character).await);

    let first = chat_for(&app, &key, "Alice", "What is 2+2?", None).await;
    let chat = first["chat_id"].as_i64().unwrap();
    assert_eq!(first["user_message"]["content"], "What is 2+2?");
    assert_eq!(first["assistant_message"]["status"], "complete");
    let again = chat_for(&app, &key, "Alice", "And 3+3?", Some(chat)).await;
    assert_eq!(again["chat_id"], chat);

    // Streaming, exactly like the chat API.
    let resp = app
        .client
        .post(app.url("/api/service/chat"))
        .header("x-api-key", &key)
        .header("accept", "text/event-stream")
        .json(&json!({"user_id": "Alice", "message": "Stream it", "chat_id": chat}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let events = sse_events(&resp.text().await.unwrap());
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("user_message"));
    assert_eq!(events[0].1["chat_id"], chat);
    assert_eq!(events.last().map(|e| e.0.as_str()), Some("done"));

    // Ids are exact: "alice" is someone else, whose chat "Alice"'s is not.
    let bob = chat_for(&app, &key, "alice", "Hi", None).await["chat_id"].as_i64().unwrap();
    let body = json!({"user_id": "Alice", "message": "Sneaky", "chat_id": bob});
    assert_eq!(
        error_code(service_post(&app, &key, "/api/service/chat", &body).await, StatusCode::NOT_FOUND).await.0,
        "not_found"
    );
    let users_before = app.user_count().await;
    let body = json!({"user_id": "stranger", "message": "Hi", "chat_id": chat});
    assert_eq!(service_post(&app, &key, "/api/service/chat", &body).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.user_count().await, users_before, "a 404 makes no account");

    let listed: Value = service_get(&app, &key, "/api/service/conversations?user_id=Alice").await.json().await.unwrap();
    assert_eq!((listed["total"].as_i64(), listed["items"][0]["id"].as_i64()), (Some(1), Some(chat)));
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let window = format!("/api/service/conversations?user_id=Alice&from={today}&to={today}");
    assert_eq!(service_get(&app, &key, &window).await.json::<Value>().await.unwrap()["total"], 1);
    let past = "/api/service/conversations?user_id=Alice&from=2020-01-01&to=2020-01-31";
    assert_eq!(service_get(&app, &key, past).await.json::<Value>().await.unwrap()["total"], 0);
    let nobody: Value =
        service_get(&app, &key, "/api/service/conversations?user_id=nobody").await.json().await.unwrap();
    assert_eq!(nobody["total"], 0);
    let messages: Value =
        service_get(&app, &key, &format!("/api/service/conversations/{chat}/messages")).await.json().await.unwrap();
    assert_eq!(messages["items"].as_array().unwrap().len(), 7, "greeting and three turns");

    // Another system sees none of it.
    let theirs = service_get(&app, &other_key, &format!("/api/service/conversations/{chat}/messages")).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let body = json!({"user_id": "Alice", "message": "Hi", "chat_id": chat});
    assert_eq!(service_post(&app, &other_key, "/api/service/chat", &body).await.status(), StatusCode::NOT_FOUND);
    let own: Value =
        service_get(&app, &other_key, "/api/service/conversations?user_id=Alice").await.json().await.unwrap();
    assert_eq!(own["total"], 0);
    // Nor does a signed-in user's chat become reachable.
    let person = app.new_user().await;
    let theirs = app.new_chat(&person.token, "demo").await;
    let resp = service_get(&app, &key, &format!("/api/service/conversations/{theirs}/messages")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Bad input: 422, and no user, chat or message left behind.
    let users_before = app.user_count().await;
    let bad = [
        (json!({"user_id": "", "message": "x"}), "user_id"),
        (json!({"user_id": "x".repeat(129), "message": "x"}), "user_id"),
        (json!({"user_id": "bad\nid", "message": "x"}), "user_id"),
        (json!({"user_id": "carol", "message": "x".repeat(201)}), "message"),
        (json!({"user_id": "carol", "message": "   "}), "message"),
    ];
    for (body, field) in bad {
        let resp = service_post(&app, &key, "/api/service/chat", &body).await;
        assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await.1.as_deref(), Some(field), "{body}");
    }
    assert_eq!(app.user_count().await, users_before, "no user was created");

    // External users show as system:user_id, sign in with no password, and count in the overview.
    let users: Value = app.get_authed("/api/admin/users?q=drillquiz", &admin.token).await.json().await.unwrap();
    let names: Vec<&str> = users["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert!(names.contains(&"drillquiz:Alice") && names.contains(&"drillquiz:alice"), "{names:?}");
    let login = app.login("drillquiz:Alice", "").await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
    assert_ledger_matches_generations(&app.db).await;
    let overview: Value = app.get_authed("/api/admin/stats/overview", &admin.token).await.json().await.unwrap();
    let quiz = &overview["by_system"][0];
    assert_eq!(
        (quiz["system_id"].as_str(), quiz["users"].as_i64(), quiz["messages"].as_i64()),
        (Some("drillquiz"), Some(2), Some(4))
    );
    let tokens: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(g.prompt_tokens + g.completion_tokens), 0) AS BIGINT) FROM generations g \
         JOIN users u ON u.id = g.user_id WHERE u.system_id = 'drillquiz'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(quiz["total_tokens"].as_i64(), Some(tokens));
    let listed: Value = app.get_authed("/api/admin/systems", &admin.token).await.json().await.unwrap();
    assert_eq!(
        (listed["items"][0]["users"].as_i64(), listed["items"][0]["total_tokens"].as_i64()),
        (Some(2), Some(tokens))
    );
}

async fn a_new_chat_needs_a_character(engine: Engine) {
    let app = spawn_app(engine).await;
    let (admin, character) = admin_with_character(&app).await;
    let body = json!({"id": "bare", "name": "No default"});
    let key = key_of(&app.post_authed("/api/admin/systems", &admin.token, &body).await.json().await.unwrap());
    let resp = service_post(&app, &key, "/api/service/chat", &json!({"user_id": "u", "message": "Hi"})).await;
    assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await.1.as_deref(), Some("character_id"));
    let listed: Value = service_get(&app, &key, "/api/service/conversations?user_id=u").await.json().await.unwrap();
    assert_eq!(listed["total"], 0, "nothing was left behind");
    let body = json!({"user_id": "u", "message": "Hi", "character_id": character});
    assert_eq!(service_post(&app, &key, "/api/service/chat", &body).await.status(), StatusCode::CREATED);
    // A private character of someone is not there for a system's users.
    let private = app.create_character(&admin.token, json!({"name": "Mine"})).await;
    let body = json!({"user_id": "u", "message": "Hi", "character_id": private["id"]});
    assert_eq!(service_post(&app, &key, "/api/service/chat", &body).await.status(), StatusCode::NOT_FOUND);
}

async fn each_external_user_has_the_systems_quota(engine: Engine) {
    let app = spawn_app(engine).await;
    let (admin, character) = admin_with_character(&app).await;
    let body =
        json!({"id": "quiz", "name": "Quiz", "default_character_id": character, "daily_token_quota_per_user": 1});
    let key = key_of(&app.post_authed("/api/admin/systems", &admin.token, &body).await.json().await.unwrap());
    let chat = chat_for(&app, &key, "a", "First", None).await["chat_id"].as_i64().unwrap();
    let body = json!({"user_id": "a", "message": "Second", "chat_id": chat});
    let resp = service_post(&app, &key, "/api/service/chat", &body).await;
    assert_eq!(error_code(resp, StatusCode::TOO_MANY_REQUESTS).await.0, "quota_exceeded");
    // Another of the system's users has a quota of their own.
    chat_for(&app, &key, "b", "First", None).await;
    let limits: Value = app.get_authed("/api/limits", &mint(&app, &key, "c").await).await.json().await.unwrap();
    assert_eq!(limits["daily_token_quota"], 1);
    assert_ledger_matches_generations(&app.db).await;
}

async fn chat_tokens_open_only_the_chat_routes_as_that_user(engine: Engine) {
    let app = spawn_app(engine).await;
    let (admin, character) = admin_with_character(&app).await;
    let system = create_system(&app, &admin, "drillquiz", character).await;
    let key = key_of(&system);
    let alice_chat = chat_for(&app, &key, "alice", "Hi", None).await["chat_id"].as_i64().unwrap();
    let bob_chat = chat_for(&app, &key, "bob", "Hi", None).await["chat_id"].as_i64().unwrap();
    let token = mint(&app, &key, "alice").await;

    let me: Value = app.me(&token).await.json().await.unwrap();
    assert_eq!(me["username"], "drillquiz:alice");
    let chats: Value = app.get_authed("/api/chats", &token).await.json().await.unwrap();
    assert_eq!((chats["total"].as_i64(), chats["items"][0]["id"].as_i64()), (Some(1), Some(alice_chat)));
    assert_eq!(app.send(&token, alice_chat, "From the frame").await.status(), StatusCode::CREATED);
    assert_eq!(app.get_authed("/api/models", &token).await.status(), StatusCode::OK);
    assert_eq!(app.get_authed("/api/limits", &token).await.status(), StatusCode::OK);
    // Bob's chat is not there for Alice's token.
    assert_eq!(
        app.get_authed(&format!("/api/chats/{bob_chat}/messages"), &token).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.send(&token, bob_chat, "Hi").await.status(), StatusCode::NOT_FOUND);
    for path in ["/api/characters", "/api/keys", "/api/personas", "/api/admin/users", "/api/events", "/api/lorebooks"] {
        let resp = app.get_authed(path, &token).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.logout(&token).await.status(), StatusCode::FORBIDDEN);

    // Origins: a browser's must be allowed; a backend sends none.
    let mint_from = |origin: &'static str, ttl: Value| {
        app.client
            .post(app.url("/api/service/chat-tokens"))
            .header("x-api-key", &key)
            .header("origin", origin)
            .json(&json!({"user_id": "alice", "ttl_minutes": ttl}))
            .send()
    };
    assert_eq!(
        error_code(mint_from("https://evil.example", json!(10)).await.unwrap(), StatusCode::FORBIDDEN).await.0,
        "forbidden"
    );
    assert_eq!(mint_from(ORIGIN, json!(10)).await.unwrap().status(), StatusCode::CREATED);
    for ttl in [json!(0), json!(1441)] {
        let resp = mint_from(ORIGIN, ttl).await.unwrap();
        assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await.1.as_deref(), Some("ttl_minutes"));
    }
    let resp = service_post(&app, &key, "/api/service/chat-tokens", &json!({"user_id": ""})).await;
    assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await.1.as_deref(), Some("user_id"));

    // Self-signed tokens: HS256 with the system's secret, and a lifetime of at most a day.
    let secret = system["jwt_secret"].as_str().unwrap();
    let claims = |user: &str, exp: i64| json!({"system_id": "drillquiz", "user_id": user, "exp": exp});
    let own = self_signed(secret, claims("carol", in_seconds(600)), Algorithm::HS256);
    let me: Value = app.me(&own).await.json().await.unwrap();
    assert_eq!(me["username"], "drillquiz:carol", "created on first use");
    let numeric = json!({"system_id": "drillquiz", "user_id": 42, "exp": in_seconds(600), "iat": in_seconds(0)});
    let me: Value = app.me(&self_signed(secret, numeric, Algorithm::HS256)).await.json().await.unwrap();
    assert_eq!(me["username"], "drillquiz:42", "a numeric id is its decimal text");
    let refused = [
        self_signed(secret, claims("carol", in_seconds(-600)), Algorithm::HS256),
        self_signed(secret, claims("carol", in_seconds(25 * 3600)), Algorithm::HS256),
        self_signed(secret, json!({"system_id": "drillquiz", "user_id": "carol"}), Algorithm::HS256),
        self_signed(secret, claims("carol", in_seconds(600)), Algorithm::HS512),
        self_signed("not-the-secret", claims("carol", in_seconds(600)), Algorithm::HS256),
        self_signed(
            secret,
            json!({"system_id": "nosuch", "user_id": "carol", "exp": in_seconds(600)}),
            Algorithm::HS256,
        ),
        unsigned(&claims("carol", in_seconds(600))),
        format!("{}x", own),
    ];
    for token in &refused {
        assert_eq!(app.me(token).await.status(), StatusCode::UNAUTHORIZED, "{token}");
    }

    // Rotation ends every token, minted or self-signed; disabling too.
    app.post_authed("/api/admin/systems/drillquiz/rotate", &admin.token, &json!({})).await;
    assert_eq!(app.me(&token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&own).await.status(), StatusCode::UNAUTHORIZED);
}

/// A token with `alg: none` and no signature.
fn unsigned(claims: &Value) -> String {
    use base64::Engine as _;
    let encode = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", encode(&json!({"alg": "none", "typ": "JWT"})), encode(claims))
}

async fn the_embedded_chat_is_framed_only_by_the_systems_origins(engine: Engine) {
    let static_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(static_dir.path().join("embed")).unwrap();
    let page = "<!doctype html><html><head><title>Troupe chat</title></head><body></body></html>";
    std::fs::write(static_dir.path().join("embed/index.html"), page).unwrap();
    let dir = static_dir.path().to_string_lossy().into_owned();
    let app = spawn_app_with(engine, &[("STATIC_DIR", dir.as_str())]).await;
    let (admin, character) = admin_with_character(&app).await;
    let system = create_system(&app, &admin, "drillquiz", character).await;
    let token = mint(&app, &key_of(&system), "alice").await;

    let resp = app.get(&format!("/embed?token={token}&lang=ko")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.ends_with(&format!("; frame-ancestors {ORIGIN}")) && csp.contains("script-src 'self'"), "{csp}");
    assert!(resp.headers().get("x-frame-options").is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains(&format!(r#"<meta name="troupe-character" content="{character}">"#)), "{html}");
    assert!(html.contains(r#"<meta name="troupe-system" content="Drill Quiz">"#));

    for bad in [format!("{token}x"), String::new(), "not.a.token".to_owned()] {
        let resp = app.get(&format!("/embed?token={bad}&lang=ja")).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let text = resp.text().await.unwrap();
        assert!(text.contains("このチャットのリンク") && !text.contains("troupe-character"), "{text}");
    }
    assert_eq!(app.get("/embed").await.status(), StatusCode::UNAUTHORIZED);

    let script = app.get("/embed.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(script.text().await.unwrap().contains("data-token-url"));
}

async fn admins_browse_search_and_export_by_system(engine: Engine) {
    let app = spawn_app(engine).await;
    let (admin, character) = admin_with_character(&app).await;
    let key = key_of(&create_system(&app, &admin, "drillquiz", character).await);
    let chat = chat_for(&app, &key, "alice", "Where is the lighthouse?", None).await["chat_id"].as_i64().unwrap();
    chat_for(&app, &key, "bob", "Tell me a riddle", None).await;
    let person = app.new_user().await;
    let own = app.new_chat(&person.token, "demo").await;
    app.send(&person.token, own, "The LIGHTHOUSE again").await;

    let ids = |body: Value| -> Vec<i64> {
        body["items"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect()
    };
    let browse = |query: &str| {
        let path = format!("/api/admin/conversations?{query}");
        let token = admin.token.clone();
        let app = &app;
        async move { app.get_authed(&path, &token).await }
    };
    let by_system: Value = browse("system_id=drillquiz").await.json().await.unwrap();
    assert_eq!(by_system["total"], 2);
    assert_eq!(by_system["items"][0]["system_id"], "drillquiz");
    assert_eq!(ids(browse("system_id=drillquiz&external_user_id=alice").await.json().await.unwrap()), vec![chat]);
    // Search: any substring of a message, ignoring case, through the full-text index.
    let mut found = ids(browse("q=lighthou").await.json().await.unwrap());
    found.sort();
    assert_eq!(found, vec![chat, own]);
    assert_eq!(ids(browse("q=lighthouse&system_id=drillquiz").await.json().await.unwrap()), vec![chat]);
    assert!(ids(browse("q=submarine").await.json().await.unwrap()).is_empty());
    assert_eq!(ids(browse("q=%22riddle").await.json().await.unwrap()).len(), 0, "quotes are text, not syntax");
    // Whatever is typed is text to find, never search syntax.
    for odd in
        ["%22%22%22", "a%22b%22c", "***", "NEAR(a%20b)", "x%20OR%20y", "%25%25%25", "__%5C", "%F0%9F%98%80%F0%9F%98%80"]
    {
        assert_eq!(browse(&format!("q={odd}")).await.status(), StatusCode::OK, "{odd}");
    }
    // The index follows edits and deletes.
    let messages = app.messages(&person.token, own).await;
    let user_message = messages.iter().find(|m| m["role"] == "user").unwrap()["id"].as_i64().unwrap();
    let path = format!("/api/chats/{own}/messages/{user_message}");
    assert_eq!(
        app.patch_authed(&path, &person.token, &json!({"content": "A windmill"})).await.status(),
        StatusCode::OK
    );
    assert_eq!(ids(browse("q=windmill").await.json().await.unwrap()), vec![own]);
    assert_eq!(app.delete_authed(&format!("/api/chats/{own}"), &person.token).await.status(), StatusCode::NO_CONTENT);
    assert!(ids(browse("q=windmill").await.json().await.unwrap()).is_empty());
    assert_eq!(ids(browse("q=lighthouse").await.json().await.unwrap()), vec![chat]);
    let resp = browse("external_user_id=alice").await;
    assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await.1.as_deref(), Some("external_user_id"));

    let csv = app.get_authed("/api/admin/conversations/export.csv?system_id=drillquiz", &admin.token).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains(".csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("chat_id,chat_title,user_id,username,system_id,external_user_id"));
    assert!(csv.contains("Where is the lighthouse?") && !csv.contains("windmill"));
    assert_eq!(csv.lines().count(), 1 + 2 * 3, "header, then greeting, message and reply of two chats");
    let json: Value = app
        .get_authed("/api/admin/conversations/export.json?system_id=drillquiz&external_user_id=alice", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let exported = &json["items"][0];
    assert_eq!((exported["chat_id"].as_i64(), exported["external_user_id"].as_str()), (Some(chat), Some("alice")));
    assert_eq!(exported["messages"].as_array().unwrap().len(), 3);
}

async fn every_service_route_wants_a_live_service_key(engine: Engine) {
    let app = spawn_app(engine).await;
    let (admin, character) = admin_with_character(&app).await;
    let key = key_of(&create_system(&app, &admin, "drillquiz", character).await);
    app.delete_authed("/api/admin/systems/drillquiz", &admin.token).await;
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/api/service/") {
            continue;
        }
        let url = app.url(&path.replace("{chat_id}", "1"));
        for method in operations.as_object().unwrap().keys() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let request = || app.client.request(method.clone(), &url).json(&json!({"user_id": "u", "message": "Hi"}));
            let (code, _) = error_code(request().send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
            assert_eq!(code, "invalid_service_key", "{method} {path} without a key");
            let as_user = request().bearer_auth(&admin.token).send().await.unwrap();
            assert_eq!(as_user.status(), StatusCode::UNAUTHORIZED, "{method} {path}: a session is no service key");
            let disabled = request().header("x-api-key", &key).send().await.unwrap();
            assert_eq!(error_code(disabled, StatusCode::UNAUTHORIZED).await.0, "system_disabled", "{method} {path}");
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "walked every service operation");
}

crate::engine_tests!(
    every_service_route_wants_a_live_service_key,
    systems_are_created_changed_rotated_and_disabled,
    a_system_chats_for_its_users_and_sees_only_their_chats,
    a_new_chat_needs_a_character,
    each_external_user_has_the_systems_quota,
    chat_tokens_open_only_the_chat_routes_as_that_user,
    the_embedded_chat_is_framed_only_by_the_systems_origins,
    admins_browse_search_and_export_by_system,
);
