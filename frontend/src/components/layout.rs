//! The frame around every signed-in page: the top bar, the announcements, the page.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    components::banner::Announcements,
    i18n::{Lang, LangContext, use_i18n},
    routes::Route,
    services,
    session::{Session, use_session},
};

#[derive(Properties, PartialEq)]
pub struct LayoutProps {
    pub children: Html,
}

#[component]
pub fn Layout(props: &LayoutProps) -> Html {
    let i18n = use_i18n();
    let session = use_session();
    let route = use_route::<Route>();
    let user = session.user().cloned();
    let is_admin = user.as_ref().is_some_and(|u| u.is_admin);
    let current = |r: &Route| {
        let here = route.as_ref().is_some_and(|now| match (r, now) {
            (Route::Home, Route::Home | Route::Chat { .. }) => true,
            (Route::Characters, Route::Characters | Route::NewCharacter | Route::EditCharacter { .. }) => true,
            (Route::Admin, Route::Admin | Route::AdminUsers | Route::AdminConversations) => true,
            (a, b) => a == b,
        });
        here.then_some("page")
    };
    let nav_link = |to: Route, label: String| {
        html! { <Link<Route> to={to.clone()} classes="nav-link"><span aria-current={current(&to)}>{ label }</span></Link<Route>> }
    };
    let sign_out = {
        let session = session.clone();
        Callback::from(move |_| {
            let session = session.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = services::auth::logout().await;
                session.set(Session::SignedOut);
            });
        })
    };
    html! {
        <div class="shell">
            <a class="skip-link" href="#main">{ i18n.t("nav.skip") }</a>
            <header class="topbar">
                <Link<Route> to={Route::Home} classes="brand">{ "Troupe" }</Link<Route>>
                <nav class="nav" aria-label={i18n.t("nav.label")}>
                    { nav_link(Route::Home, i18n.t("nav.chat")) }
                    { nav_link(Route::Characters, i18n.t("nav.characters")) }
                    if is_admin {
                        { nav_link(Route::Prompts, i18n.t("nav.prompts")) }
                        { nav_link(Route::Admin, i18n.t("nav.admin")) }
                    }
                </nav>
                <div class="topbar-end">
                    <LanguageSwitcher />
                    if let Some(user) = user {
                        <span class="whoami" title={user.username.clone()}>{ user.username.clone() }</span>
                        <button class="button ghost" onclick={sign_out}>{ i18n.t("nav.sign_out") }</button>
                    }
                </div>
            </header>
            <Announcements />
            <main id="main" class="main">{ props.children.clone() }</main>
        </div>
    }
}

/// A select of the five languages, each named in itself; the choice is remembered.
#[component]
pub fn LanguageSwitcher() -> Html {
    let context = use_context::<LangContext>().expect("LangContext is provided by App");
    let onchange = {
        let set = context.set.clone();
        Callback::from(move |e: Event| {
            let code = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            if let Some(lang) = Lang::from_tag(&code) {
                set.emit(lang);
            }
        })
    };
    html! {
        <label class="lang-switcher">
            <span class="visually-hidden">{ context.i18n.t("nav.language") }</span>
            <select {onchange} aria-label={context.i18n.t("nav.language")}>
                { for Lang::ALL.iter().map(|lang| html! {
                    <option value={lang.code()} selected={*lang == context.i18n.lang}>{ lang.native_name() }</option>
                }) }
            </select>
        </label>
    }
}
