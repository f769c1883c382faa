//! `/api/auth`: registration, sign-in, sessions, and the bad input around them.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, PASSWORD, error_code, spawn_app, spawn_app_with};

async fn register_creates_the_account_and_signs_in(engine: Engine) {
    let app = spawn_app(engine).await;

    let resp = app
        .post_json(
            "/api/auth/register",
            &json!({"username": "Alice_1", "password": PASSWORD, "email": "a@example.org"}),
        )
        .await;

    assert_eq!(resp.status(), StatusCode::CREATED);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("troupe_session="));
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=86400"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Secure"), "plain http in development");
    let body: Value = resp.json().await.unwrap();
    let user = &body["user"];
    assert_eq!(user["username"], "Alice_1");
    assert_eq!(user["email"], "a@example.org");
    assert_eq!(user["is_admin"], false);
    assert_eq!(user["disabled"], false);
    assert_eq!(user["daily_token_quota"], Value::Null);
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    let token = body["token"].as_str().unwrap();
    assert!(cookie.contains(token), "the cookie carries the same token");
    assert_eq!(app.me(token).await.json::<Value>().await.unwrap(), *user);
}

async fn usernames_are_unique_ignoring_case(engine: Engine) {
    let app = spawn_app(engine).await;
    assert_eq!(app.register("alice", PASSWORD).await.status(), StatusCode::CREATED);

    let (code, field) = error_code(app.register("ALICE", PASSWORD).await, StatusCode::CONFLICT).await;

    assert_eq!((code.as_str(), field.as_deref()), ("username_taken", Some("username")));
    assert_eq!(app.user_count().await, 1);
}

async fn rule_violations_are_422_with_the_field_and_store_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let long = "a".repeat(33);
    let cases = [
        (json!({"username": "with space", "password": PASSWORD}), "username"),
        (json!({"username": "ab", "password": PASSWORD}), "username"),
        (json!({"username": long, "password": PASSWORD}), "username"),
        (json!({"username": "유저이름", "password": PASSWORD}), "username"),
        (json!({"username": "valid_name", "password": "nodigitshere"}), "password"),
        (json!({"username": "valid_name", "password": "12345678"}), "password"),
        (json!({"username": "valid_name", "password": "short1"}), "password"),
        (json!({"username": "valid_name", "password": PASSWORD, "email": "not-an-email"}), "email"),
    ];
    for (body, expected_field) in cases {
        let resp = app.post_json("/api/auth/register", &body).await;
        let (_, field) = error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(field.as_deref(), Some(expected_field), "{body}");
    }
    assert_eq!(app.user_count().await, 0);
}

async fn boundary_lengths_are_accepted(engine: Engine) {
    let app = spawn_app(engine).await;
    assert_eq!(app.register("abc", PASSWORD).await.status(), StatusCode::CREATED);
    assert_eq!(app.register(&"b".repeat(32), "a1234567").await.status(), StatusCode::CREATED);
}

async fn malformed_bodies_are_400_and_store_nothing(engine: Engine) {
    let app = spawn_app(engine).await;
    let url = app.url("/api/auth/register");
    let json_type = ("content-type", "application/json");
    let requests = [
        app.client.post(&url).header(json_type.0, json_type.1),
        app.client.post(&url).header(json_type.0, json_type.1).body("{not json"),
        app.client.post(&url).header("content-type", "text/plain").body("username=bob"),
        app.client.post(&url).body("no content type"),
        app.client.post(&url).json(&json!({"username": 42, "password": PASSWORD})),
        app.client.post(&url).json(&json!({"username": "bob"})),
        app.client.post(&url).json(&json!(["username", "bob"])),
    ];
    for request in requests {
        let (code, _) = error_code(request.send().await.unwrap(), StatusCode::BAD_REQUEST).await;
        assert_eq!(code, "invalid_body");
    }
    assert_eq!(app.user_count().await, 0);
}

