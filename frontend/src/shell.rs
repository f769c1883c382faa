//! What every app stands on: who is signed in and which language, provided to every page, and
//! the gate of the pages for signed-in users.

use std::rc::Rc;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    hooks::liveness,
    i18n::{self, I18n, Lang, LangContext},
    not_found::Forbidden,
    services,
    session::{Session, SessionHandle, use_session},
};

/// Starts an app: the shell around the router, which shows `switch(route)`.
pub fn start<R: Routable + 'static>(switch: fn(R) -> Html) {
    yew::Renderer::<App<R>>::with_props(AppProps { switch: Callback::from(switch) }).render();
}

#[derive(Properties, PartialEq)]
struct AppProps<R: Routable + 'static> {
    switch: Callback<R, Html>,
}

#[component]
fn App<R: Routable + 'static>(props: &AppProps<R>) -> Html {
    html! {
        <Shell lang={None}>
            <BrowserRouter>
                <Switch<R> render={props.switch.clone()} />
            </BrowserRouter>
        </Shell>
    }
}

#[derive(Properties, PartialEq)]
pub struct ShellProps {
    /// The language the page was opened in (the embed app's `?lang=`), in place of the
    /// remembered one; a change of language is then not remembered either. `None`: the
    /// remembered one, else the browser's.
    pub lang: Option<Lang>,
    pub children: Html,
}

/// Asks who is signed in and loads the chosen language, then shows `children` (the app's
/// router) with both provided.
#[component]
pub fn Shell(props: &ShellProps) -> Html {
    let session = use_state(|| Session::Loading);
    let given = props.lang;
    let lang = use_state(|| given.unwrap_or_else(i18n::initial_lang));
    // The chosen language's words; English is at hand at once, the others once fetched.
    let words = use_state(|| (*lang == Lang::En).then(I18n::english));

    {
        let session = session.clone();
        use_effect_with((), move |_| {
            let expired = session.clone();
            services::on_unauthorized(Callback::from(move |_| expired.set(Session::SignedOut)));
            wasm_bindgen_futures::spawn_local(async move {
                // A network failure leaves the sign-in page up, which retries on submit.
                let user = services::auth::me().await.ok().flatten();
                session.set(user.map_or(Session::SignedOut, |u| Session::SignedIn(Rc::new(u))));
            });
        });
    }
    {
        let words = words.clone();
        use_effect_with(*lang, move |&lang| {
            let (live, end) = liveness();
            // English is there from the start; only another language needs fetching.
            if words.as_ref().is_some_and(|w| w.lang == lang) {
                i18n::mark_document(lang);
                return end;
            }
            wasm_bindgen_futures::spawn_local(async move {
                // If a table cannot be fetched, English is better than nothing.
                let loaded = I18n::load(lang).await.unwrap_or_else(I18n::english);
                if live.get() {
                    i18n::mark_document(loaded.lang);
                    words.set(Some(loaded));
                }
            });
            end
        });
    }

    let Some(current) = (*words).clone() else {
        return html! { <div class="page-loading" aria-busy="true"></div> };
    };
    let choose = Callback::from(move |chosen| {
        if given.is_none() {
            i18n::remember(chosen);
        }
        lang.set(chosen);
    });
    let lang_context = LangContext { i18n: current, set: choose };
    html! {
        <ContextProvider<LangContext> context={lang_context}>
            <ContextProvider<SessionHandle> context={session}>
                { props.children.clone() }
            </ContextProvider<SessionHandle>>
        </ContextProvider<LangContext>>
    }
}

#[derive(Properties, PartialEq)]
pub struct SignedInProps {
    /// No one is signed in: go to sign in, and back to `next` (this page's path) afterwards.
    pub on_signed_out: Callback<String>,
    pub children: Html,
}

/// `children` for signed-in users; a blank page until the session is known.
#[component]
pub fn SignedIn(props: &SignedInProps) -> Html {
    let session = use_session();
    let signed_out = *session == Session::SignedOut;
    let on_signed_out = props.on_signed_out.clone();
    use_effect_with(signed_out, move |signed_out| {
        let location = web_sys::window().map(|w| w.location());
        if let (true, Some(location)) = (*signed_out, location) {
            let next = format!("{}{}", location.pathname().unwrap_or_default(), location.search().unwrap_or_default());
            on_signed_out.emit(next);
        }
    });
    match session.user() {
        None => html! { <div class="page-loading" aria-busy="true"></div> },
        Some(_) => props.children.clone(),
    }
}

#[derive(Properties, PartialEq)]
pub struct AdminOnlyProps {
    pub children: Html,
}

/// `children` for admins; others are told the page is not theirs (the server refuses them too).
#[component]
pub fn AdminOnly(props: &AdminOnlyProps) -> Html {
    let session = use_session();
    if session.user().is_some_and(|u| u.is_admin) {
        props.children.clone()
    } else {
        html! { <Forbidden /> }
    }
}

/// Opens `path` with a full page load: the way from one app to the other.
pub fn leave_for(path: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().replace(path);
    }
}

/// For `SignedIn` in the apps beside the main one: signing in is the main app's page, which
/// comes back to `next` afterwards.
pub fn sign_in_then_return() -> Callback<String> {
    Callback::from(|next: String| leave_for(&format!("/signin?next={}", js_sys::encode_uri_component(&next))))
}
