//! Live rooms, at `/rooms`: many people and one character in one conversation, live. An app of
//! its own, so that its code (the room's socket, the admin's room tools) stays out of the main
//! app's download. `routes` holds its addresses, `list` and `room` its two pages; the rest
//! comes from the library (`troupe_web`).

mod form;
mod list;
mod live;
mod room;
mod routes;

use troupe_web::{
    components::layout::Layout,
    i18n::use_i18n,
    not_found::NotFound,
    session::use_session,
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
        Route::List => html! { <list::RoomsPage /> },
        // Keyed by the room, so that going to another room starts afresh: a new socket, and
        // nothing of the old room's arriving late into the new one's page.
        Route::Room { id } => html! { <room::RoomPage key={id} {id} /> },
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
    let is_admin = use_session().user().is_some_and(|u| u.is_admin);
    let brand = html! { <a href="/" class="brand">{ "Troupe" }</a> };
    let nav = html! {
        <>
            <a href="/" class="nav-link"><span>{ i18n.t("nav.chat") }</span></a>
            <a href="/characters" class="nav-link"><span>{ i18n.t("nav.characters") }</span></a>
            <a href="/personas" class="nav-link"><span>{ i18n.t("nav.personas") }</span></a>
            <a href="/lorebooks" class="nav-link"><span>{ i18n.t("nav.lorebooks") }</span></a>
            <Link<Route> to={Route::List} classes="nav-link">
                <span aria-current="page">{ i18n.t("nav.rooms") }</span>
            </Link<Route>>
            <a href="/account/keys" class="nav-link"><span>{ i18n.t("nav.keys") }</span></a>
            if is_admin {
                <a href="/admin" class="nav-link"><span>{ i18n.t("nav.admin") }</span></a>
            }
        </>
    };
    html! { <Layout {brand} {nav}>{ props.children.clone() }</Layout> }
}
