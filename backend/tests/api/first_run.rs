//! A fresh server as a newcomer meets it: the first account is the admin, and there are
//! characters to talk to from the start.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, PASSWORD, TestApp, spawn_app_with};

const FRESH: [(&str, &str); 2] = [("FIRST_ACCOUNT_ADMIN", "true"), ("STARTER_CHARACTERS", "true")];

async fn registration(app: &TestApp) -> bool {
    let info: Value = app.get("/api/auth/registration").await.json().await.unwrap();
    info["first_account_is_admin"].as_bool().unwrap()
}

async fn the_first_account_is_the_admin_and_the_next_ones_are_not(engine: Engine) {
    let app = spawn_app_with(engine, &FRESH).await;
    assert!(registration(&app).await, "a fresh server says so before anyone registers");

    let first: Value = app.register("founder", PASSWORD).await.json().await.unwrap();
    let second: Value = app.register("visitor", PASSWORD).await.json().await.unwrap();

    assert_eq!(first["user"]["is_admin"], true);
    assert_eq!(second["user"]["is_admin"], false);
    assert!(!registration(&app).await);
    let token = first["token"].as_str().unwrap();
    assert_eq!(app.get_authed("/api/admin/users", token).await.status(), StatusCode::OK);
}

async fn two_first_registrations_at_once_make_one_admin(engine: Engine) {
    let app = spawn_app_with(engine, &FRESH).await;

    let (a, b) = tokio::join!(app.register("first_a", PASSWORD), app.register("first_b", PASSWORD));

    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    let admins = [&a, &b].iter().filter(|r| r["user"]["is_admin"] == true).count();
    assert_eq!(admins, 1, "{a} {b}");
}

async fn starter_characters_are_there_once_and_their_owner_is_nobody(engine: Engine) {
    let app = spawn_app_with(engine, &FRESH).await;
    let founder: Value = app.register("founder", PASSWORD).await.json().await.unwrap();
    let token = founder["token"].as_str().unwrap();

    let listed: Value = app.get_authed("/api/characters?limit=50", token).await.json().await.unwrap();

    let starters = listed["items"].as_array().unwrap();
    assert!(starters.len() >= 5, "{listed}");
    assert!(starters.iter().all(|c| c["visibility"] == "public" && !c["greeting"].as_str().unwrap().is_empty()));
    let chat = app.post_authed("/api/chats", token, &json!({"character_id": starters[0]["id"]})).await;
    assert_eq!(chat.status(), StatusCode::CREATED);
    let chat: Value = chat.json().await.unwrap();
    let messages = app.messages(token, chat["id"].as_i64().unwrap()).await;
    assert!(messages[0]["content"].as_str().unwrap().contains("founder"), "the greeting names the user");
    // The owner is no user: not listed, not counted, cannot sign in.
    let users: Value = app.get_authed("/api/admin/users", token).await.json().await.unwrap();
    assert_eq!(users["total"], 1);
    let overview: Value = app.get_authed("/api/admin/stats/overview", token).await.json().await.unwrap();
    assert_eq!(overview["totals"]["users"], 1);
    let owner = starters[0]["owner_id"].as_i64().unwrap();
    let patch = app.patch_authed(&format!("/api/admin/users/{owner}"), token, &json!({"is_admin": true})).await;
    assert_eq!(patch.status(), StatusCode::NOT_FOUND);
    for name in ["troupe", "Troupe"] {
        assert_eq!(app.login(name, "!").await.status(), StatusCode::UNAUTHORIZED);
    }
    // A second start on the same database adds none.
    let config = troupe_server::Config::from_lookup(|name| match name {
        "TROUPE_BIND" => Some("127.0.0.1:0".into()),
        "DATABASE_URL" => Some(app.database_url.clone()),
        "JWT_SECRET" => Some(app.jwt_secret.clone()),
        _ => None,
    })
    .unwrap();
    troupe_server::Application::build(config).await.unwrap();
    let again: Value = app.get_authed("/api/characters?limit=50", token).await.json().await.unwrap();
    assert_eq!(again["total"], listed["total"]);
}

crate::engine_tests!(
    the_first_account_is_the_admin_and_the_next_ones_are_not,
    two_first_registrations_at_once_make_one_admin,
    starter_characters_are_there_once_and_their_owner_is_nobody,
);
