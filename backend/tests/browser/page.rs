//! Driving a page: waiting for elements and conditions, typing, screenshots, errors.

use std::time::Duration;

use fantoccini::{Client, Locator, elements::Element};
use serde_json::json;

use crate::stack::artifacts;

pub const WAIT: Duration = Duration::from_secs(15);

pub async fn el(c: &Client, css: &str) -> Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"))
}

/// Waits until a JavaScript expression is true in the page.
pub async fn until(c: &Client, expression: &str) {
    let script = format!("return !!({expression});");
    for _ in 0..300 {
        if c.execute(&script, vec![]).await.unwrap() == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("still false after 15 s: {expression}");
}

pub async fn fill(c: &Client, css: &str, text: &str) {
    let input = el(c, css).await;
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

pub async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

/// Both sizes of the current page: desktop 1280×900, then a 375 px wide phone.
pub async fn screenshots(c: &Client, name: &str) {
    screenshot(c, &format!("{name}-desktop")).await;
    c.set_window_size(375, 812).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    screenshot(c, &format!("{name}-phone")).await;
    c.set_window_size(1280, 900).await.unwrap();
}

/// Collects the page's uncaught errors (a panic in the wasm shows up as one) from now on.
pub async fn watch_errors(c: &Client) {
    let script = "window.__errors = [];
        addEventListener('error', e => __errors.push(String(e.message)));
        addEventListener('unhandledrejection', e => __errors.push(String(e.reason)));";
    c.execute(script, vec![]).await.unwrap();
}

pub async fn assert_no_errors(c: &Client) {
    let errors = c.execute("return window.__errors;", vec![]).await.unwrap();
    assert_eq!(errors, json!([]), "errors on the page");
}

pub async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css)).await.unwrap().len()
}

/// `fetch` from inside the page (with its session cookie); returns the status.
pub async fn page_fetch_status(c: &Client, path: &str) -> u64 {
    let script = "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => done(r.status));";
    c.execute_async(script, vec![json!(path)]).await.unwrap().as_u64().unwrap()
}

/// Signs `username` in through the form and waits for the chats page.
pub async fn sign_in(c: &Client, base: &str, username: &str, password: &str) {
    c.goto(&format!("{base}/signin")).await.unwrap();
    fill(c, "#username", username).await;
    fill(c, "#password", password).await;
    el(c, "button[type=submit]").await.click().await.unwrap();
    el(c, "[data-testid=new-chat]").await;
}
