//! The embedded chat as another product uses it: a page on another origin includes
//! `/embed.js`, its own backend mints a chat token with the service key, and the visitor chats
//! in the frame, the reply streaming in. The same page on an origin the system did not allow
//! cannot frame the chat.

use std::net::TcpListener;

use poem::{
    Route,
    endpoint::make,
    listener::TcpAcceptor,
    web::{Html, Json},
};
use serde_json::{Value, json};

use crate::{
    page::{el, screenshots, until},
    stack::{ADMIN, Api, Browser, Stack},
};

/// A port for a stand-in of the system's site, and its origin.
fn host_origin() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (listener, origin)
}

/// The system's site: a page with the chat button, and the token endpoint its backend serves
/// (it calls Troupe with the service key, which never reaches the browser).
fn serve_host(listener: TcpListener, troupe: &str, service_key: &str) {
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Drill Quiz</title></head><body>\
         <h1>Drill Quiz</h1><script src=\"{troupe}/embed.js\" data-token-url=\"/token\" data-lang=\"en\"></script>\
         </body></html>"
    );
    let (troupe, key) = (troupe.to_owned(), service_key.to_owned());
    let token = make(move |_| {
        let (troupe, key) = (troupe.clone(), key.clone());
        async move {
            let answer: Value = reqwest::Client::new()
                .post(format!("{troupe}/api/service/chat-tokens"))
                .header("x-api-key", key)
                .json(&json!({"user_id": "student-7"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            Json(answer)
        }
    });
    let app = Route::new()
        .at("/", poem::get(make(move |_| std::future::ready(Html(page.clone())))))
        .at("/token", poem::post(token));
    let acceptor = TcpAcceptor::from_std(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
}

#[tokio::test(flavor = "multi_thread")]
async fn another_sites_page_opens_the_chat_in_a_frame_and_only_allowed_sites_can() {
    let stack = Stack::start(&[]);
    let api = Api::new(&stack);
    let admin = api.token("/api/auth/login", ADMIN.0, ADMIN.1).await;
    let character = api
        .post(
            &admin,
            "/api/characters",
            json!({"name": "Quizzy", "visibility": "public", "greeting": "Ready for a quiz?"}),
        )
        .await;
    let (allowed, allowed_origin) = host_origin();
    let (other, other_origin) = host_origin();
    let system = api
        .post(
            &admin,
            "/api/admin/systems",
            json!({"id": "drillquiz", "name": "Drill Quiz", "allowed_origins": [allowed_origin],
                   "default_character_id": character["id"]}),
        )
        .await;
    let key = system["service_key"].as_str().unwrap();
    serve_host(allowed, &stack.base, key);
    serve_host(other, &stack.base, key);

    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    c.goto(&allowed_origin).await.unwrap();
    el(c, ".troupe-embed-btn").await.click().await.unwrap();
    el(c, "iframe.troupe-embed-frame").await;
    c.enter_frame(0).await.unwrap();
    // The greeting, then a message and its reply streaming in.
    until(c, "document.querySelectorAll('[data-testid=message]').length === 1").await;
    let composer = el(c, "[data-testid=composer]").await;
    composer.send_keys("What is the capital of France?").await.unwrap();
    composer.send_keys(&fantoccini::key::Key::Enter.to_string()).await.unwrap();
    until(c, "document.querySelectorAll('[data-testid=message]').length === 3 && !document.querySelector('[data-testid=streaming-reply]')").await;
    let token_in_url = c.execute("return location.search.includes('token=');", vec![]).await.unwrap();
    assert_eq!(token_in_url, json!(false), "the token leaves the address bar");
    c.enter_parent_frame().await.unwrap();
    screenshots(c, "embedded-chat").await;

    // Troupe kept the conversation, as the system's user.
    let listed: Value = api
        .http
        .get(format!("{}/api/service/conversations?user_id=student-7", stack.base))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["items"][0]["message_count"], 3);

    // From an origin the system did not allow, the browser refuses to show the frame.
    c.goto(&other_origin).await.unwrap();
    el(c, ".troupe-embed-btn").await.click().await.unwrap();
    el(c, "iframe.troupe-embed-frame").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    c.enter_frame(0).await.unwrap();
    let shown = c.execute("return !!document.querySelector('[data-testid=composer]');", vec![]).await.unwrap();
    let address = c.execute("return location.href;", vec![]).await.unwrap();
    assert_eq!(shown, json!(false), "framed from {other_origin}: {address}");
    assert!(!address.as_str().unwrap_or_default().contains("/embed?"), "the frame was blocked: {address}");
}
