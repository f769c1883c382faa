//! Service endpoints, request ids, metrics, and errors outside any operation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, error_code, spawn_app, spawn_app_with};

async fn health_and_readiness(engine: Engine) {
    let app = spawn_app(engine).await;

    let health = app.get("/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    app.db.close().await;

    let (code, _) = error_code(app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(code, "not_ready");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "alive while not ready");
}

async fn request_ids_are_echoed_or_generated(engine: Engine) {
    let app = spawn_app(engine).await;

    let given = app.client.get(app.url("/healthz")).header("x-request-id", "trace-abc-123").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-abc-123");

    let generated = app.get("/api/auth/me").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
}

async fn unknown_api_routes_and_methods_answer_in_the_error_shape(engine: Engine) {
    let app = spawn_app(engine).await;

    let (code, _) = error_code(app.get("/api/no/such/route").await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");
    let (code, _) = error_code(app.get("/api/auth/login").await, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(code, "method_not_allowed");
}

async fn metrics_count_requests_per_route_and_status(engine: Engine) {
    let app = spawn_app(engine).await;
    app.get("/healthz").await;
    app.get("/api/auth/me").await;

    let resp = app.get("/metrics").await;

    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    assert!(text.contains(r#"http_requests_total{route="healthz",method="GET",status="200"}"#), "{text}");
    assert!(text.contains(r#"http_requests_total{route="me",method="GET",status="401"}"#), "{text}");
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"), "{text}");
}

async fn docs_serve_swagger_ui(engine: Engine) {
    let app = spawn_app(engine).await;

    let docs = app.get("/docs").await;

    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().to_lowercase().contains("swagger"));
    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert!(spec["paths"]["/api/auth/login"]["post"].is_object());
}

crate::engine_tests!(
    health_and_readiness,
    request_ids_are_echoed_or_generated,
    unknown_api_routes_and_methods_answer_in_the_error_shape,
    metrics_count_requests_per_route_and_status,
    docs_serve_swagger_ui,
);

/// The built web apps: client routes get their app's index.html (the admin console's under
/// `/admin`), never cached; trunk's hashed files are cached for a year and a missing one is a
/// 404; other files (the Markdown worker) are checked each time; HEAD works, and API paths
/// never fall through to the app. The database plays no part, so one engine is enough.
#[tokio::test]
async fn the_server_serves_the_web_app() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<!doctype html><title>Troupe</title>").unwrap();
    std::fs::write(dist.path().join("troupe-web-0123456789abcdef_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(dist.path().join("markdown-worker_bg.wasm"), b"\0asm").unwrap();
    std::fs::create_dir(dist.path().join("admin")).unwrap();
    std::fs::write(dist.path().join("admin/index.html"), "<!doctype html><title>Troupe · Admin</title>").unwrap();
    let app = spawn_app_with(Engine::Sqlite, &[("STATIC_DIR", dist.path().to_str().unwrap())]).await;

    for (route, title) in [
        ("/", "Troupe"),
        ("/chats/42", "Troupe"),
        ("/administrators", "Troupe"),
        ("/admin", "Troupe · Admin"),
        ("/admin/users", "Troupe · Admin"),
    ] {
        let page = app.get(route).await;
        assert_eq!(page.status(), StatusCode::OK, "{route}");
        assert_eq!(page.headers()["cache-control"], "no-cache", "{route}");
        assert!(page.text().await.unwrap().contains(&format!("<title>{title}</title>")), "{route}");
    }
    let worker = app.get("/markdown-worker_bg.wasm").await;
    assert_eq!(worker.headers()["cache-control"], "no-cache");
    let wasm = app.get("/troupe-web-0123456789abcdef_bg.wasm").await;
    assert_eq!(wasm.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert_eq!(wasm.headers()["x-content-type-options"], "nosniff");
    let (code, _) = error_code(app.get("/troupe-web-fedcba9876543210_bg.wasm").await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found", "a build file that is gone is not index.html");
    let head = app.client.head(app.url("/chats/42")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);

    let (code, _) = error_code(app.get("/api/no-such-thing").await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}
