//! The admin console's Systems tab: a system made in the browser (its secrets shown once),
//! its key working for the service API, then disabled from the same row.

use fantoccini::Locator;
use serde_json::json;

use crate::{
    page::{assert_no_errors, el, fill, screenshots, sign_in, until, watch_errors},
    stack::{ADMIN, Api, Browser, Stack},
};

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_connects_a_system_and_disables_it_again() {
    let stack = Stack::start(&[]);
    let api = Api::new(&stack);
    let admin = api.token("/api/auth/login", ADMIN.0, ADMIN.1).await;
    let character = api.post(&admin, "/api/characters", json!({"name": "Quizzy", "visibility": "public"})).await;
    let browser = Browser::start(1280, 900).await;
    let c = &browser.client;
    sign_in(c, &stack.base, ADMIN.0, ADMIN.1).await;
    c.goto(&format!("{}/admin/systems", stack.base)).await.unwrap();
    watch_errors(c).await;

    c.wait().for_element(Locator::XPath("//button[contains(., 'New system')]")).await.unwrap().click().await.unwrap();
    fill(c, "#system-id", "quizsite").await;
    fill(c, "#system-name", "Quiz site").await;
    fill(c, "#system-origins", "https://quiz.example").await;
    let pick = format!(
        "const s = document.querySelector('#system-character'); s.value = '{}'; s.dispatchEvent(new Event('change'));",
        character["id"]
    );
    c.execute(&pick, vec![]).await.unwrap();
    el(c, "[data-testid=system-form] button[type=submit]").await.click().await.unwrap();
    until(
        c,
        "[...document.querySelectorAll('[data-testid=system-secrets] input')].some(i => i.value.startsWith('trs_'))",
    )
    .await;
    let key = c
        .execute(
            "return [...document.querySelectorAll('[data-testid=system-secrets] input')].find(i => i.value.startsWith('trs_')).value;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    until(c, "document.querySelectorAll('[data-testid=system-row]').length === 1").await;
    screenshots(c, "admin-system-created").await;

    let conversations = || {
        api.http.get(format!("{}/api/service/conversations?user_id=u1", stack.base)).header("x-api-key", &key).send()
    };
    assert_eq!(conversations().await.unwrap().status(), 200, "the key shown works");

    el(c, "[data-testid=system-row] .danger-text").await.click().await.unwrap();
    el(c, "[data-testid=system-row] .confirm .button.danger").await.click().await.unwrap();
    until(c, "document.querySelector('[data-testid=system-row]').classList.contains('disabled')").await;
    assert_eq!(conversations().await.unwrap().status(), 401, "disabled at once");
    assert_no_errors(c).await;
}