async fn unknown_fields_are_ignored(engine: Engine) {
    let app = spawn_app(engine).await;
    let body = json!({"username": "carol", "password": PASSWORD, "is_admin": true, "favourite": "tea"});

    let resp = app.post_json("/api/auth/register", &body).await;

    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["is_admin"], false, "a client cannot make itself admin");
}

async fn oversized_bodies_are_413(engine: Engine) {
    let app = spawn_app(engine).await;
    let huge = format!(r#"{{"username":"dave","password":"{}"}}"#, "x".repeat(10 * 1024 * 1024));

    let announced =
        app.client.post(app.url("/api/auth/register")).header("content-type", "application/json").body(huge.clone());
    let (code, _) = error_code(announced.send().await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(code, "payload_too_large");

    // Streamed without a Content-Length, the limit still holds.
    let chunks = futures_util::stream::iter(
        huge.into_bytes().chunks(64 * 1024).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let streamed = app
        .client
        .post(app.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks));
    let (code, _) = error_code(streamed.send().await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(code, "payload_too_large");
    assert_eq!(app.user_count().await, 0);
}

async fn login_signs_in_ignoring_username_case(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;

    let resp = app.login(&user.username.to_uppercase(), PASSWORD).await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["set-cookie"].to_str().unwrap().starts_with("troupe_session="));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["id"], user.id);
    assert_eq!(app.me(body["token"].as_str().unwrap()).await.status(), StatusCode::OK);
}

async fn unknown_user_and_wrong_password_look_the_same(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;

    let wrong_password = app.login(&user.username, "wrong-password-1").await;
    let unknown_user = app.login("nobody_here", PASSWORD).await;

    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_user.status(), StatusCode::UNAUTHORIZED);
    let a: Value = wrong_password.json().await.unwrap();
    let b: Value = unknown_user.json().await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a["error"]["code"], "invalid_credentials");
}

async fn me_accepts_bearer_or_cookie_and_refuses_neither(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;

    let by_cookie = app
        .client
        .get(app.url("/api/auth/me"))
        .header("cookie", format!("troupe_session={}", user.token))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), StatusCode::OK);
    assert_eq!(by_cookie.json::<Value>().await.unwrap()["username"], user.username.as_str());

    let (code, _) = error_code(app.get("/api/auth/me").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "unauthenticated");
    let (code, _) = error_code(app.me("garbage.token.here").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "invalid_token");
}

async fn logout_revokes_the_token_and_clears_the_cookie(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let other_session = app.login(&user.username, PASSWORD).await.json::<Value>().await.unwrap();

    let resp = app.logout(&user.token).await;

    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("troupe_session=;") && cookie.contains("Max-Age=0"), "{cookie}");
    let (code, _) = error_code(app.me(&user.token).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "session_revoked");
    let (code, _) = error_code(app.logout(&user.token).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "session_revoked");
    // Only that session ends; others of the same user go on.
    assert_eq!(app.me(other_session["token"].as_str().unwrap()).await.status(), StatusCode::OK);
}

#[derive(serde::Serialize)]
struct ForgedClaims {
    sub: String,
    iat: i64,
    exp: i64,
    jti: String,
}

