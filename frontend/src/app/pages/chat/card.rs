//! The right pane: who the user is talking to, and which model answers.

use troupe_types::{Character, Chat, Model};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    components::avatar::{Avatar, picture_of},
    hooks::use_load,
    i18n::use_i18n,
    routes::Route,
    services,
    session::use_session,
};

#[derive(Properties, PartialEq)]
pub struct CardProps {
    pub chat: Chat,
    pub on_changed: Callback<Chat>,
    pub on_close: Callback<MouseEvent>,
}

#[component]
pub fn CharacterCard(props: &CardProps) -> Html {
    let i18n = use_i18n();
    let session = use_session();
    let character = use_load(props.chat.character_id, services::characters::fetch);
    let character: Option<Character> = character.value().map(|c| (*c).clone());
    let models = use_load((), |()| services::characters::models());
    let models: Vec<Model> = models.value().map(|list| list.items.clone()).unwrap_or_default();
    let error = use_state(|| None::<String>);
    let onchange = {
        let (chat_id, on_changed, error, i18n) = (props.chat.id, props.on_changed.clone(), error.clone(), i18n.clone());
        Callback::from(move |e: Event| {
            let model = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            let (on_changed, error, i18n) = (on_changed.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::chats::set_model(chat_id, model).await {
                    Ok(chat) => {
                        error.set(None);
                        on_changed.emit(chat);
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let personas = use_load((), |()| services::personas::list());
    let personas = personas.value().map(|list| (*list).clone()).unwrap_or_default();
    let on_persona = {
        let (chat_id, on_changed, error, i18n) = (props.chat.id, props.on_changed.clone(), error.clone(), i18n.clone());
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            let persona = value.parse::<i64>().ok();
            let (on_changed, error, i18n) = (on_changed.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::chats::set_persona(chat_id, persona).await {
                    Ok(chat) => {
                        error.set(None);
                        on_changed.emit(chat);
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let books = use_load((), |()| services::lorebooks::list());
    let books = books.value().map(|list| (*list).clone()).unwrap_or_default();
    let toggle_book = |id: i64| {
        let (chat, on_changed, error, i18n) =
            (props.chat.clone(), props.on_changed.clone(), error.clone(), i18n.clone());
        Callback::from(move |_: Event| {
            let mut ids = chat.lorebook_ids.clone();
            match ids.iter().position(|&b| b == id) {
                Some(at) => drop(ids.remove(at)),
                None => ids.push(id),
            }
            let (chat_id, on_changed, error, i18n) = (chat.id, on_changed.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::lorebooks::attach(chat_id, ids).await {
                    Ok(chat) => {
                        error.set(None);
                        on_changed.emit(chat);
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let default_name = personas.iter().find(|p| p.is_default).map(|p| p.name.clone());
    let mine = character.as_ref().zip(session.user()).is_some_and(|(c, u)| c.owner_id == u.id);
    html! {
        <div class="character-card">
            <button class="icon-button narrow-only close-card" onclick={props.on_close.clone()} aria-label={i18n.t("common.close")}>{ "×" }</button>
            if let Some(c) = &character {
                <Avatar name={c.name.clone()} url={picture_of(c)} large=true />
                <h2>{ c.name.clone() }</h2>
                <p class="description">{ c.description.clone() }</p>
                if !c.scenario.is_empty() {
                    <h3>{ i18n.t("form.scenario") }</h3>
                    <p class="muted">{ c.scenario.clone() }</p>
                }
                <div class="tags">{ for c.tags.iter().map(|t| html! { <span class="tag static">{ t.clone() }</span> }) }</div>
                if mine {
                    <Link<Route> to={Route::EditCharacter { id: c.id }} classes="button ghost">{ i18n.t("characters.edit") }</Link<Route>>
                }
            } else {
                <h2>{ props.chat.character_name.clone() }</h2>
            }
            <div class="field">
                <label for="chat-model">{ i18n.t("chat.model") }</label>
                <select id="chat-model" {onchange} data-testid="model-select">
                    { for models.iter().map(|m| html! {
                        <option value={m.id.clone()} selected={m.id == props.chat.model}>{ m.display_name.clone() }</option>
                    }) }
                </select>
            </div>
            <div class="field">
                <label for="chat-persona">{ i18n.t("personas.you_are") }</label>
                <select id="chat-persona" onchange={on_persona} data-testid="persona-select">
                    <option value="" selected={props.chat.persona_id.is_none()}>
                        { i18n.tf("personas.default_choice", &[("name", default_name.unwrap_or_else(|| session.user().map(|u| u.username.clone()).unwrap_or_default()))]) }
                    </option>
                    { for personas.iter().map(|p| html! {
                        <option value={p.id.to_string()} selected={props.chat.persona_id == Some(p.id)}>{ p.name.clone() }</option>
                    }) }
                </select>
            </div>
            if !books.is_empty() {
                <fieldset class="field">
                    <legend>{ i18n.t("lorebooks.in_this_chat") }</legend>
                    { for books.iter().map(|b| html! {
                        <label class="check" key={b.id}>
                            <input type="checkbox" checked={props.chat.lorebook_ids.contains(&b.id)} onchange={toggle_book(b.id)} />
                            { b.name.clone().unwrap_or_else(|| i18n.t("lorebooks.untitled")) }
                        </label>
                    }) }
                </fieldset>
            }
            if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
        </div>
    }
}
