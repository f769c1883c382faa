//! The web app's budgets, measured through nginx in headless Chromium:
//! - initial download (wasm + JS + CSS as sent, gzip) ≤ 350 KB, for each app;
//! - first render of the sign-in page (first contentful paint) ≤ 1 s, cold and warm cache;
//! - from pressing Enter to the first streamed token on screen, over the API's own time to
//!   first token (measured with a plain HTTP client through the same nginx) ≤ 50 ms.
//!
//! `cargo bench -p troupe-server --bench web` (needs nginx, chromium, chromium-driver).

#[path = "../tests/browser/stack.rs"]
mod stack;
mod support;

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use fantoccini::{Client, Locator, key::Key};
use futures::StreamExt;
use serde_json::json;
use stack::{Api, Browser, PASSWORD, Stack};
use support::{percentile, report};

const RUNS: usize = 20;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let stack =
            Stack::start(&[("RATE_LIMIT_MESSAGES_PER_MINUTE", "10000"), ("RATE_LIMIT_AUTH_PER_MINUTE", "10000")]);
        initial_download(&stack).await;
        first_render(&stack).await;
        time_to_first_token(&stack).await;
    });
}

/// Each app's page with its build files, as sent (gzip).
async fn initial_download(stack: &Stack) {
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    // The embedded chat's page needs a chat token; its build files are the same either way.
    let apps = [
        ("the app", "/signin"),
        ("the admin console", "/admin"),
        ("the account pages", "/account"),
        ("the embedded chat", "/embed/index.html"),
    ];
    for (app, page) in apps {
        let html = http.get(format!("{}{page}", stack.base)).send().await.unwrap().text().await.unwrap();
        let assets: std::collections::BTreeSet<&str> = html
            .split(['"', '\''])
            .filter(|s| s.starts_with('/') && [".wasm", ".js", ".css"].iter().any(|e| s.ends_with(e)))
            .collect();
        let mut total = 0;
        for asset in assets {
            let resp =
                http.get(format!("{}{asset}", stack.base)).header("accept-encoding", "gzip").send().await.unwrap();
            let bytes = resp.bytes().await.unwrap().len();
            println!("  {asset}: {bytes} B");
            total += bytes;
        }
        println!(
            "{app}: initial download (wasm + JS + CSS, gzip): {total} B = {:.1} KB = {:.1} KiB",
            total as f64 / 1000.0,
            total as f64 / 1024.0
        );
    }
}

async fn paint_ms(c: &Client) -> f64 {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#username")).await.unwrap();
    let script = "const done = arguments[0]; (function look() {
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        if (fcp) done(fcp.startTime); else requestAnimationFrame(look);
    })();";
    c.execute_async(script, vec![]).await.unwrap().as_f64().unwrap()
}

async fn first_render(stack: &Stack) {
    let url = format!("{}/signin", stack.base);
    let mut cold = Vec::new();
    for _ in 0..10 {
        let browser = Browser::start(1280, 900).await;
        browser.client.goto(&url).await.unwrap();
        cold.push(paint_ms(&browser.client).await);
        browser.close().await;
    }
    let browser = Browser::start(1280, 900).await;
    let mut warm = Vec::new();
    for _ in 0..RUNS {
        browser.client.goto(&url).await.unwrap();
        warm.push(paint_ms(&browser.client).await);
        browser.client.goto("about:blank").await.unwrap();
    }
    browser.close().await;
    for samples in [&mut cold, &mut warm] {
        samples.sort_by(f64::total_cmp);
    }
    report("first render of /signin, cold cache (first contentful paint)", &cold);
    report("first render of /signin, warm cache", &warm);
}

async fn time_to_first_token(stack: &Stack) {
    let api = Api::new(stack);
    let (token, chat) = api.user_with_chat("bench_api").await;
    let http = &api.http;

    // The API alone: from sending to the first `delta` event.
    let mut api = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let resp = http
            .post(format!("{}/api/chats/{chat}/messages", stack.base))
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .json(&json!({"content": "How are you today?"}))
            .send()
            .await
            .unwrap();
        let mut events = resp.bytes_stream().eventsource();
        let mut first = None;
        while let Some(event) = events.next().await {
            if event.unwrap().event == "delta" && first.is_none() {
                first = Some(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        api.push(first.unwrap());
    }

    // In the browser: from the Enter key to the first token painted in the reply bubble.
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    c.goto(&format!("{}/signin", stack.base)).await.unwrap();
    c.wait().for_element(Locator::Css("#username")).await.unwrap().send_keys("bench_api").await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("[data-testid=new-chat]")).await.unwrap();
    c.goto(&format!("{}/chats/{chat}", stack.base)).await.unwrap();
    let mut screen = Vec::new();
    for _ in 0..RUNS {
        let composer = c.wait().for_element(Locator::Css("[data-testid=composer]")).await.unwrap();
        c.execute(
            "window.__ttft = null;
             const box = document.querySelector('[data-testid=composer]');
             window.__sent = null;
             box.onkeydown = e => { if (e.key === 'Enter' && window.__sent === null) window.__sent = performance.now(); };
             const watch = new MutationObserver(() => {
                 const reply = document.querySelector('[data-testid=streaming-reply] .bubble:not(.typing)');
                 if (reply && reply.textContent.length && window.__ttft === null) {
                     requestAnimationFrame(() => { window.__ttft = performance.now() - window.__sent; });
                     watch.disconnect();
                 }
             });
             watch.observe(document.querySelector('[data-testid=messages]'), {subtree: true, childList: true, characterData: true});",
            vec![],
        )
        .await
        .unwrap();
        composer.send_keys("How are you today?").await.unwrap();
        composer.send_keys(&Key::Enter.to_string()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let ttft = loop {
            let value = c.execute("return window.__ttft;", vec![]).await.unwrap();
            if let Some(ms) = value.as_f64() {
                break ms;
            }
            if Instant::now() > deadline {
                let page = c.execute("return document.querySelector('main').innerText;", vec![]).await.unwrap();
                panic!("no token on screen after 20 s; the page says: {page}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        screen.push(ttft);
        // Let the reply finish before the next one.
        c.wait().for_element(Locator::Css("[data-testid=send]")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.close().await;
    api.sort_by(f64::total_cmp);
    screen.sort_by(f64::total_cmp);
    report("time to first token, API through nginx", &api);
    report("time to first token on screen, from Enter", &screen);
    println!(
        "on-screen overhead: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&screen, 0.5) - percentile(&api, 0.5),
        percentile(&screen, 0.99) - percentile(&api, 0.99)
    );
}
