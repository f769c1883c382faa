//! The frame around every signed-in page: the top bar, the announcements, the page. Each app
//! brings its own links (its own pages through its router, the other app's as plain links).

use yew::prelude::*;

use crate::{
    components::banner::Announcements,
    i18n::{Lang, LangContext, use_i18n},
    services,
    session::{Session, use_session},
};

#[derive(Properties, PartialEq)]
pub struct LayoutProps {
    /// The name in the corner, leading home.
    pub brand: Html,
    /// The top bar's links (`a.nav-link`, the current one's label with `aria-current="page"`).
    pub nav: Html,
    pub children: Html,
}

#[component]
pub fn Layout(props: &LayoutProps) -> Html {
    let i18n = use_i18n();
    let session = use_session();
    let user = session.user().cloned();
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
                { props.brand.clone() }
                <nav class="nav" aria-label={i18n.t("nav.label")}>{ props.nav.clone() }</nav>
                <div class="topbar-end">
                    <LanguageSwitcher />
                    if let Some(user) = user {
                        // The user's own pages (their API keys), an app of their own.
                        <a class="whoami" href="/account/keys" title={i18n.t("nav.keys")}>{ user.username.clone() }</a>
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
