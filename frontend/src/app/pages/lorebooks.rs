//! Standalone lorebooks: brought in as files (SillyTavern world info and the card formats),
//! listed, removed. A chat's card pane attaches them to that chat.

use yew::prelude::*;

use crate::{
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    services::{self, lorebooks::LorebookSummary},
};

#[component]
pub fn LorebooksPage() -> Html {
    let i18n = use_i18n();
    let reload = use_refresh();
    let books = use_load(reload.0, |_| services::lorebooks::list());
    let error = use_state(|| None::<String>);
    let on_file = {
        let (reload, error, i18n) = (reload.clone(), error.clone(), i18n.clone());
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else { return };
            input.set_value("");
            let (reload, error, i18n) = (reload.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::lorebooks::import(file).await {
                    Ok(_) => {
                        error.set(None);
                        reload.dispatch(());
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let remove = |id: i64| {
        let (reload, error, i18n) = (reload.clone(), error.clone(), i18n.clone());
        Callback::from(move |_| {
            let (reload, error, i18n) = (reload.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::lorebooks::remove(id).await {
                    Ok(()) => reload.dispatch(()),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let item = |b: &LorebookSummary| {
        let name = b.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| i18n.t("lorebooks.untitled"));
        html! {
            <li class="card" key={b.id} data-testid="lorebook">
                <h2>{ name }</h2>
                <p class="muted small">{ i18n.tf("lorebooks.entries", &[("n", b.entry_count.to_string())]) }</p>
                <div class="card-actions">
                    <button class="button ghost danger-text" onclick={remove(b.id)}>{ i18n.t("common.delete") }</button>
                </div>
            </li>
        }
    };
    html! {
        <section class="page narrow">
            <div class="page-head">
                <h1>{ i18n.t("lorebooks.title") }</h1>
                <label class="button primary">
                    { i18n.t("lorebooks.import") }
                    <input type="file" accept=".json,application/json" class="visually-hidden" onchange={on_file} data-testid="lorebook-file" />
                </label>
            </div>
            <p class="muted">{ i18n.t("lorebooks.intro") }</p>
            if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
            { match books.value().as_deref().map(Vec::as_slice) {
                None => html! { <p class="muted">{ i18n.t("common.loading") }</p> },
                Some([]) => html! { <p class="muted">{ i18n.t("lorebooks.none") }</p> },
                Some(list) => html! { <ul class="card-grid">{ for list.iter().map(item) }</ul> },
            } }
        </section>
    }
}
