//! A fresh install as its first visitor meets it: the register page says the account will be
//! the admin, the dashboard is theirs, and the starter characters are there to talk to.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use crate::stack::{Browser, Stack};

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn the_first_visitor_becomes_the_admin_and_finds_characters_to_talk_to() {
    let stack = Stack::start(&[("ADMIN_USERNAME", ""), ("STARTER_CHARACTERS", "true"), ("DEMO_DELAY_MS", "0")]);
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    let el = |css: &'static str| async move {
        c.wait().at_most(WAIT).for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no `{css}`: {e}"))
    };

    c.goto(&format!("{}/register", stack.base)).await.unwrap();
    let note = el("[data-testid=first-account-admin]").await.text().await.unwrap();
    assert!(note.contains("admin"), "{note}");
    el("#username").await.send_keys("founder").await.unwrap();
    el("#password").await.send_keys("first-pass-1").await.unwrap();
    el("button[type=submit]").await.click().await.unwrap();

    // The starters, in the "New chat" picker; one of them answers.
    el("[data-testid=new-chat]").await.click().await.unwrap();
    el("[data-testid=pick-character]").await;
    let names = c
        .execute(
            "return [...document.querySelectorAll('[data-testid=pick-character]')].map(b => b.textContent);",
            vec![],
        )
        .await
        .unwrap();
    let names = names.as_array().unwrap();
    assert!(names.len() >= 5, "{names:?}");
    assert!(names.iter().any(|n| n.as_str().unwrap().contains("Bram Oakhollow")), "{names:?}");
    el("[data-testid=pick-character]").await.click().await.unwrap();
    let greeting = el("[data-testid=message] .bubble").await.text().await.unwrap();
    assert!(greeting.contains("founder"), "the greeting names the new user: {greeting}");

    // The dashboard is theirs.
    el("a.nav-link[href='/admin']").await.click().await.unwrap();
    el("[data-testid=totals]").await;
    let status = c
        .execute_async("const done = arguments[0]; fetch('/api/admin/users').then(r => done(r.status));", vec![])
        .await
        .unwrap();
    assert_eq!(status, json!(200));
}
