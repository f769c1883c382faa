//! Personal API keys: their lifecycle, and how they authenticate.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, TestUser, error_code, spawn_app};

/// Creates a key for `user`; returns the answer (`key`, `secret`).
pub async fn create_key(app: &TestApp, user: &TestUser, body: Value) -> Value {
    let resp = app.post_authed("/api/keys", &user.token, &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

/// A fresh key's secret for `user`.
pub async fn secret_of(app: &TestApp, user: &TestUser) -> String {
    create_key(app, user, json!({"name": "tests"})).await["secret"].as_str().unwrap().to_owned()
}

async fn keys_of(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let resp = app.get_authed("/api/keys", &user.token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone()
}

async fn a_key_works_like_the_session_until_it_is_revoked(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;

    let created = create_key(&app, &user, json!({"name": "  laptop  "})).await;
    let secret = created["secret"].as_str().unwrap();
    let key = &created["key"];
    assert!(secret.starts_with("trp_") && secret.len() == 44, "{secret}");
    assert!(secret.starts_with(key["prefix"].as_str().unwrap()) && key["prefix"].as_str().unwrap().len() == 12);
    assert_eq!(
        (key["name"].as_str(), &key["expires_at"], &key["last_used_at"]),
        (Some("laptop"), &Value::Null, &Value::Null)
    );

    // The key reads and writes as its user, with no cookie and so no CSRF rule.
    let me: Value = app.me(secret).await.json().await.unwrap();
    assert_eq!(me["id"], user.id);
    let resp = app
        .client
        .post(app.url("/api/characters"))
        .bearer_auth(secret)
        .header("origin", "https://elsewhere.example")
        .json(&json!({"name": "Made by a script"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    let listed = keys_of(&app, &user).await;
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["last_used_at"].is_string(), "use is recorded: {listed:?}");
    assert!(listed[0].get("secret").is_none() && !listed[0].to_string().contains(secret), "secrets are never listed");
    let stored: String = sqlx::query_scalar("SELECT secret_hash FROM api_keys").fetch_one(app.db.pool()).await.unwrap();
    assert!(!stored.contains(&secret[4..]), "only a hash is stored");

    // A key cannot manage keys (a leaked one cannot mint others).
    let resp = app.post_authed("/api/keys", secret, &json!({"name": "more"})).await;
    assert_eq!(error_code(resp, StatusCode::FORBIDDEN).await.0, "forbidden");
    assert_eq!(app.get_authed("/api/keys", secret).await.status(), StatusCode::FORBIDDEN);

    let id = key["id"].as_i64().unwrap();
    assert_eq!(app.delete_authed(&format!("/api/keys/{id}"), &user.token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(error_code(app.me(secret).await, StatusCode::UNAUTHORIZED).await.0, "invalid_api_key");
    assert!(keys_of(&app, &user).await.is_empty());
    // A key that was never issued, or a forged one with a real prefix.
    let forged = format!("{}{}", &secret[..12], "x".repeat(32));
    assert_eq!(error_code(app.me(&forged).await, StatusCode::UNAUTHORIZED).await.0, "invalid_api_key");
    assert_eq!(error_code(app.me("trp_short").await, StatusCode::UNAUTHORIZED).await.0, "invalid_api_key");
}

async fn keys_are_their_owners_own(engine: Engine) {
    let app = spawn_app(engine).await;
    let (owner, other) = (app.new_user().await, app.new_user().await);
    let id = create_key(&app, &owner, json!({"name": "mine"})).await["key"]["id"].as_i64().unwrap();

    assert!(keys_of(&app, &other).await.is_empty());
    let resp = app.delete_authed(&format!("/api/keys/{id}"), &other.token).await;
    assert_eq!(error_code(resp, StatusCode::NOT_FOUND).await.0, "not_found");
    assert_eq!(keys_of(&app, &owner).await.len(), 1, "still there");
    for resp in [
        app.get("/api/keys").await,
        app.post_json("/api/keys", &json!({"name": "x"})).await,
        app.client.delete(app.url(&format!("/api/keys/{id}"))).send().await.unwrap(),
    ] {
        assert_eq!(error_code(resp, StatusCode::UNAUTHORIZED).await.0, "unauthenticated");
    }
}

async fn bad_key_requests_are_refused_and_change_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (json!({"name": "ok", "expires_in_days": 0}), "expires_in_days"),
        (json!({"name": "ok", "expires_in_days": 3651}), "expires_in_days"),
    ] {
        let resp = app.post_authed("/api/keys", &user.token, &body).await;
        assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await.1.as_deref(), Some(field), "{body}");
    }
    let resp = app.post_authed("/api/keys", &user.token, &json!({"name": 5})).await;
    assert_eq!(error_code(resp, StatusCode::BAD_REQUEST).await.1.as_deref(), Some("name"));
    assert!(keys_of(&app, &user).await.is_empty());
}

async fn expired_keys_and_disabled_users_fail_at_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let created = create_key(&app, &user, json!({"name": "month", "expires_in_days": 30})).await;
    let expires_at = chrono::DateTime::parse_from_rfc3339(created["key"]["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires_at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((29.9..=30.1).contains(&days), "{days}");
    let secret = created["secret"].as_str().unwrap();
    assert_eq!(app.me(secret).await.status(), StatusCode::OK);

    sqlx::query("UPDATE api_keys SET expires_at = 1000").execute(app.db.pool()).await.unwrap();
    assert_eq!(error_code(app.me(secret).await, StatusCode::UNAUTHORIZED).await.0, "api_key_expired");

    let lasting = secret_of(&app, &user).await;
    assert_eq!(app.me(&lasting).await.status(), StatusCode::OK);
    app.set_disabled(user.id).await;
    assert_eq!(error_code(app.me(&lasting).await, StatusCode::UNAUTHORIZED).await.0, "account_disabled");
}

async fn revoking_a_key_ends_its_live_connections(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let created = create_key(&app, &user, json!({"name": "feed"})).await;
    let secret = created["secret"].as_str().unwrap();
    let resp = app.get_authed("/api/events", secret).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut events = Box::pin(resp.bytes_stream());

    let id = created["key"]["id"].as_i64().unwrap();
    assert_eq!(app.delete_authed(&format!("/api/keys/{id}"), &user.token).await.status(), StatusCode::NO_CONTENT);
    let closes = async { while let Some(Ok(_)) = events.next().await {} };
    tokio::time::timeout(Duration::from_secs(10), closes).await.expect("the feed closes");
}

async fn admins_see_how_many_keys_each_user_holds(engine: Engine) {
    let app = spawn_app(engine).await;
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    let user = app.new_user().await;
    for _ in 0..2 {
        secret_of(&app, &user).await;
    }
    // The ledger lists users who did something; sending a message makes this one appear.
    let chat = app.new_chat(&user.token, "demo").await;
    assert_eq!(app.send(&user.token, chat, "hi").await.status(), StatusCode::CREATED);

    let list: Value = app.get_authed("/api/admin/users", &admin.token).await.json().await.unwrap();
    let row = list["items"].as_array().unwrap().iter().find(|u| u["id"] == user.id).unwrap().clone();
    assert_eq!(row["api_keys"], 2);
}

crate::engine_tests!(
    a_key_works_like_the_session_until_it_is_revoked,
    keys_are_their_owners_own,
    bad_key_requests_are_refused_and_change_nothing,
    expired_keys_and_disabled_users_fail_at_once,
    revoking_a_key_ends_its_live_connections,
    admins_see_how_many_keys_each_user_holds,
);
