//! The home page: the user's chats, the conversation, and the character's card. Three panes
//! side by side on a desktop; on a phone one at a time (list, or conversation with the card
//! opening over it).

mod card;
mod picker;

use troupe_types::Chat;
use troupe_web::conversation::{Conversation, use_max_chars};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    format::local_time,
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    routes::Route,
    services,
};

#[derive(Properties, PartialEq)]
pub struct ChatPageProps {
    pub chat_id: Option<i64>,
}

#[component]
pub fn ChatPage(props: &ChatPageProps) -> Html {
    let i18n = use_i18n();
    let navigator = use_navigator().expect("inside the router");
    let refresh = use_refresh();
    let picking = use_state(|| false);
    let show_card = use_state(|| false);
    let chats = use_load(refresh.0, |_| services::chats::list());
    let current = use_load((props.chat_id, refresh.0), |(id, _)| async move {
        match id {
            Some(id) => services::chats::fetch(id).await.map(Some),
            None => Ok(None),
        }
    });
    let max_chars = use_max_chars();
    {
        let show_card = show_card.clone();
        use_effect_with(props.chat_id, move |_| show_card.set(false));
    }

    let on_activity = {
        let refresh = refresh.clone();
        Callback::from(move |_| refresh.dispatch(()))
    };
    // The chat and the list load again, with the change.
    let on_chat_changed = {
        let refresh = refresh.clone();
        Callback::from(move |_: Chat| refresh.dispatch(()))
    };
    let open_picker = {
        let picking = picking.clone();
        Callback::from(move |_| picking.set(true))
    };
    let on_picked = {
        let (picking, navigator, refresh) = (picking.clone(), navigator.clone(), refresh.clone());
        Callback::from(move |chat: Option<Chat>| {
            picking.set(false);
            if let Some(chat) = chat {
                refresh.dispatch(());
                navigator.push(&Route::Chat { id: chat.id });
            }
        })
    };
    let on_opened = {
        let (navigator, refresh) = (navigator.clone(), refresh.clone());
        Callback::from(move |chat: Chat| {
            refresh.dispatch(());
            navigator.push(&Route::Chat { id: chat.id });
        })
    };
    let toggle_card = {
        let show_card = show_card.clone();
        Callback::from(move |_| show_card.set(!*show_card))
    };
    let on_delete = {
        let (navigator, refresh, chat_id) = (navigator.clone(), refresh.clone(), props.chat_id);
        Callback::from(move |_| {
            let (navigator, refresh) = (navigator.clone(), refresh.clone());
            let Some(id) = chat_id else { return };
            wasm_bindgen_futures::spawn_local(async move {
                if services::chats::remove(id).await.is_ok() {
                    refresh.dispatch(());
                    navigator.push(&Route::Home);
                }
            });
        })
    };
    let back = {
        let navigator = navigator.clone();
        Callback::from(move |_| navigator.push(&Route::Home))
    };

    // Only the chat this page is about, whatever answer came last.
    let current_chat = current.value().and_then(|chat| (*chat).clone()).filter(|chat| Some(chat.id) == props.chat_id);
    let layout = classes!("chat-layout", props.chat_id.map(|_| "has-chat"), show_card.then_some("show-card"),);
    let list = match chats.value() {
        None => html! { <p class="muted pad">{ i18n.t("common.loading") }</p> },
        Some(list) if list.items.is_empty() => html! { <p class="muted pad">{ i18n.t("chat.no_chats") }</p> },
        Some(list) => html! {
            <ul class="chat-list">
                { for list.items.iter().map(|chat| {
                    let active = props.chat_id == Some(chat.id);
                    html! {
                        <li key={chat.id}>
                            <Link<Route> to={Route::Chat { id: chat.id }} classes={classes!("chat-item", active.then_some("active"))}>
                                <span class="chat-item-name">{ chat.character_name.clone() }</span>
                                <span class="chat-item-meta" title={local_time(&chat.last_message_at, i18n.lang.code())}>
                                    { i18n.tf("chat.message_count", &[("n", chat.message_count.to_string())]) }
                                </span>
                            </Link<Route>>
                        </li>
                    }
                }) }
            </ul>
        },
    };
    html! {
        <div class={layout}>
            <aside class="pane chats-pane" aria-label={i18n.t("chat.your_chats")}>
                <div class="pane-head">
                    <h2>{ i18n.t("chat.your_chats") }</h2>
                    <button class="button primary" onclick={open_picker} data-testid="new-chat">{ i18n.t("chat.new_chat") }</button>
                </div>
                { list }
            </aside>
            <section class="pane conversation-pane">
                if let Some(id) = props.chat_id {
                    <Conversation key={id} chat_id={id} chat={current_chat.clone()} {max_chars}
                        {on_activity} embedded={false} on_back={back} on_card={toggle_card.clone()} {on_delete} {on_opened} />
                } else {
                    <div class="empty-state">
                        <h1>{ i18n.t("chat.welcome") }</h1>
                        <p class="muted">{ i18n.t("chat.pick_hint") }</p>
                    </div>
                }
            </section>
            <aside class="pane card-pane" aria-label={i18n.t("chat.character")}>
                if let Some(chat) = &current_chat {
                    <card::CharacterCard chat={chat.clone()} on_changed={on_chat_changed} on_close={toggle_card} />
                }
            </aside>
            if *picking {
                <picker::CharacterPicker on_done={on_picked} />
            }
        </div>
    }
}
