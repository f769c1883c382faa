//! The app everyone uses, at `/`: chats, characters, signing in. `routes` holds its addresses,
//! `pages` one module per screen; the rest comes from the library (`troupe_web`).

mod pages;
mod routes;

use troupe_web::{
    components::layout::Layout,
    i18n::use_i18n,
    not_found::NotFound,
    session::use_session,
    shell::{SignedIn, leave_for},
};
// The library's modules, under the names the pages use.
use troupe_web::{components, format, hooks, i18n, services, session, shell};
use yew::prelude::*;
use yew_router::prelude::*;

use self::routes::Route;

fn main() {
    pages::card_import::ignore_stray_drops();
    troupe_web::shell::start(switch);
}

fn switch(route: Route) -> Html {
    match route {
        Route::SignIn => html! { <pages::auth::AuthPage register={false} /> },
        Route::Register => html! { <pages::auth::AuthPage register={true} /> },
        Route::NotFound => html! { <Frame><NotFound /></Frame> },
        // The shared prompts moved into the admin console.
        Route::Prompts => {
            leave_for("/admin/prompts");
            html! {}
        }
        route => html! { <SignedInPage {route} /> },
    }
}

#[derive(Properties, PartialEq)]
struct SignedInPageProps {
    route: Route,
}

/// Pages for signed-in users: without a session, off to sign in, and back here afterwards.
#[component]
fn SignedInPage(props: &SignedInPageProps) -> Html {
    let navigator = use_navigator().expect("inside the router");
    let on_signed_out = Callback::from(move |next: String| {
        let _ = navigator.replace_with_query(&Route::SignIn, &[("next", next)]);
    });
    html! {
        <SignedIn {on_signed_out}>
            <Frame>{ page(&props.route) }</Frame>
        </SignedIn>
    }
}

fn page(route: &Route) -> Html {
    match route {
        Route::Home => html! { <pages::chat::ChatPage chat_id={None::<i64>} /> },
        Route::Chat { id } => html! { <pages::chat::ChatPage chat_id={Some(*id)} /> },
        Route::Characters => html! { <pages::characters::CharactersPage /> },
        Route::NewCharacter => html! { <pages::character_form::CharacterForm id={None::<i64>} /> },
        Route::EditCharacter { id } => html! { <pages::character_form::CharacterForm id={Some(*id)} /> },
        Route::Personas => html! { <pages::personas::PersonasPage /> },
        Route::Lorebooks => html! { <pages::lorebooks::LorebooksPage /> },
        Route::SignIn | Route::Register | Route::Prompts | Route::NotFound => html! {},
    }
}

#[derive(Properties, PartialEq)]
struct FrameProps {
    children: Html,
}

/// The layout with this app's links: its pages through the router, the other apps' (the live
/// rooms, the account pages, the admin console for admins) as plain links.
#[component]
fn Frame(props: &FrameProps) -> Html {
    let i18n = use_i18n();
    let session = use_session();
    let route = use_route::<Route>();
    let is_admin = session.user().is_some_and(|u| u.is_admin);
    let link = |to: Route, label: &str| {
        let here = matches!(
            (&to, &route),
            (Route::Home, Some(Route::Home | Route::Chat { .. }))
                | (Route::Characters, Some(Route::Characters | Route::NewCharacter | Route::EditCharacter { .. }))
                | (Route::Personas, Some(Route::Personas))
                | (Route::Lorebooks, Some(Route::Lorebooks))
        );
        html! {
            <Link<Route> {to} classes="nav-link">
                <span aria-current={here.then_some("page")}>{ i18n.t(label) }</span>
            </Link<Route>>
        }
    };
    let brand = html! { <Link<Route> to={Route::Home} classes="brand">{ "Troupe" }</Link<Route>> };
    let nav = html! {
        <>
            { link(Route::Home, "nav.chat") }
            { link(Route::Characters, "nav.characters") }
            { link(Route::Personas, "nav.personas") }
            { link(Route::Lorebooks, "nav.lorebooks") }
            <a href="/rooms" class="nav-link"><span>{ i18n.t("nav.rooms") }</span></a>
            <a href="/account/keys" class="nav-link"><span>{ i18n.t("nav.keys") }</span></a>
            if is_admin {
                <a href="/admin" class="nav-link"><span>{ i18n.t("nav.admin") }</span></a>
            }
        </>
    };
    html! { <Layout {brand} {nav}>{ props.children.clone() }</Layout> }
}
