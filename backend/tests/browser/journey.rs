//! What a user does in the browser, and what an admin then sees.

use std::time::Duration;

use fantoccini::{Client, Locator, key::Key};
use serde_json::{Value, json};

use crate::{
    page::{
        assert_no_errors, count, el, fill, page_fetch_status, screenshot, screenshots, sign_in, until, watch_errors,
    },
    stack::{ADMIN, Api, Browser, PASSWORD, Stack},
};

fn number_in(text: &str) -> i64 {
    text.split(|c: char| !c.is_ascii_digit() && c != ',')
        .find(|part| part.chars().any(|c| c.is_ascii_digit()))
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap_or_else(|| panic!("no number in `{text}`"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_chats_with_a_new_character_and_an_admin_sees_the_tokens() {
    let stack = Stack::start(&[("DEMO_DELAY_MS", "40")]);
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    let url = |path: &str| format!("{}{path}", stack.base);

    // Signed out, the app sends the visitor to sign in; from there to registration.
    c.goto(&url("/")).await.unwrap();
    el(c, "#username").await;
    watch_errors(c).await;
    assert!(c.current_url().await.unwrap().path().ends_with("/signin"));
    el(c, "a[href^='/register']").await.click().await.unwrap();
    el(c, "#email").await;
    // The server's rules, inline as the user types.
    fill(c, "#username", "a!").await;
    assert!(el(c, "#username-error").await.text().await.unwrap().contains("3–32"));
    fill(c, "#username", "e2e_alice").await;
    fill(c, "#password", "wonderland42").await;
    el(c, "button[type=submit]").await.click().await.unwrap();
    el(c, "[data-testid=new-chat]").await;
    let stored =
        c.execute("return [localStorage.length, sessionStorage.length, document.cookie];", vec![]).await.unwrap();
    assert_eq!(stored, json!([0, 0, ""]), "the session lives only in the HttpOnly cookie");

    // A character of one's own.
    el(c, "a.nav-link[href='/characters']").await.click().await.unwrap();
    el(c, "a[href='/characters/new']").await.click().await.unwrap();
    fill(c, "#name", "Captain Nemo").await;
    fill(c, "#description", "Commander of the Nautilus, a submarine that roams the deep.").await;
    fill(c, "#greeting", "Welcome aboard the Nautilus, {{user}}.").await;
    fill(c, "#tags", "sea, adventure").await;
    el(c, "[data-testid=save-character]").await.click().await.unwrap();
    until(
        c,
        "[...document.querySelectorAll('[data-testid=character-card] h2')].some(h => h.textContent === 'Captain Nemo')",
    )
    .await;

    // A chat with it, started from the picker on the home page: the greeting is there.
    el(c, "a.nav-link[href='/']").await.click().await.unwrap();
    el(c, "[data-testid=new-chat]").await.click().await.unwrap();
    fill(c, ".modal input[type=search]", "Nemo").await;
    until(c, "document.querySelectorAll('[data-testid=pick-character]').length === 1").await;
    el(c, "[data-testid=pick-character]").await.click().await.unwrap();
    let composer = el(c, "[data-testid=composer]").await;
    until(c, "document.querySelectorAll('[data-testid=message]').length === 1").await;
    assert!(
        el(c, "[data-testid=message] .bubble")
            .await
            .text()
            .await
            .unwrap()
            .contains("Welcome aboard the Nautilus, e2e_alice.")
    );

    // Record how the reply grows on screen, then send with Enter.
    c.execute(
        "window.__steps = []; new MutationObserver(() => {
            const reply = document.querySelector('[data-testid=streaming-reply] .bubble:not(.typing)');
            if (reply) window.__steps.push(reply.textContent.length);
         }).observe(document.querySelector('[data-testid=messages]'), {subtree: true, childList: true, characterData: true});",
        vec![],
    )
    .await
    .unwrap();
    composer.send_keys("Hello! Where are we headed today?").await.unwrap();
    assert_eq!(el(c, "[data-testid=char-count]").await.text().await.unwrap(), "33/200");
    composer.send_keys(&Key::Enter.to_string()).await.unwrap();
    until(c, "document.querySelectorAll('[data-testid=message]').length === 3 && !document.querySelector('[data-testid=streaming-reply]')").await;
    let steps: Vec<u64> = serde_json::from_value(c.execute("return window.__steps;", vec![]).await.unwrap()).unwrap();
    let mut distinct = steps.clone();
    distinct.dedup();
    assert!(distinct.len() >= 3, "the reply should arrive in several steps, saw lengths {steps:?}");

    // Its token count, under the reply.
    let counts = c.find_all(Locator::Css("[data-testid=message] [data-testid=token-count]")).await.unwrap();
    let reply_tokens = number_in(&counts.last().unwrap().text().await.unwrap());
    assert!(reply_tokens > 0, "the reply shows its tokens");
    screenshots(c, "chat").await;

    // 201 characters: refused on the spot, nothing sent.
    let composer = el(c, "[data-testid=composer]").await;
    composer.send_keys(&"가".repeat(201)).await.unwrap();
    assert_eq!(el(c, "[data-testid=char-count]").await.text().await.unwrap(), "201/200");
    assert!(el(c, "[data-testid=refusal]").await.is_displayed().await.unwrap());
    assert!(!el(c, "[data-testid=send]").await.is_enabled().await.unwrap());
    composer.send_keys(&Key::Enter.to_string()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(c, "[data-testid=message]").await, 3, "nothing was sent");
    screenshot(c, "chat-refusal-desktop").await;

    // Stop a reply halfway: what arrived stays, marked as stopped.
    let composer = el(c, "[data-testid=composer]").await;
    composer.send_keys(&format!("{}a{}{}", Key::Control, Key::Null, Key::Backspace)).await.unwrap();
    assert_eq!(el(c, "[data-testid=char-count]").await.text().await.unwrap(), "0/200");
    composer.send_keys(&format!("Tell me everything about the sea{}", Key::Enter)).await.unwrap();
    until(c, "document.querySelector('[data-testid=streaming-reply] .bubble:not(.typing)')").await;
    el(c, "[data-testid=stop]").await.click().await.unwrap();
    until(c, "!document.querySelector('[data-testid=streaming-reply]') && document.querySelectorAll('[data-testid=message]').length === 5").await;
    // The server's stored copy replaces ours: still marked stopped, now with the tokens it cost.
    until(
        c,
        "document.querySelector('[data-testid=message]:last-child .status')?.textContent === 'Stopped'
        && document.querySelector('[data-testid=message]:last-child [data-testid=token-count]')",
    )
    .await;

    // Not an admin: no dashboard in the menu, a refusal on its page and from its API.
    assert_no_errors(c).await;
    assert_eq!(count(c, "a.nav-link[href='/admin']").await, 0);
    c.goto(&url("/admin")).await.unwrap();
    el(c, "[data-testid=forbidden]").await;
    assert_eq!(page_fetch_status(c, "/api/admin/users").await, 403);

    // Sign out.
    el(c, ".topbar-end .button").await.click().await.unwrap();
    el(c, "#username").await;
    assert_eq!(page_fetch_status(c, "/api/auth/me").await, 401);

    // An admin opens the users page, signs in on the way, and lands where they were going.
    c.goto(&url("/admin/users")).await.unwrap();
    el(c, "#username").await;
    fill(c, "#username", ADMIN.0).await;
    fill(c, "#password", ADMIN.1).await;
    el(c, "button[type=submit]").await.click().await.unwrap();
    el(c, "[data-testid=user-row]").await;
    watch_errors(c).await;
    assert!(c.current_url().await.unwrap().path().ends_with("/admin/users"));
    let tokens_of = "[...document.querySelectorAll('[data-testid=user-row]')]
        .find(r => r.querySelector('th').textContent.startsWith('e2e_alice'))
        ?.querySelector('[data-testid=user-tokens]').textContent";
    until(c, &format!("{tokens_of} && {tokens_of} !== '0'")).await;
    let alice_tokens = c.execute(&format!("return {tokens_of};"), vec![]).await.unwrap();
    let alice_tokens = number_in(alice_tokens.as_str().unwrap());
    assert!(alice_tokens >= reply_tokens, "the dashboard counts the user's tokens ({alice_tokens})");

    // The overview: the same user among the top users; live counters over the WebSocket.
    el(c, "a.tab[href='/admin']").await.click().await.unwrap();
    until(c, "document.querySelector('[data-testid=top-users]')?.textContent.includes('e2e_alice')").await;
    until(c, "document.querySelector('.live-dot.on')").await;
    screenshots(c, "dashboard").await;

    // An announcement reaches the banner live (SSE through nginx).
    fill(c, "input[placeholder]", "Maintenance at noon").await;
    el(c, ".card form button[type=submit]").await.click().await.unwrap();
    until(c, "document.querySelector('.banner')?.textContent.includes('Maintenance at noon')").await;
    // And on arrival, for a page opened afterwards.
    c.goto(&url("/admin")).await.unwrap();
    until(c, "document.querySelector('.banner')?.textContent.includes('Maintenance at noon')").await;
    watch_errors(c).await;

    // The history browser: the user's conversation, readable.
    el(c, "a.tab[href='/admin/conversations']").await.click().await.unwrap();
    until(c, "[...document.querySelectorAll('td')].some(td => td.textContent === 'e2e_alice')").await;
    el(c, "tbody .button").await.click().await.unwrap();
    until(c, "document.querySelector('.transcript')?.textContent.includes('Where are we headed today?')").await;

    // A shared prompt: written, then switched off.
    el(c, "a.nav-link[href='/admin/prompts']").await.click().await.unwrap();
    el(c, ".page-head .button.primary").await.click().await.unwrap();
    fill(c, "#prompt-name", "House rules").await;
    fill(c, "#prompt-content", "Stay kind to {{user}}.").await;
    el(c, "form.card button[type=submit]").await.click().await.unwrap();
    until(c, "document.querySelector('.prompt h2')?.textContent === 'House rules'").await;
    el(c, ".prompt input[type=checkbox]").await.click().await.unwrap();
    until(c, "document.querySelector('.prompt.disabled')").await;
    assert_no_errors(c).await;

    browser.close().await;
    assert!(!stack.nginx_error_log().contains("[emerg]"), "{}", stack.nginx_error_log());
}

/// With the system in dark mode, so is Troupe.
#[tokio::test(flavor = "multi_thread")]
async fn the_app_follows_a_dark_system_theme() {
    let stack = Stack::start(&[]);
    let browser = Browser::start_with(375, 812, &["--force-dark-mode"]).await;
    let c = &browser.client;
    c.set_window_size(375, 812).await.unwrap(); // the switch alone stops at Chromium's 500 px minimum
    c.goto(&format!("{}/register", stack.base)).await.unwrap();
    el(c, "#username").await;
    let background = c.execute("return getComputedStyle(document.body).backgroundColor;", vec![]).await.unwrap();
    let channels: Vec<u32> = background
        .as_str()
        .unwrap()
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(", ")
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(channels.iter().all(|c| *c < 60), "a dark background, got {background}");
    screenshot(c, "register-dark-phone").await;
    browser.close().await;
}

/// The sign-in page in each language, and the choice kept across a reload.
#[tokio::test(flavor = "multi_thread")]
async fn the_language_switcher_translates_and_remembers() {
    let stack = Stack::start(&[]);
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    c.goto(&format!("{}/signin", stack.base)).await.unwrap();
    el(c, "#username").await;
    let heading = |c: &Client| {
        let c = c.clone();
        async move { c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap() }
    };
    assert_eq!(heading(c).await, "Welcome back");
    let mut seen = vec![heading(c).await];
    for code in ["ko", "es", "zh", "ja"] {
        el(c, ".lang-switcher select").await.select_by_value(code).await.unwrap();
        until(c, &format!("document.documentElement.lang === '{code}'")).await;
        seen.push(heading(c).await);
    }
    seen.dedup();
    assert_eq!(seen.len(), 5, "each language has its own words: {seen:?}");
    c.refresh().await.unwrap();
    el(c, "#username").await;
    assert_eq!(heading(c).await, "おかえりなさい");
    let _: Value = c.execute("localStorage.clear(); return null;", vec![]).await.unwrap();
    browser.close().await;
}

/// The box counts against the server's limit; a refused turn shows why, inline, with a retry;
/// nothing is added to the conversation.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_message_shows_the_reason_and_a_retry() {
    let stack =
        Stack::start(&[("RATE_LIMIT_MESSAGES_PER_MINUTE", "1"), ("DEMO_DELAY_MS", "1"), ("MAX_MESSAGE_CHARS", "50")]);
    let (_, chat) = Api::new(&stack).user_with_chat("limited").await;
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    sign_in(c, &stack.base, "limited", PASSWORD).await;
    c.goto(&format!("{}/chats/{chat}", stack.base)).await.unwrap();
    let composer = el(c, "[data-testid=composer]").await;
    // The box counts against the server's own limit, not the default.
    until(c, "document.querySelector('[data-testid=char-count]').textContent === '0/50'").await;
    composer.send_keys(&format!("First{}", Key::Enter)).await.unwrap();
    until(c, "document.querySelectorAll('[data-testid=message]').length === 2 && document.querySelector('[data-testid=send]')").await;
    composer.send_keys(&format!("Second{}", Key::Enter)).await.unwrap();
    let error = el(c, "[data-testid=turn-error]").await;
    assert!(error.text().await.unwrap().contains("Too many requests"), "{}", error.text().await.unwrap());
    // Retry really sends again (and is refused again): count the requests the page makes.
    c.execute(
        "window.__sends = 0; const original = window.fetch;
         window.fetch = (input, init) => {
             if ((init?.method ?? input?.method) === 'POST') window.__sends++;
             return original(input, init);
         };",
        vec![],
    )
    .await
    .unwrap();
    el(c, "[data-testid=turn-error] button").await.click().await.unwrap();
    until(c, "window.__sends === 1 && document.querySelector('[data-testid=turn-error]') && document.querySelector('[data-testid=send]')").await;
    assert_eq!(count(c, "[data-testid=message]").await, 2, "a refused message is not in the conversation");
    browser.close().await;
}

