//! The pages for nowhere: an address no page has, and a page that is not the reader's to see.
//! Both lead home with a plain link, which works from either app.

use yew::prelude::*;

use crate::i18n::use_i18n;

#[component]
pub fn NotFound() -> Html {
    let i18n = use_i18n();
    html! {
        <section class="page narrow empty-state">
            <h1>{ i18n.t("not_found.title") }</h1>
            <a href="/" class="button">{ i18n.t("not_found.home") }</a>
        </section>
    }
}

/// What a signed-in user sees on a page that is not theirs to see (the admin console).
#[component]
pub fn Forbidden() -> Html {
    let i18n = use_i18n();
    html! {
        <section class="page narrow empty-state" data-testid="forbidden">
            <h1>{ i18n.t("forbidden.title") }</h1>
            <p>{ i18n.t("forbidden.body") }</p>
            <a href="/" class="button">{ i18n.t("not_found.home") }</a>
        </section>
    }
}
