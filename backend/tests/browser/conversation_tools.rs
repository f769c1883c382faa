//! The conversation tools in the browser: regenerate and flip between the replies, edit a reply
//! (its Markdown drawn, markup in it shown as text), rewind, branch, export and import.

use fantoccini::{Client, Locator, key::Key};
use serde_json::json;

use crate::{
    page::{assert_no_errors, count, el, fill, page_fetch_status, screenshots, sign_in, until, watch_errors},
    stack::{ADMIN, Api, Browser, PASSWORD, Stack, artifacts},
};

const LAST: &str = "[data-testid=message]:last-child";
const IDLE: &str =
    "!document.querySelector('[data-testid=streaming-reply]') && document.querySelector('[data-testid=send]')";

async fn messages(c: &Client) -> usize {
    count(c, "[data-testid=message]").await
}

/// Opens the menu of the `n`th message (1-based) and picks `item`.
async fn message_menu(c: &Client, n: usize, item: &str) {
    let message = format!("[data-testid=message]:nth-child({n} of [data-testid=message])");
    el(c, &format!("{message} [data-testid=message-actions]")).await.click().await.unwrap();
    el(c, &format!("{message} [data-testid={item}]")).await.click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_regenerates_edits_rewinds_branches_and_moves_chats_in_and_out() {
    let stack = Stack::start(&[("RATE_LIMIT_MESSAGES_PER_MINUTE", "1000"), ("DEMO_DELAY_MS", "1")]);
    let (_, chat) = Api::new(&stack).user_with_chat("toolsmith").await;
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    sign_in(c, &stack.base, "toolsmith", PASSWORD).await;
    c.goto(&format!("{}/chats/{chat}", stack.base)).await.unwrap();
    watch_errors(c).await;

    // A turn, then the reply written again: two versions to flip between, the new one shown.
    el(c, "[data-testid=composer]").await.send_keys(&format!("Tell me of the whale{}", Key::Enter)).await.unwrap();
    until(c, &format!("document.querySelectorAll('[data-testid=message]').length === 2 && {IDLE}")).await;
    let first = el(c, &format!("{LAST} .bubble")).await.text().await.unwrap();
    el(c, &format!("{LAST} [data-testid=regenerate]")).await.click().await.unwrap();
    until(
        c,
        &format!(
            "document.querySelector('{LAST} [data-testid=alternative-position]')?.textContent === '2/2' && {IDLE}"
        ),
    )
    .await;
    assert_eq!(messages(c).await, 2, "the new version replaces the reply, it is not added");
    el(c, &format!("{LAST} [data-testid=previous-alternative]")).await.click().await.unwrap();
    until(c, &format!("document.querySelector('{LAST} [data-testid=alternative-position]').textContent === '1/2'"))
        .await;
    assert_eq!(el(c, &format!("{LAST} .bubble")).await.text().await.unwrap(), first);

    // The reply edited: its Markdown drawn, the markup in it words on the screen.
    message_menu(c, 2, "edit-message").await;
    fill(c, "[data-testid=edit-input]", "*smiles* \"Ahoy!\" <script>window.__pwned = 1</script> <b>bold</b>").await;
    el(c, "[data-testid=save-edit]").await.click().await.unwrap();
    until(c, &format!("document.querySelector('{LAST} .bubble em')?.textContent === 'smiles'")).await;
    let bubble = el(c, &format!("{LAST} .bubble")).await;
    let text = bubble.text().await.unwrap();
    assert!(text.contains("<script>window.__pwned = 1</script>") && text.contains("<b>bold</b>"), "{text}");
    assert_eq!(el(c, &format!("{LAST} .bubble .speech")).await.text().await.unwrap(), "\"Ahoy!\"");
    let injected = c
        .execute(&format!("return document.querySelectorAll('{LAST} .bubble script, {LAST} .bubble b').length + (window.__pwned ?? 0);"), vec![])
        .await
        .unwrap();
    assert_eq!(injected, json!(0), "markup in a message is never markup");
    assert!(el(c, &format!("{LAST} .message-meta")).await.text().await.unwrap().contains("edited"));

    // By keyboard: the menu opens with Enter and closes with Escape.
    c.execute(&format!("document.querySelector('{LAST} [data-testid=message-actions]').focus();"), vec![])
        .await
        .unwrap();
    c.active_element().await.unwrap().send_keys(&Key::Enter.to_string()).await.unwrap();
    el(c, &format!("{LAST} [role=menu]")).await;
    c.active_element().await.unwrap().send_keys(&Key::Escape.to_string()).await.unwrap();
    until(c, &format!("!document.querySelector('{LAST} [role=menu]')")).await;

    // Rewind: a second turn, then back to before it.
    el(c, "[data-testid=composer]").await.send_keys(&format!("And then?{}", Key::Enter)).await.unwrap();
    until(c, &format!("document.querySelectorAll('[data-testid=message]').length === 4 && {IDLE}")).await;
    message_menu(c, 3, "rewind").await;
    el(c, "[data-testid=message-confirm] .button.danger").await.click().await.unwrap();
    until(c, "document.querySelectorAll('[data-testid=message]').length === 2").await;
    assert_no_errors(c).await;
    c.refresh().await.unwrap();
    until(c, "document.querySelectorAll('[data-testid=message]').length === 2").await;
    watch_errors(c).await;

    // Drawn again from the server's copy, Markdown included.
    until(c, &format!("document.querySelector('{LAST} .bubble em')?.textContent === 'smiles'")).await;

    // At a phone's width the tools are there without hovering.
    el(c, &format!("{LAST} [data-testid=message-actions]")).await.click().await.unwrap();
    screenshots(c, "conversation-tools").await;
    c.execute("document.activeElement.blur(); document.body.click();", vec![]).await.unwrap();
    let first_menu_opacity =
        "return getComputedStyle(document.querySelector('[data-testid=message] .message-menu')).opacity;";
    c.set_window_size(375, 812).await.unwrap();
    assert_eq!(c.execute(first_menu_opacity, vec![]).await.unwrap(), json!("1"), "at hand on a phone");
    c.set_window_size(1280, 900).await.unwrap();

    // Branch from the reply: a new chat with the same two messages, opened.
    message_menu(c, 2, "branch").await;
    until(c, &format!("!location.pathname.endsWith('/chats/{chat}')")).await;
    until(c, "document.querySelectorAll('[data-testid=message]').length === 2").await;
    until(c, "document.querySelectorAll('.chat-list li').length === 2").await;

    // Export: the menu's links download the chat.
    el(c, "[data-testid=chat-menu]").await.click().await.unwrap();
    let href = el(c, "[data-testid=export-jsonl]").await.attr("href").await.unwrap().unwrap();
    assert_eq!(page_fetch_status(c, &href).await, 200);

    // Import a SillyTavern chat file: a new chat with exactly its three messages.
    let file = artifacts().join("sillytavern-chat.jsonl");
    let lines = [
        json!({"user_name": "You", "character_name": "Ishmael", "create_date": "2026-11-25@12h00m00s", "chat_metadata": {}}),
        json!({"name": "Ishmael", "is_user": false, "is_system": false, "send_date": "November 25, 2026 5:20pm", "mes": "Call me *Ishmael*.", "swipes": ["Call me *Ishmael*.", "Hello."], "swipe_id": 0, "extra": {}}),
        json!({"name": "You", "is_user": true, "is_system": false, "send_date": "November 25, 2026 5:21pm", "mes": "Where to?", "extra": {}}),
        json!({"name": "Ishmael", "is_user": false, "is_system": false, "send_date": "November 25, 2026 5:22pm", "mes": "To sea.", "extra": {}}),
    ];
    std::fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let before = c.current_url().await.unwrap();
    c.find(Locator::Css("[data-testid=import-file]")).await.unwrap().send_keys(file.to_str().unwrap()).await.unwrap();
    until(c, &format!("location.href !== '{before}'")).await;
    until(c, "document.querySelectorAll('[data-testid=message]').length === 3").await;
    until(c, "document.querySelector('[data-testid=message] .bubble em')?.textContent === 'Ishmael'").await;
    assert_eq!(
        el(c, "[data-testid=message] [data-testid=alternative-position]").await.text().await.unwrap(),
        "1/2",
        "the swipes became alternatives"
    );

    // A file that is not a chat: the reason, naming the line, and no new chat.
    let bad = artifacts().join("not-a-chat.jsonl");
    std::fs::write(&bad, "{\"user_name\": \"You\"}\nthis is not json\n").unwrap();
    let chats_before = count(c, ".chat-list li").await;
    el(c, "[data-testid=chat-menu]").await.click().await.unwrap();
    c.find(Locator::Css("[data-testid=import-file]")).await.unwrap().send_keys(bad.to_str().unwrap()).await.unwrap();
    let error = el(c, "[data-testid=import-error]").await.text().await.unwrap();
    assert!(error.contains("line 2"), "{error}");
    assert_eq!(count(c, ".chat-list li").await, chats_before);
    assert_no_errors(c).await;

    // An admin reading the transcripts sees which version each reply shows, of how many.
    el(c, ".topbar-end .button").await.click().await.unwrap();
    el(c, "#username").await;
    sign_in(c, &stack.base, ADMIN.0, ADMIN.1).await;
    c.goto(&format!("{}/admin/conversations", stack.base)).await.unwrap();
    el(c, "tbody .button").await.click().await.unwrap();
    let version = el(c, ".transcript [data-testid=transcript-alternative]").await.text().await.unwrap();
    assert!(version.ends_with("/2"), "{version}");
    browser.close().await;
}
