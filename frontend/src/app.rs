//! The shell: who is signed in, which language, and which page a URL shows.

use std::rc::Rc;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    components::layout::Layout,
    hooks::liveness,
    i18n::{self, I18n, Lang, LangContext},
    pages,
    routes::Route,
    services,
    session::{Session, SessionHandle, use_session},
};

#[component]
pub fn App() -> Html {
    let session = use_state(|| Session::Loading);
    let lang = use_state(i18n::initial_lang);
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
        i18n::remember(chosen);
        lang.set(chosen);
    });
    let lang_context = LangContext { i18n: current, set: choose };
    html! {
        <ContextProvider<LangContext> context={lang_context}>
            <ContextProvider<SessionHandle> context={session}>
                <BrowserRouter>
                    <Switch<Route> render={switch} />
                </BrowserRouter>
            </ContextProvider<SessionHandle>>
        </ContextProvider<LangContext>>
    }
}

fn switch(route: Route) -> Html {
    match route {
        Route::SignIn => html! { <pages::auth::AuthPage register={false} /> },
        Route::Register => html! { <pages::auth::AuthPage register={true} /> },
        Route::NotFound => html! { <Layout><pages::not_found::NotFound /></Layout> },
        route => html! { <RequireUser {route} /> },
    }
}

#[derive(Properties, PartialEq)]
struct RequireUserProps {
    route: Route,
}

/// Pages for signed-in users: without a session, off to sign in, and back here afterwards.
#[component]
fn RequireUser(props: &RequireUserProps) -> Html {
    let session = use_session();
    let navigator = use_navigator().expect("inside the router");
    let location = use_location().expect("inside the router");
    let signed_out = *session == Session::SignedOut;
    use_effect_with(signed_out, move |signed_out| {
        if *signed_out {
            let next = format!("{}{}", location.path(), location.query_str());
            let _ = navigator.replace_with_query(&Route::SignIn, &[("next", next)]);
        }
    });
    let Some(user) = session.user() else {
        return html! { <div class="page-loading" aria-busy="true"></div> };
    };
    let admin_only =
        matches!(props.route, Route::Prompts | Route::Admin | Route::AdminUsers | Route::AdminConversations);
    let page = if admin_only && !user.is_admin {
        html! { <pages::not_found::Forbidden /> }
    } else {
        page(&props.route)
    };
    html! { <Layout>{ page }</Layout> }
}

fn page(route: &Route) -> Html {
    match route {
        Route::Home => html! { <pages::chat::ChatPage chat_id={None::<i64>} /> },
        Route::Chat { id } => html! { <pages::chat::ChatPage chat_id={Some(*id)} /> },
        Route::Characters => html! { <pages::characters::CharactersPage /> },
        Route::NewCharacter => html! { <pages::character_form::CharacterForm id={None::<i64>} /> },
        Route::EditCharacter { id } => html! { <pages::character_form::CharacterForm id={Some(*id)} /> },
        Route::Prompts => html! { <pages::prompts::PromptsPage /> },
        Route::Admin => html! { <pages::admin::AdminPage tab={pages::admin::Tab::Overview} /> },
        Route::AdminUsers => html! { <pages::admin::AdminPage tab={pages::admin::Tab::Users} /> },
        Route::AdminConversations => html! { <pages::admin::AdminPage tab={pages::admin::Tab::Conversations} /> },
        Route::SignIn | Route::Register | Route::NotFound => html! {},
    }
}