/// A long conversation (40 messages, no greeting) opens at its end; the older ten come in
/// when scrolling up.
#[tokio::test(flavor = "multi_thread")]
async fn older_messages_load_when_scrolling_up() {
    let stack = Stack::start(&[("RATE_LIMIT_MESSAGES_PER_MINUTE", "1000"), ("DEMO_DELAY_MS", "0")]);
    let (token, chat) = Api::new(&stack).user_with_chat("historian").await;
    let http = reqwest::Client::new();
    for i in 0..20 {
        let resp = http
            .post(format!("{}/api/chats/{chat}/messages", stack.base))
            .bearer_auth(&token)
            .json(&json!({"content": format!("message {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    sign_in(c, &stack.base, "historian", PASSWORD).await;
    c.goto(&format!("{}/chats/{chat}", stack.base)).await.unwrap();
    until(c, "document.querySelectorAll('[data-testid=message]').length === 30").await;
    let at_bottom = "(() => { const m = document.querySelector('[data-testid=messages]');
        return m.scrollHeight - m.scrollTop - m.clientHeight < 5; })()";
    until(c, at_bottom).await;
    c.execute("document.querySelector('[data-testid=messages]').scrollTop = 0;", vec![]).await.unwrap();
    until(c, "document.querySelectorAll('[data-testid=message]').length === 40").await;
    assert_eq!(el(c, "[data-testid=message] .bubble").await.text().await.unwrap(), "message 0");
    browser.close().await;
}
