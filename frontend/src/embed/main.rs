//! The chat other products ("systems") show their users in a frame, at
//! `/embed?token=…&lang=…`: one character's conversations, without the site around them. The
//! server checks the chat token and names the character and the system in the page's
//! `troupe-character` and `troupe-system` meta tags. The token works on the chat API only, and
//! no cookie reaches a third-party frame: every request carries it as a bearer token instead.
//! An app of its own, so that the main app carries none of it; `chat` is its one screen.

mod chat;

use troupe_web::{
    i18n::{Lang, browser_lang, use_i18n},
    services,
    session::{Session, use_session},
    shell::Shell,
};
use wasm_bindgen::JsValue;
use yew::prelude::*;

fn main() {
    let address = Address::read();
    let has_token = address.token.is_some();
    if let Some(token) = address.token {
        services::use_bearer(token);
    }
    let lang = address.lang.or_else(browser_lang).unwrap_or(Lang::En);
    let page = PageFacts {
        character_id: meta("troupe-character").and_then(|id| id.trim().parse().ok()),
        system: meta("troupe-system").map(AttrValue::from),
    };
    yew::Renderer::<Embed>::with_props(EmbedProps { lang, has_token, page }).render();
}

/// What the page's address said.
struct Address {
    token: Option<String>,
    lang: Option<Lang>,
}

impl Address {
    /// Reads `token` and `lang`, then takes the token out of the address bar (`lang` stays):
    /// from here on it lives in memory only, neither shown, kept in the history nor sent on as
    /// a referrer.
    fn read() -> Self {
        let Some(window) = web_sys::window() else { return Self { token: None, lang: None } };
        let location = window.location();
        let Ok(params) = web_sys::UrlSearchParams::new_with_str(&location.search().unwrap_or_default()) else {
            return Self { token: None, lang: None };
        };
        // A JWT is printable ASCII; anything else could not go in a header, so it is no token.
        let token =
            params.get("token").filter(|token| !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()));
        let lang = params.get("lang").and_then(|code| Lang::from_tag(&code));
        if params.has("token") {
            params.delete("token");
            let rest = String::from(params.to_string());
            let query = if rest.is_empty() { rest } else { format!("?{rest}") };
            let url =
                format!("{}{query}{}", location.pathname().unwrap_or_default(), location.hash().unwrap_or_default());
            if let Ok(history) = window.history() {
                let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url));
            }
        }
        Self { token, lang }
    }
}

/// The content of `<meta name="{name}">`, which the server puts in the page; `None` when the
/// tag is absent or empty.
fn meta(name: &str) -> Option<String> {
    let document = web_sys::window()?.document()?;
    let tag = document.query_selector(&format!("meta[name=\"{name}\"]")).ok()??;
    tag.get_attribute("content").filter(|content| !content.trim().is_empty())
}

/// What the server said about this page in its meta tags.
#[derive(Clone, PartialEq)]
pub struct PageFacts {
    /// The character the chat opens with; `None`: the system has none set.
    pub character_id: Option<i64>,
    /// The system's display name.
    pub system: Option<AttrValue>,
}

#[derive(Properties, PartialEq)]
struct EmbedProps {
    lang: Lang,
    has_token: bool,
    page: PageFacts,
}

/// The shell (the language; who the token belongs to), then the chat or why there is none.
#[component]
fn Embed(props: &EmbedProps) -> Html {
    html! {
        <Shell lang={props.lang}>
            <Gate has_token={props.has_token} page={props.page.clone()} />
        </Shell>
    }
}

#[derive(Properties, PartialEq)]
struct GateProps {
    has_token: bool,
    page: PageFacts,
}

/// The chat while the token holds. Without one, or once the server refuses it (a 401 on any
/// call ends the session), there is no signing in here: the page that framed this one makes
/// the tokens, so reloading it is the way back.
#[component]
fn Gate(props: &GateProps) -> Html {
    let i18n = use_i18n();
    let session = use_session();
    match (&*session, props.has_token) {
        (Session::Loading, true) => html! { <div class="page-loading" aria-busy="true"></div> },
        (Session::SignedIn(_), true) => html! { <chat::EmbedChat page={props.page.clone()} /> },
        _ => chat::notice(i18n.t("embed.expired")),
    }
}
