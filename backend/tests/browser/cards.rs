//! Character cards in the browser: three cards dropped in at once (a PNG V2 card with its
//! picture, a PNG V3 card, a JSON card), then a chat with one of them: its avatar, and its
//! greeting with the alternate greetings to flip through.

use base64::{Engine, engine::general_purpose::STANDARD};
use fantoccini::Client;
use serde_json::{Value, json};

use crate::{
    page::{assert_no_errors, count, el, screenshots, sign_in, until, watch_errors},
    stack::{Api, Browser, PASSWORD, Stack, artifacts},
};

/// A 64 × 64 PNG of one colour, with `chunks` as tEXt chunks (base64 of each card).
fn png(rgb: [u8; 3], chunks: &[(&str, &Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 64, 64);
    encoder.set_color(png::ColorType::Rgb);
    for (keyword, card) in chunks {
        encoder.add_text_chunk((*keyword).into(), STANDARD.encode(card.to_string())).unwrap();
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&rgb.repeat(64 * 64)).unwrap();
    writer.finish().unwrap();
    out
}

fn v2(name: &str, greeting: &str, alternates: &[&str]) -> Value {
    json!({"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": name, "description": format!("{name} keeps the light."), "personality": "", "scenario": "",
        "first_mes": greeting, "mes_example": "", "alternate_greetings": alternates, "tags": ["Gothic"],
        "creator": "", "character_version": "", "creator_notes": "", "system_prompt": "",
        "post_history_instructions": "", "extensions": {}}})
}

/// Drops `files` (name, bytes) on the drop zone, as the browser does for files dragged in.
async fn drop_files(c: &Client, files: &[(&str, Vec<u8>)]) {
    let files: Vec<Value> = files.iter().map(|(name, bytes)| json!([name, STANDARD.encode(bytes)])).collect();
    let script = "const [files] = arguments;
        const transfer = new DataTransfer();
        for (const [name, data] of files) {
            const bytes = Uint8Array.from(atob(data), ch => ch.charCodeAt(0));
            transfer.items.add(new File([bytes], name));
        }
        const zone = document.querySelector('[data-testid=card-drop]');
        zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true, cancelable: true}));
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));";
    c.execute(script, vec![json!(files)]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn three_cards_dropped_in_and_a_chat_with_one_of_them() {
    let stack = Stack::start(&[("DEMO_DELAY_MS", "1")]);
    Api::new(&stack).token("/api/auth/register", "collector", PASSWORD).await;
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    sign_in(c, &stack.base, "collector", PASSWORD).await;
    c.goto(&format!("{}/characters", stack.base)).await.unwrap();
    el(c, "[data-testid=card-drop]").await;
    watch_errors(c).await;

    let keeper = v2("Keeper", "Who goes there, {{user}}?", &["Ah, a visitor.", "Back again?"]);
    let mut vee = v2("Vee", "Hello.", &[]);
    vee["spec"] = json!("chara_card_v3");
    vee["spec_version"] = json!("3.0");
    let json_card = v2("Juniper", "Hi!", &[]);
    drop_files(
        c,
        &[
            ("keeper.png", png([200, 40, 40], &[("chara", &keeper)])),
            ("vee.png", png([40, 40, 200], &[("ccv3", &vee)])),
            ("juniper.json", json_card.to_string().into_bytes()),
        ],
    )
    .await;
    until(c, "document.querySelectorAll('[data-testid=import-ok]').length === 3").await;
    until(c, "document.querySelectorAll('[data-testid=character-card]').length === 3").await;
    // The PNG cards' pictures are their avatars, served by the API and drawn.
    let drawn = "[...document.querySelectorAll('[data-testid=character-card] img.avatar')]
        .filter(img => img.complete && img.naturalWidth > 0 && img.src.includes('/avatar')).length === 2";
    until(c, drawn).await;
    screenshots(c, "cards-imported").await;

    // A chat with the keeper: its picture beside it, its greeting with the user's name, and
    // the alternate greetings one click away.
    let keeper_card = "[...document.querySelectorAll('[data-testid=character-card]')]
        .find(card => card.textContent.includes('Keeper'))";
    c.execute(&format!("{keeper_card}.querySelector('.button.primary').click();"), vec![]).await.unwrap();
    until(c, "location.pathname.startsWith('/chats/')").await;
    until(
        c,
        "document.querySelector('[data-testid=message] .bubble')?.textContent.includes('Who goes there, collector?')",
    )
    .await;
    let position = "document.querySelector('[data-testid=message] [data-testid=alternative-position]')?.textContent";
    until(c, &format!("{position} === '1/3'")).await;
    el(c, "[data-testid=message] [data-testid=next-alternative]").await.click().await.unwrap();
    until(c, &format!("{position} === '2/3'")).await;
    until(c, "document.querySelector('[data-testid=message] .bubble')?.textContent.includes('Ah, a visitor.')").await;
    until(c, "[...document.querySelectorAll('.character-card img.avatar')].some(img => img.naturalWidth > 0)").await;
    assert_eq!(count(c, "[data-testid=message]").await, 1);
    screenshots(c, "cards-chat").await;
    let chat_path = c.current_url().await.unwrap().path().to_owned();

    // A SillyTavern world info file becomes a lorebook, which the chat then uses.
    let world_info = json!({"entries": {"0": {"uid": 0, "key": ["lamp"], "content": "The lamp never goes out.",
        "order": 100, "position": 0, "disable": false, "constant": false, "selective": false}}});
    let file = artifacts().join("Isle.json");
    std::fs::write(&file, world_info.to_string()).unwrap();
    c.goto(&format!("{}/lorebooks", stack.base)).await.unwrap();
    el(c, "[data-testid=lorebook-file]").await.send_keys(file.to_str().unwrap()).await.unwrap();
    until(c, "document.querySelector('[data-testid=lorebook]')?.textContent.includes('Isle')").await;
    c.goto(&format!("{}{chat_path}", stack.base)).await.unwrap();
    watch_errors(c).await;
    el(c, ".character-card input[type=checkbox]").await.click().await.unwrap();
    until(c, "document.querySelector('.character-card input[type=checkbox]').checked").await;
    assert_no_errors(c).await;
}
