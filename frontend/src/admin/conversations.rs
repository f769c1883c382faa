//! The history browser: every chat on the server, filtered, and its messages.

use troupe_types::{AdminChat, MessageList, Role};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    components::pager::{Pager, page_count},
    format::{local_time, thousands},
    hooks::use_load,
    i18n::{I18n, use_i18n},
    routes::Route,
    services::admin::{self, ConversationFilter, USER_PAGE},
};

#[component]
pub fn Conversations() -> Html {
    let i18n = use_i18n();
    let location = use_location().expect("inside the router");
    let navigator = use_navigator().expect("inside the router");
    let filter =
        use_state(|| ConversationFilter { page: 1, ..location.query::<ConversationFilter>().unwrap_or_default() });
    // The filters stay in the address, so a filtered list can be linked to and reloaded.
    use_effect_with((*filter).clone(), move |filter| {
        let _ = navigator.replace_with_query(&Route::Conversations, filter);
    });
    let list = use_load((*filter).clone(), |filter| async move { admin::conversations(&filter).await });
    let error = list.error().map(|e| i18n.error(e));
    let list = list.value();
    let open = use_state(|| None::<(i64, MessageList)>);
    let change = |change: fn(&mut ConversationFilter, String)| {
        let filter = filter.clone();
        Callback::from(move |value: String| {
            let mut next = (*filter).clone();
            change(&mut next, value);
            next.page = 1;
            filter.set(next);
        })
    };
    let set = |edit: fn(&mut ConversationFilter, String)| {
        change(edit).reform(|e: Event| e.target_unchecked_into::<web_sys::HtmlInputElement>().value())
    };
    let show = |chat_id: i64| {
        let open = open.clone();
        Callback::from(move |_| {
            let open = open.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(page) = admin::chat_messages(chat_id, None).await {
                    open.set(Some((chat_id, page)));
                }
            });
        })
    };
    let load_older = {
        let open = open.clone();
        Callback::from(move |_| {
            let Some((chat_id, shown)) = (*open).clone() else { return };
            let open = open.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(mut page) = admin::chat_messages(chat_id, shown.next_before_id).await {
                    page.items.extend(shown.items);
                    open.set(Some((chat_id, page)));
                }
            });
        })
    };
    let clear_user = {
        let filter = filter.clone();
        Callback::from(move |_| filter.set(ConversationFilter { user_id: None, ..(*filter).clone() }))
    };
    let pages = list.as_ref().map_or(1, |l| page_count(l.total, USER_PAGE));
    let go = {
        let filter = filter.clone();
        Callback::from(move |page| filter.set(ConversationFilter { page, ..(*filter).clone() }))
    };
    html! {
        <div class="stack">
            <div class="toolbar">
                <input type="search" class="search" value={filter.q.clone()} onchange={set(|f, v| f.q = v)}
                    placeholder={i18n.t("admin.search_conversations")} aria-label={i18n.t("admin.search_conversations")} />
                <div class="field inline"><label for="conv-from">{ i18n.t("admin.from") }</label>
                    <input id="conv-from" type="date" value={filter.from.clone()} onchange={set(|f, v| f.from = v)} /></div>
                <div class="field inline"><label for="conv-to">{ i18n.t("admin.to") }</label>
                    <input id="conv-to" type="date" value={filter.to.clone()} onchange={set(|f, v| f.to = v)} /></div>
                <SystemFilter value={filter.system_id.clone()} on_change={change(|f, v| f.system_id = v)} />
                <input type="search" value={filter.external_user_id.clone()} onchange={set(|f, v| f.external_user_id = v)}
                    placeholder={i18n.t("admin.conversations.external_user")} aria-label={i18n.t("admin.conversations.external_user")} />
                if let Some(user_id) = filter.user_id {
                    <button class="tag active" onclick={clear_user} aria-label={i18n.t("admin.clear_user")}>{ i18n.tf("admin.user_filter", &[("id", user_id.to_string())]) }{ " ×" }</button>
                }
                <a class="button ghost" href={admin::conversations_export_url(&filter, "csv")} download="" data-testid="export-csv">{ i18n.t("admin.conversations.export_csv") }</a>
                <a class="button ghost" href={admin::conversations_export_url(&filter, "json")} download="" data-testid="export-json">{ i18n.t("admin.conversations.export_json") }</a>
            </div>
            if let Some(error) = &error { <p class="form-error" role="alert">{ error.clone() }</p> }
            <div class="table-scroll">
                <table>
                    <thead><tr>
                        <th scope="col">{ i18n.t("auth.username") }</th>
                        <th scope="col">{ i18n.t("chat.character") }</th>
                        <th scope="col">{ i18n.t("chat.model") }</th>
                        <th scope="col">{ i18n.t("admin.last_active") }</th>
                        <th scope="col" class="num">{ i18n.t("admin.messages") }</th>
                        <th scope="col" class="num">{ i18n.t("admin.tokens") }</th>
                        <th scope="col"><span class="visually-hidden">{ i18n.t("admin.actions") }</span></th>
                    </tr></thead>
                    <tbody>
                        { for list.iter().flat_map(|l| l.items.iter()).map(|c| html! {
                            <tr key={c.id} class={classes!((open.as_ref().map(|(id, _)| *id) == Some(c.id)).then_some("selected"))}>
                                <td>{ c.username.clone() }{ system_badge(&i18n, c) }</td>
                                <td>{ c.character_name.clone() }</td>
                                <td class="muted small">{ c.model.clone() }</td>
                                <td class="muted small">{ local_time(&c.last_message_at, i18n.lang.code()) }</td>
                                <td class="num">{ thousands(c.message_count) }</td>
                                <td class="num">{ thousands(c.total_tokens) }</td>
                                <td><button class="button ghost" onclick={show(c.id)}>{ i18n.t("admin.read") }</button></td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            </div>
            <Pager page={filter.page} {pages} on_go={go} />
            if let Some((_, shown)) = &*open {
                <section class="card transcript" aria-label={i18n.t("admin.transcript")}>
                    <h2>{ i18n.t("admin.transcript") }</h2>
                    if shown.next_before_id.is_some() {
                        <button class="button ghost" onclick={load_older}>{ i18n.t("admin.load_older") }</button>
                    }
                    { for shown.items.iter().map(|m| html! {
                        <div class={classes!("message", if m.role == Role::User { "user" } else { "assistant" })} key={m.id}>
                            <div class="bubble">{ m.content.clone() }</div>
                            <div class="message-meta">
                                <span>{ local_time(&m.created_at, i18n.lang.code()) }</span>
                                // The version shown in the chat, of how many the user had written.
                                if m.alternative_count > 1 {
                                    <span data-testid="transcript-alternative" title={i18n.t("admin.alternative")}>
                                        { format!("{}/{}", m.alternative_index + 1, m.alternative_count) }
                                    </span>
                                }
                                if m.edited_at.is_some() { <span>{ i18n.t("message.edited") }</span> }
                            </div>
                        </div>
                    }) }
                </section>
            }
        </div>
    }
}

/// For an external user's chat: which system the user came through.
fn system_badge(i18n: &I18n, chat: &AdminChat) -> Html {
    let Some(system) = &chat.system_id else { return html! {} };
    let title = i18n.tf("admin.conversations.from_system", &[("system", system.clone())]);
    html! { <span class="badge" {title}>{ system.clone() }</span> }
}

#[derive(Properties, PartialEq)]
struct SystemFilterProps {
    /// A system's id; empty: all.
    value: String,
    on_change: Callback<String>,
}

/// Chats of one connected system's users, or of everyone.
#[component]
fn SystemFilter(props: &SystemFilterProps) -> Html {
    let i18n = use_i18n();
    let systems = use_load((), |_| admin::systems());
    let systems = systems.value().map(|list| list.items.clone()).unwrap_or_default();
    let onchange = props.on_change.reform(|e: Event| e.target_unchecked_into::<web_sys::HtmlSelectElement>().value());
    html! {
        <select {onchange} aria-label={i18n.t("admin.conversations.system")} data-testid="system-filter">
            <option value="" selected={props.value.is_empty()}>{ i18n.t("admin.conversations.all_systems") }</option>
            { for systems.iter().map(|s| html! {
                <option value={s.id.clone()} selected={s.id == props.value}>{ format!("{} ({})", s.name, s.id) }</option>
            }) }
        </select>
    }
}
