//! One conversation: its messages (older ones load when scrolling up), the reply streaming in,
//! and the composer. `thread` loads, `streaming` runs turns, `view` draws. The main app shows it
//! on its chat page; the embed app (another product's page, on a chat token) on its own.

mod chat_menu;
mod streaming;
mod thread;
mod view;

use troupe_types::{Chat, rules::DEFAULT_MAX_MESSAGE_CHARS};
use web_sys::HtmlElement;
use yew::prelude::*;

use self::{
    chat_menu::ChatMenu,
    streaming::{Turns, use_turns},
    thread::{load_older, use_thread},
    view::{MessageView, failed_turn, streaming_reply, trash_icon},
};
// The live rooms' app writes with the same composer.
pub use self::view::Composer;
use crate::{hooks::use_load, i18n::use_i18n, services};

/// Characters a message may hold: the server's limit once it has said (asked once per page),
/// its default until then. For [`ConversationProps::max_chars`].
#[hook]
pub fn use_max_chars() -> usize {
    let limits = use_load((), |()| services::chats::limits());
    limits.value().and_then(|l| usize::try_from(l.max_message_chars).ok()).unwrap_or(DEFAULT_MAX_MESSAGE_CHARS)
}

#[derive(Properties, PartialEq)]
pub struct ConversationProps {
    pub chat_id: i64,
    pub chat: Option<Chat>,
    /// Characters a message may hold on this server.
    pub max_chars: usize,
    /// A turn ended: the chat list may have changed.
    pub on_activity: Callback<()>,
    /// Inside another product's page (the embed app), on a chat token: no header, since that
    /// page has its own, and so none of its tools: back to the list, the character's card (a
    /// chat token cannot read characters), the chat's file menu (a download link carries no
    /// token) and deleting the chat. `on_back`, `on_card` and `on_delete` are then never called.
    pub embedded: bool,
    pub on_back: Callback<MouseEvent>,
    pub on_card: Callback<MouseEvent>,
    pub on_delete: Callback<()>,
    /// A new chat came out of this one (a branch) or a file (an import): open it.
    pub on_opened: Callback<Chat>,
}

#[component]
pub fn Conversation(props: &ConversationProps) -> Html {
    let i18n = use_i18n();
    let chat_id = props.chat_id;
    let (thread, load_error) = use_thread(chat_id);
    let draft = use_state(String::new);
    let scroller = use_node_ref();
    // Follow the reply down unless the user has scrolled up to read.
    let follow = use_mut_ref(|| true);
    // The scroll height before older messages were put on top, to keep the view still.
    let height_before_older = use_mut_ref(|| None::<i32>);
    let loading_older = use_mut_ref(|| false);
    let confirming_delete = use_state(|| false);
    let on_sent = {
        let follow = follow.clone();
        Callback::from(move |()| *follow.borrow_mut() = true)
    };
    let Turns { send, regenerate, stop } = use_turns(chat_id, &thread, on_sent, props.on_activity.clone());
    {
        let (scroller, follow, height_before_older) = (scroller.clone(), follow.clone(), height_before_older.clone());
        let shape = (thread.messages.len(), thread.streaming.as_ref().map(String::len), thread.failure.is_some());
        use_effect_with(shape, move |_| {
            if let Some(el) = scroller.cast::<HtmlElement>() {
                if let Some(before) = height_before_older.borrow_mut().take() {
                    el.set_scroll_top(el.scroll_height() - before);
                } else if *follow.borrow() {
                    el.set_scroll_top(el.scroll_height());
                }
            }
        });
    }

    let onscroll = {
        let (scroller, follow, thread) = (scroller.clone(), follow.clone(), thread.clone());
        Callback::from(move |_: Event| {
            let Some(el) = scroller.cast::<HtmlElement>() else { return };
            *follow.borrow_mut() = el.scroll_height() - el.scroll_top() - el.client_height() < 80;
            let Some(before_id) = thread.older.filter(|_| el.scroll_top() < 60 && !*loading_older.borrow()) else {
                return;
            };
            *loading_older.borrow_mut() = true;
            *height_before_older.borrow_mut() = Some(el.scroll_height());
            let loading_older = loading_older.clone();
            load_older(chat_id, before_id, thread.dispatcher(), move || *loading_older.borrow_mut() = false);
        })
    };
    let ask_delete = |ask: bool| {
        let confirming_delete = confirming_delete.clone();
        Callback::from(move |_| confirming_delete.set(ask))
    };
    let delete = props.on_delete.reform(|_: MouseEvent| ());
    let streaming = thread.streaming.is_some();
    let title = props.chat.as_ref().map(|c| c.character_name.clone()).unwrap_or_default();
    // Inside another product's page, that page's own header stands in for this one.
    let head = if props.embedded {
        html! {}
    } else {
        html! {
            <header class="conversation-head">
                <button class="icon-button phone-only" onclick={props.on_back.clone()} aria-label={i18n.t("chat.back")}>{ "‹" }</button>
                <h1 class="conversation-title">{ title }</h1>
                if *confirming_delete {
                    <span class="confirm" role="alert">
                        { i18n.t("chat.confirm_delete") }
                        <button class="button danger" onclick={delete}>{ i18n.t("common.delete") }</button>
                        <button class="button ghost" onclick={ask_delete(false)}>{ i18n.t("common.cancel") }</button>
                    </span>
                } else {
                    <button class="button ghost narrow-only" onclick={props.on_card.clone()}>{ i18n.t("chat.character") }</button>
                    if let Some(chat) = &props.chat {
                        <ChatMenu chat={chat.clone()} on_imported={props.on_opened.clone()} />
                    }
                    <button class="icon-button danger-text" onclick={ask_delete(true)} aria-label={i18n.t("chat.delete")} title={i18n.t("chat.delete")}>{ trash_icon() }</button>
                }
            </header>
        }
    };
    html! {
        <div class="conversation">
            { head }
            <div class="messages" ref={scroller} {onscroll} role="log" aria-live="polite" aria-busy={streaming.to_string()} data-testid="messages">
                if thread.older.is_some() {
                    <p class="muted center">{ i18n.t("chat.scroll_for_older") }</p>
                }
                if let Some(error) = &load_error {
                    <p class="form-error">{ error.clone() }</p>
                } else if !thread.loaded {
                    <p class="muted center">{ i18n.t("common.loading") }</p>
                }
                { for thread.messages.iter().filter(|m| thread.regenerating != Some(m.id)).map(|m| html! {
                    <MessageView key={m.id} {chat_id} message={m.clone()} max_chars={props.max_chars}
                        regenerable={thread.can_regenerate(m)} busy={streaming} thread={thread.dispatcher()}
                        on_regenerate={regenerate.clone()} on_branched={props.on_opened.clone()} />
                }) }
                if let Some(text) = &thread.streaming {
                    { streaming_reply(&i18n, text) }
                }
                if let Some(failure) = &thread.failure {
                    { failed_turn(&i18n, failure, &send) }
                }
            </div>
            <Composer draft={draft.clone()} {streaming} max={props.max_chars} on_send={send} on_stop={stop} />
        </div>
    }
}