fn forge(secret: &str, user_id: i64, exp_offset_secs: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims =
        ForgedClaims { sub: user_id.to_string(), iat: now - 10, exp: now + exp_offset_secs, jti: "forged".into() };
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn bad_tokens_are_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    assert_eq!(app.me(&forge(&app.jwt_secret, user.id, 3600)).await.status(), StatusCode::OK, "the forge works");

    let expired = forge(&app.jwt_secret, user.id, -3600);
    let other_key = forge("some-other-secret-some-other-secret", user.id, 3600);
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(format!(r#"{{"sub":"{}","iat":1,"exp":99999999999,"jti":"x"}}"#, user.id));
    let alg_none = format!("{header}.{payload}.");

    for (token, expected) in [(expired, "session_expired"), (other_key, "invalid_token"), (alg_none, "invalid_token")] {
        let (code, _) = error_code(app.me(&token).await, StatusCode::UNAUTHORIZED).await;
        assert_eq!(code, expected);
    }
}

async fn disabled_users_are_shut_out_at_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    assert_eq!(app.me(&user.token).await.status(), StatusCode::OK);

    app.set_disabled(user.id).await;

    let (code, _) = error_code(app.me(&user.token).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "account_disabled");
    let (code, _) = error_code(app.login(&user.username, PASSWORD).await, StatusCode::FORBIDDEN).await;
    assert_eq!(code, "account_disabled");
    let (code, _) = error_code(app.login(&user.username, "wrong-password-1").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "invalid_credentials", "a wrong password learns nothing about the account");
}

async fn deleted_users_tokens_stop_working(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;

    app.delete_user(user.id).await;

    let (code, _) = error_code(app.me(&user.token).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(code, "invalid_token");
}

async fn cookie_requests_from_a_foreign_origin_are_refused(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let logout_from = |origin: String| {
        app.client
            .post(app.url("/api/auth/logout"))
            .header("cookie", format!("troupe_session={}", user.token))
            .header("origin", origin)
            .send()
    };

    let (code, _) = error_code(logout_from("http://evil.example".into()).await.unwrap(), StatusCode::FORBIDDEN).await;
    assert_eq!(code, "csrf_rejected");
    assert_eq!(app.me(&user.token).await.status(), StatusCode::OK, "the refused request changed nothing");

    let own_origin = app.address.clone();
    assert_eq!(logout_from(own_origin).await.unwrap().status(), StatusCode::NO_CONTENT);
}

async fn allowed_cors_origins_may_use_the_cookie(engine: Engine) {
    let app = spawn_app_with(engine, &[("CORS_ALLOWED_ORIGINS", "https://app.example")]).await;
    let user = app.new_user().await;

    let resp = app
        .client
        .post(app.url("/api/auth/logout"))
        .header("cookie", format!("troupe_session={}", user.token))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(resp.headers()["access-control-allow-origin"], "https://app.example");
}

async fn bootstrap_admin_is_created_once(engine: Engine) {
    let admin_env = [("ADMIN_USERNAME", "root_admin"), ("ADMIN_PASSWORD", "admin-pass-1")];
    let app = spawn_app_with(engine, &admin_env).await;

    let resp = app.login("root_admin", "admin-pass-1").await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["user"]["is_admin"], true);
    // A second start on the same database (an admin exists) changes nothing.
    let config = troupe_server::Config::from_lookup(|name| match name {
        "TROUPE_BIND" => Some("127.0.0.1:0".into()),
        "DATABASE_URL" => Some(app.database_url.clone()),
        "JWT_SECRET" => Some(app.jwt_secret.clone()),
        "ADMIN_USERNAME" => Some("another_admin".into()),
        "ADMIN_PASSWORD" => Some("admin-pass-2".into()),
        _ => None,
    })
    .unwrap();
    troupe_server::Application::build(config).await.unwrap();
    assert_eq!(app.user_count().await, 1);
}

crate::engine_tests!(
    register_creates_the_account_and_signs_in,
    usernames_are_unique_ignoring_case,
    rule_violations_are_422_with_the_field_and_store_nothing,
    boundary_lengths_are_accepted,
    malformed_bodies_are_400_and_store_nothing,
    unknown_fields_are_ignored,
    oversized_bodies_are_413,
    login_signs_in_ignoring_username_case,
    unknown_user_and_wrong_password_look_the_same,
    me_accepts_bearer_or_cookie_and_refuses_neither,
    logout_revokes_the_token_and_clears_the_cookie,
    bad_tokens_are_refused,
    disabled_users_are_shut_out_at_once,
    deleted_users_tokens_stop_working,
    cookie_requests_from_a_foreign_origin_are_refused,
    allowed_cors_origins_may_use_the_cookie,
    bootstrap_admin_is_created_once,
);
