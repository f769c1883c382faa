//! The admin dashboard's layout: at every width from a phone's up, no card of the overview
//! (totals, charts, tables) runs over another, whatever the figures and names it shows.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    page::{el, screenshot, sign_in, until},
    stack::{ADMIN, Api, Browser, Stack},
};

/// Phones, tablets, the laptop width the overlap was reported at, and a wide desktop.
const WIDTHS: [u32; 6] = [375, 768, 1024, 1280, 1366, 1920];

/// The overview's cards whose boxes intersect (by more than a pixel), and those that reach
/// past the page's right edge.
const OVERLAPS: &str = "
    const cards = [...document.querySelectorAll('.stats > *, .charts > *, .tables > *')];
    const boxes = cards.map(c => [c, c.getBoundingClientRect()]);
    const name = c => c.querySelector('caption, figcaption')?.textContent || c.textContent.slice(0, 30);
    const found = [];
    for (let i = 0; i < boxes.length; i++) {
        const [a, r] = boxes[i];
        if (r.right > document.documentElement.clientWidth + 1) found.push(name(a) + ' past the right edge');
        for (let j = i + 1; j < boxes.length; j++) {
            const [b, s] = boxes[j];
            const x = Math.min(r.right, s.right) - Math.max(r.left, s.left);
            const y = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
            if (x > 1 && y > 1) found.push(name(a) + ' over ' + name(b));
        }
    }
    return [cards.length, found];";

#[tokio::test(flavor = "multi_thread")]
async fn no_card_of_the_overview_runs_over_another_at_any_width() {
    let models = tempfile::NamedTempFile::new().unwrap();
    // A long model name and a price: the widest "Usage by model" table the dashboard shows.
    std::fs::write(
        models.path(),
        "[[model]]\nid = \"demo-long-context-model-2026-12-preview\"\nprovider = \"demo\"\n\
         context_window = 8192\nmax_output_tokens = 256\ninput_price_per_mtok = 1234.5\noutput_price_per_mtok = 6789.25\n",
    )
    .unwrap();
    let stack = Stack::start(&[("MODELS_FILE", models.path().to_str().unwrap()), ("DEMO_DELAY_MS", "0")]);
    let api = Api::new(&stack);
    for name in ["a_user_with_a_rather_long_name", "bob"] {
        let (token, chat) = api.user_with_chat(name).await;
        for _ in 0..3 {
            let reply: Value =
                api.post(&token, &format!("/api/chats/{chat}/messages"), json!({"content": "Hello"})).await;
            assert!(reply["assistant_message"]["content"].is_string());
        }
    }
    let browser = Browser::start(1366, 900).await;
    let c = &browser.client;
    sign_in(c, &stack.base, ADMIN.0, ADMIN.1).await;
    c.goto(&format!("{}/admin", stack.base)).await.unwrap();
    el(c, "[data-testid=by-source]").await;
    until(c, "document.querySelector('[data-testid=top-users]')?.textContent.includes('a_user_with')").await;

    for width in WIDTHS {
        c.set_window_size(width, 900).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let found = c.execute(OVERLAPS, vec![]).await.unwrap();
        let (cards, overlaps) = (found[0].as_u64().unwrap(), &found[1]);
        assert!(cards >= 11, "the overview's cards are on the page at {width} px ({cards})");
        assert_eq!(overlaps, &json!([]), "at {width} px");
        screenshot(c, &format!("dashboard-{width}")).await;
    }
    browser.close().await;
}
