//! The admin console, at `/admin`: the dashboard and its live counters, users, conversations,
//! connected systems and the shared prompts. An app of its own, so only admins download its
//! code, when they open it. `routes` holds its addresses, one module per screen beside; the rest
//! comes from the library (`troupe_web`).

mod console;
mod conversations;
mod overview;
mod prompts;
mod routes;
mod systems;
mod users;

use troupe_web::{
    components::layout::Layout,
    i18n::use_i18n,
    not_found::NotFound,
    shell::{AdminOnly, SignedIn, sign_in_then_return},
};
// The library's modules, under the names the pages use.
use troupe_web::{components, format, hooks, i18n, services};
use yew::prelude::*;
use yew_router::prelude::*;

use self::{console::Console, routes::Route};

fn main() {
    troupe_web::shell::start(switch);
}

fn switch(route: Route) -> Html {
    let on_signed_out = sign_in_then_return();
    let page = match route {
        Route::Prompts => html! { <prompts::PromptsPage /> },
        Route::NotFound => html! { <NotFound /> },
        tab => html! { <Console {tab} /> },
    };
    html! {
        <SignedIn {on_signed_out}>
            <Frame><AdminOnly>{ page }</AdminOnly></Frame>
        </SignedIn>
    }
}

#[derive(Properties, PartialEq)]
struct FrameProps {
    children: Html,
}

/// The layout with the same links as the other app's: its pages as plain links, this app's
/// through the router.
#[component]
fn Frame(props: &FrameProps) -> Html {
    let i18n = use_i18n();
    let route = use_route::<Route>();
    let link = |to: Route, label: &str| {
        let here = matches!(
            (&to, &route),
            (Route::Prompts, Some(Route::Prompts))
                | (Route::Overview, Some(Route::Overview | Route::Users | Route::Conversations | Route::Systems))
        );
        html! {
            <Link<Route> {to} classes="nav-link">
                <span aria-current={here.then_some("page")}>{ i18n.t(label) }</span>
            </Link<Route>>
        }
    };
    let brand = html! { <a href="/" class="brand">{ "Troupe" }</a> };
    let nav = html! {
        <>
            <a href="/" class="nav-link"><span>{ i18n.t("nav.chat") }</span></a>
            <a href="/characters" class="nav-link"><span>{ i18n.t("nav.characters") }</span></a>
            <a href="/rooms" class="nav-link"><span>{ i18n.t("nav.rooms") }</span></a>
            { link(Route::Prompts, "nav.prompts") }
            { link(Route::Overview, "nav.admin") }
        </>
    };
    html! { <Layout {brand} {nav}>{ props.children.clone() }</Layout> }
}
