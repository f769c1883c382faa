//! The embed's one screen: a slim header (the character, the user's earlier conversations with
//! them, a new chat) over the conversation, which fills the frame.

use troupe_types::{Chat, ChatList};
use troupe_web::{
    conversation::{Conversation, use_max_chars},
    format::local_time_short,
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    services::{self, ApiResult},
};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use crate::PageFacts;

/// A sentence filling the frame, in place of the chat.
pub fn notice(text: String) -> Html {
    html! { <div class="embed-notice" role="alert" data-testid="embed-notice"><p>{ text }</p></div> }
}

#[derive(Properties, PartialEq)]
pub struct EmbedChatProps {
    pub page: PageFacts,
}

#[component]
pub fn EmbedChat(props: &EmbedChatProps) -> Html {
    let i18n = use_i18n();
    let refresh = use_refresh();
    let max_chars = use_max_chars();
    let first = use_load(props.page.character_id, first_chat);
    // A chat opened here since: an earlier one picked from the list, or one just started.
    let opened = use_state(|| None::<Chat>);
    let starting = use_state(|| false);
    let error = use_state(|| None::<String>);
    let current = (*opened).clone().or_else(|| first.value().and_then(|chat| (*chat).clone()));
    // The list waits for the first chat, which may be a new one.
    let chats = use_load((refresh.0, current.is_some()), |(_, ready)| async move {
        if ready { services::chats::list().await } else { Ok(ChatList { items: Vec::new(), total: 0 }) }
    });
    {
        let names = (current.as_ref().map(|chat| chat.character_name.clone()), props.page.system.clone());
        use_effect_with(names, |(character, system)| set_title(character.as_deref(), system.as_deref()));
    }

    let Some(chat) = current else {
        return match (first.value(), first.error()) {
            (Some(_), _) => notice(i18n.t("embed.no_character")),
            // A 401 ends the session, and the page says the link has expired instead.
            (None, Some(e)) => notice(i18n.error(e)),
            (None, None) => html! { <div class="page-loading" aria-busy="true"></div> },
        };
    };
    // Whose conversations these are: the page's character, else the one of the chat shown.
    let character_id = props.page.character_id.unwrap_or(chat.character_id);
    let mut earlier: Vec<Chat> = chats
        .value()
        .map(|list| list.items.iter().filter(|c| c.character_id == character_id).cloned().collect())
        .unwrap_or_default();
    // A chat just started is shown before the list has it.
    if !earlier.iter().any(|c| c.id == chat.id) {
        earlier.insert(0, chat.clone());
    }

    let pick = {
        let (opened, error, earlier) = (opened.clone(), error.clone(), earlier.clone());
        Callback::from(move |e: Event| {
            let id = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Some(chat) = earlier.iter().find(|chat| chat.id.to_string() == id) {
                error.set(None);
                opened.set(Some(chat.clone()));
            }
        })
    };
    // A chat just started, here or by branching off a message: shown at once, and listed.
    let on_opened = {
        let (opened, refresh) = (opened.clone(), refresh.clone());
        Callback::from(move |chat: Chat| {
            opened.set(Some(chat));
            refresh.dispatch(());
        })
    };
    let start_new = {
        let (starting, error, on_opened, i18n) = (starting.clone(), error.clone(), on_opened.clone(), i18n.clone());
        Callback::from(move |_: MouseEvent| {
            starting.set(true);
            error.set(None);
            let (starting, error, on_opened, i18n) = (starting.clone(), error.clone(), on_opened.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::chats::create(character_id).await {
                    Ok(chat) => on_opened.emit(chat),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
                starting.set(false);
            });
        })
    };
    let on_activity = Callback::from(move |()| refresh.dispatch(()));
    let earlier_label = i18n.t("embed.earlier");
    html! {
        <div class="embed">
            <header class="embed-head">
                <h1 class="embed-title">{ chat.character_name.clone() }</h1>
                if earlier.len() > 1 {
                    <select class="embed-chats" onchange={pick} aria-label={earlier_label.clone()} title={earlier_label}
                        data-testid="earlier-chats">
                        { for earlier.iter().map(|c| html! {
                            <option key={c.id} value={c.id.to_string()} selected={c.id == chat.id}>
                                { format!("{} · {}", local_time_short(&c.last_message_at, i18n.lang.code()),
                                    i18n.tf("chat.message_count", &[("n", c.message_count.to_string())])) }
                            </option>
                        }) }
                    </select>
                }
                <button class="button primary embed-new" onclick={start_new} disabled={*starting} data-testid="new-chat">
                    { i18n.t("chat.new_chat") }
                </button>
            </header>
            if let Some(error) = &*error {
                <p class="form-error embed-error" role="alert">{ error.clone() }</p>
            }
            <Conversation key={chat.id} chat_id={chat.id} chat={Some(chat.clone())} {max_chars} embedded=true {on_activity}
                on_back={Callback::noop()} on_card={Callback::noop()} on_delete={Callback::noop()} {on_opened} />
        </div>
    }
}

/// The chat to open with: with a character, the newest chat with them, or a new one when
/// there is none yet; without, the newest chat of all (`None` when there is none).
async fn first_chat(character_id: Option<i64>) -> ApiResult<Option<Chat>> {
    // Newest first, as the server lists them.
    let chats = services::chats::list().await?.items;
    match character_id {
        Some(id) => match chats.into_iter().find(|chat| chat.character_id == id) {
            Some(chat) => Ok(Some(chat)),
            None => services::chats::create(id).await.map(Some),
        },
        None => Ok(chats.into_iter().next()),
    }
}

/// The frame's title: the character's and the system's names, as far as they are known.
fn set_title(character: Option<&str>, system: Option<&str>) {
    let names: Vec<&str> = character.into_iter().chain(system).collect();
    if let (false, Some(document)) = (names.is_empty(), web_sys::window().and_then(|w| w.document())) {
        document.set_title(&names.join(" · "));
    }
}
