//! The user's account pages, at `/account`: their API keys and their storage. An app of its own, so that the
//! many who never make a key never download its code. `routes` holds its addresses; the rest
//! comes from the library (`troupe_web`).

mod keys;
mod routes;
mod storage;

use troupe_web::{
    components::layout::Layout,
    i18n::use_i18n,
    not_found::NotFound,
    shell::{SignedIn, sign_in_then_return},
};
use yew::prelude::*;
use yew_router::prelude::*;

use self::routes::Route;

fn main() {
    troupe_web::shell::start(switch);
}

fn switch(route: Route) -> Html {
    let on_signed_out = sign_in_then_return();
    let page = match route {
        Route::Home | Route::Keys => html! { <><storage::Storage /><keys::KeysPage /></> },
        Route::NotFound => html! { <NotFound /> },
    };
    html! {
        <SignedIn {on_signed_out}>
            <Frame>{ page }</Frame>
        </SignedIn>
    }
}

#[derive(Properties, PartialEq)]
struct FrameProps {
    children: Html,
}

/// The layout with the main app's links (plain links: another app) and this one's.
#[component]
fn Frame(props: &FrameProps) -> Html {
    let i18n = use_i18n();
    let brand = html! { <a href="/" class="brand">{ "Troupe" }</a> };
    let nav = html! {
        <>
            <a href="/" class="nav-link"><span>{ i18n.t("nav.chat") }</span></a>
            <a href="/characters" class="nav-link"><span>{ i18n.t("nav.characters") }</span></a>
            <a href="/personas" class="nav-link"><span>{ i18n.t("nav.personas") }</span></a>
            <a href="/lorebooks" class="nav-link"><span>{ i18n.t("nav.lorebooks") }</span></a>
            <a href="/rooms" class="nav-link"><span>{ i18n.t("nav.rooms") }</span></a>
            <Link<Route> to={Route::Keys} classes="nav-link">
                <span aria-current="page">{ i18n.t("nav.keys") }</span>
            </Link<Route>>
        </>
    };
    html! { <Layout {brand} {nav}>{ props.children.clone() }</Layout> }
}
