//! The binary's subcommands and start-up checks, run as a real process.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Engine, TestDatabase, spawn_app};

const BINARY: &str = env!("CARGO_BIN_EXE_troupe-server");

fn troupe(database_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BINARY);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", "cli-test-secret-cli-test-secret-cli")
        .env("LOG_LEVEL", "warn");
    cmd
}

async fn create_admin_creates_from_stdin_then_promotes(engine: Engine) {
    let app = spawn_app(engine).await;

    let mut child = troupe(&app.database_url, &["create-admin", "boss"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"boss-pass-1\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    let resp = app.login("boss", "boss-pass-1").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["user"]["is_admin"], true);

    let user = app.new_user().await;
    let out = troupe(&app.database_url, &["create-admin", &user.username]).stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success());
    assert_eq!(app.me(&user.token).await.json::<Value>().await.unwrap()["is_admin"], true);
}

async fn create_admin_refuses_a_weak_password(engine: Engine) {
    let app = spawn_app(engine).await;

    let out = troupe(&app.database_url, &["create-admin", "boss"]).env("ADMIN_PASSWORD", "weak").output().unwrap();

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("password must"), "{stderr}");
    assert_eq!(app.user_count().await, 0);
}

async fn migrate_is_repeatable(engine: Engine) {
    let database = TestDatabase::create(engine).await;
    for _ in 0..2 {
        let out = troupe(&database.url, &["migrate"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn production_refuses_to_start_without_a_strong_secret() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let out = troupe(&url, &[]).env_remove("JWT_SECRET").env("APP_ENV", "production").output().unwrap();

    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JWT_SECRET") && stderr.contains("32"), "{stderr}");
}

crate::engine_tests!(
    create_admin_creates_from_stdin_then_promotes,
    create_admin_refuses_a_weak_password,
    migrate_is_repeatable,
);
