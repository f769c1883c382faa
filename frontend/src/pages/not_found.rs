use yew::prelude::*;
use yew_router::prelude::*;

use crate::{i18n::use_i18n, routes::Route};

#[component]
pub fn NotFound() -> Html {
    let i18n = use_i18n();
    html! {
        <section class="page narrow empty-state">
            <h1>{ i18n.t("not_found.title") }</h1>
            <Link<Route> to={Route::Home} classes="button">{ i18n.t("not_found.home") }</Link<Route>>
        </section>
    }
}

/// What a signed-in user sees on a page that is not theirs to see (the admin pages).
#[component]
pub fn Forbidden() -> Html {
    let i18n = use_i18n();
    html! {
        <section class="page narrow empty-state" data-testid="forbidden">
            <h1>{ i18n.t("forbidden.title") }</h1>
            <p>{ i18n.t("forbidden.body") }</p>
            <Link<Route> to={Route::Home} classes="button">{ i18n.t("not_found.home") }</Link<Route>>
        </section>
    }
}
