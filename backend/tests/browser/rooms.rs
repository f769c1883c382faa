//! A live room in two browsers, through nginx: each sees the other's messages at once, the
//! character's reply streams into both, and when the server goes away and comes back the page
//! says so, reconnects by itself and picks up what was said meanwhile.

use serde_json::json;

use crate::{
    page::{assert_no_errors, el, fill, screenshots, sign_in, until, watch_errors},
    stack::{ADMIN, Api, Browser, PASSWORD, Stack},
};

/// Words in the room's message list (the texts of its messages).
fn room_says(text: &str) -> String {
    format!("[...document.querySelectorAll('[data-testid=room-message]')].some(m => m.textContent.includes({text:?}))")
}

#[tokio::test(flavor = "multi_thread")]
async fn two_people_talk_live_with_the_character_and_survive_a_server_restart() {
    // The demo model streams slowly enough for the deltas to be seen arriving.
    let mut stack = Stack::start(&[("DEMO_DELAY_MS", "40")]);
    let api = Api::new(&stack);
    let admin = api.token("/api/auth/login", ADMIN.0, ADMIN.1).await;
    let character = api.post(&admin, "/api/characters", json!({"name": "Aria", "visibility": "public"})).await;
    let room = api
        .post(&admin, "/api/rooms", json!({"name": "Lobby", "character_id": character["id"], "reply_mode": "mention"}))
        .await;
    let room_url = format!("{}/rooms/{}", stack.base, room["id"]);
    api.token("/api/auth/register", "bea", PASSWORD).await;

    let (first, second) = (Browser::start(1280, 900).await, Browser::start(390, 844).await);
    let (a, b) = (&first.client, &second.client);
    sign_in(a, &stack.base, ADMIN.0, ADMIN.1).await;
    sign_in(b, &stack.base, "bea", PASSWORD).await;
    for c in [a, b] {
        c.goto(&format!("{}/rooms", stack.base)).await.unwrap();
        el(c, "[data-testid=room-item]").await;
        c.goto(&room_url).await.unwrap();
        watch_errors(c).await;
        until(c, "document.querySelector('[data-testid=room-status]').dataset.state === 'open'").await;
    }
    until(a, "document.querySelector('[data-testid=room-participants]').dataset.count === '2'").await;

    fill(b, "[data-testid=room-composer]", "hi everyone").await;
    el(b, "[data-testid=room-send]").await.click().await.unwrap();
    until(a, &room_says("hi everyone")).await;
    fill(a, "[data-testid=room-composer]", "welcome! Aria, say hello").await;
    el(a, "[data-testid=room-send]").await.click().await.unwrap();
    until(b, "document.querySelector('[data-testid=room-message][data-kind=admin]') !== null").await;

    // The reply grows in both pages before it is done.
    let reply = "document.querySelector('[data-testid=room-message][data-kind=character]')?.textContent.length ?? 0";
    until(b, &format!("{reply} > 0")).await;
    let partial = b.execute(&format!("return {reply};"), vec![]).await.unwrap().as_u64().unwrap();
    until(b, &format!("{reply} > {partial}")).await;
    until(a, &format!("{reply} > 0")).await;
    screenshots(b, "room-phone").await;
    screenshots(a, "room-desktop").await;

    stack.restart_server();
    for c in [a, b] {
        until(c, "document.querySelector('[data-testid=room-status]').dataset.state === 'open'").await;
    }
    fill(a, "[data-testid=room-composer]", "still there?").await;
    el(a, "[data-testid=room-send]").await.click().await.unwrap();
    until(b, &room_says("still there?")).await;
    let shown = "document.querySelectorAll('[data-testid=room-message][data-kind=user]').length";
    assert_eq!(
        b.execute(&format!("return {shown};"), vec![]).await.unwrap().as_u64(),
        Some(1),
        "nothing shown twice after the reconnect"
    );
    for c in [a, b] {
        assert_no_errors(c).await;
    }
    first.close().await;
    second.close().await;
}
