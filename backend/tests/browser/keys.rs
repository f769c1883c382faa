//! API keys in the browser: from the top bar to the account pages (with the account's storage),
//! a key made and copied once, used by a program on `/v1`, then revoked.

use serde_json::Value;

use crate::{
    page::{assert_no_errors, count, el, fill, screenshots, sign_in, until, watch_errors},
    stack::{Api, Browser, PASSWORD, Stack},
};

#[tokio::test(flavor = "multi_thread")]
async fn a_key_made_in_the_account_pages_opens_v1_until_revoked() {
    let stack = Stack::start(&[]);
    Api::new(&stack).token("/api/auth/register", "scripter", PASSWORD).await;
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    sign_in(c, &stack.base, "scripter", PASSWORD).await;

    // The user's name in the top bar leads to their keys (another app: a page load).
    el(c, "a.whoami").await.click().await.unwrap();
    until(c, "location.pathname === '/account/keys'").await;
    el(c, "[data-testid=key-form]").await;
    watch_errors(c).await;
    // What the account stores, against the server's default quota.
    until(c, "document.querySelector('[data-testid=storage-used]')?.textContent === '0 B of 1.0 GB used'").await;
    fill(c, "#key-name", "notebook").await;
    c.execute("const s = document.querySelector('[data-testid=key-lifetime]'); s.value = '30'; s.dispatchEvent(new Event('change'));", vec![])
        .await
        .unwrap();
    el(c, "[data-testid=key-form] button[type=submit]").await.click().await.unwrap();
    until(c, "document.querySelector('[data-testid=new-secret] input')?.value.startsWith('trp_')").await;
    until(c, "document.querySelectorAll('[data-testid=api-key]').length === 1").await;
    let secret = c
        .execute("return document.querySelector('[data-testid=new-secret] input').value;", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let listed =
        c.execute("return document.querySelector('[data-testid=api-key]').textContent;", vec![]).await.unwrap();
    assert!(listed.as_str().unwrap().contains(&secret[..12]) && !listed.as_str().unwrap().contains(&secret[12..]));
    screenshots(c, "api-key-created").await;

    // A program uses it through nginx.
    let http = reqwest::Client::new();
    let models = http.get(format!("{}/v1/models", stack.base)).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(models.status(), 200);
    let models: Value = models.json().await.unwrap();
    assert!(models["data"].as_array().unwrap().iter().any(|m| m["id"] == "demo"), "{models}");

    el(c, "[data-testid=api-key] .danger-text").await.click().await.unwrap();
    until(c, "document.querySelectorAll('[data-testid=api-key]').length === 0").await;
    assert_eq!(count(c, "[data-testid=new-secret]").await, 0, "a revoked key's secret is not kept on screen");
    let refused = http.get(format!("{}/v1/models", stack.base)).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_no_errors(c).await;
}
