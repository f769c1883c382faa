//! Making a room or changing one (admins): its name, its character, its slow mode, and when the
//! character answers.

use std::rc::Rc;

use troupe_types::{
    Character, CreateRoom, ReplyMode, Room, UpdateRoom,
    rules::{ROOM_NAME_MAX_CHARS, ROOM_SLOW_MODE_MAX_SECS, check_slow_mode},
};
use troupe_web::{components::field::Field, i18n::use_i18n, services::rooms};
use yew::prelude::*;

use super::list::reply_mode_label;

#[derive(Properties, PartialEq)]
pub struct RoomFormProps {
    /// The room to change; `None`: a new one.
    pub room: Option<Room>,
    /// The characters to choose from.
    pub characters: Rc<Vec<Character>>,
    pub on_saved: Callback<Room>,
    /// Shows a Cancel button (changing a room; a new one's form simply folds away).
    #[prop_or_default]
    pub on_cancel: Option<Callback<()>>,
}

#[component]
pub fn RoomForm(props: &RoomFormProps) -> Html {
    let i18n = use_i18n();
    let room = props.room.clone();
    let name = use_state(|| room.as_ref().map(|r| r.name.clone()).unwrap_or_default());
    let character = use_state(|| room.as_ref().map(|r| r.character_id));
    let slow_mode = use_state(|| room.as_ref().map_or(0, |r| r.slow_mode_secs).to_string());
    let reply_mode = use_state(|| room.as_ref().map(|r| r.reply_mode).unwrap_or_default());
    let error = use_state(|| None::<String>);

    let name_chars = name.trim().chars().count();
    let name_error = (name_chars > ROOM_NAME_MAX_CHARS)
        .then(|| i18n.tf("rule.too_long", &[("max", ROOM_NAME_MAX_CHARS.to_string())]));
    let secs = slow_mode.trim().parse().ok().filter(|secs| check_slow_mode(*secs).is_ok());
    let slow_mode_error =
        secs.is_none().then(|| i18n.tf("rule.invalid_slow_mode", &[("max", ROOM_SLOW_MODE_MAX_SECS.to_string())]));
    let ready = name_chars > 0 && name_error.is_none() && character.is_some() && secs.is_some();
    // Each room's form has its own field ids: a new room's and a room's being changed can both be open.
    let ids = |field: &str| format!("room-{field}-{}", room.as_ref().map_or("new".to_owned(), |r| r.id.to_string()));

    let onsubmit = {
        let (name, character, reply_mode, error, i18n) =
            (name.clone(), character.clone(), reply_mode.clone(), error.clone(), i18n.clone());
        let (room, on_saved) = (room.clone(), props.on_saved.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (Some(character_id), Some(slow_mode_secs)) = (*character, secs) else { return };
            let name_value = name.trim().to_owned();
            let reply = *reply_mode;
            let (room, on_saved, name, error, i18n) =
                (room.clone(), on_saved.clone(), name.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let saved = match &room {
                    Some(room) => {
                        let change = UpdateRoom {
                            name: Some(name_value),
                            character_id: Some(character_id),
                            slow_mode_secs: Some(slow_mode_secs),
                            reply_mode: Some(reply),
                        };
                        rooms::update(room.id, &change).await
                    }
                    None => {
                        let new = CreateRoom { name: name_value, character_id, slow_mode_secs, reply_mode: reply };
                        rooms::create(&new).await
                    }
                };
                match saved {
                    Ok(saved) => {
                        error.set(None);
                        if room.is_none() {
                            name.set(String::new());
                        }
                        on_saved.emit(saved);
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let on_character = {
        let character = character.clone();
        Callback::from(move |e: Event| {
            character.set(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value().parse().ok())
        })
    };
    let on_reply_mode = {
        let reply_mode = reply_mode.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            reply_mode.set(if value == "every_message" { ReplyMode::EveryMessage } else { ReplyMode::Mention });
        })
    };
    // The room's own character may be one the picker's first page does not hold.
    let missing = room.as_ref().filter(|r| !props.characters.iter().any(|c| c.id == r.character_id));
    let setter = |state: &UseStateHandle<String>| {
        let state = state.clone();
        Callback::from(move |value: String| state.set(value))
    };
    html! {
        <form class="room-form" {onsubmit} novalidate=true data-testid="room-form">
            <div class="row">
                <Field id={ids("name")} label={i18n.t("form.name")} value={(*name).clone()} oninput={setter(&name)}
                    error={name_error} required=true />
                <div class="field">
                    <label for={ids("character")}>{ i18n.t("chat.character") }</label>
                    <select id={ids("character")} onchange={on_character} data-testid="room-character">
                        <option value="" disabled=true selected={character.is_none()}>{ i18n.t("rooms.pick_character") }</option>
                        if let Some(room) = missing {
                            <option value={room.character_id.to_string()} selected=true>{ room.character_name.clone() }</option>
                        }
                        { for props.characters.iter().map(|c| html! {
                            <option value={c.id.to_string()} selected={*character == Some(c.id)}>{ c.name.clone() }</option>
                        }) }
                    </select>
                </div>
            </div>
            <div class="row">
                <Field id={ids("slow-mode")} label={i18n.t("rooms.slow_mode")} kind="number" value={(*slow_mode).clone()}
                    oninput={setter(&slow_mode)} error={slow_mode_error} />
                <div class="field">
                    <label for={ids("reply-mode")}>{ i18n.t("rooms.reply_mode") }</label>
                    <select id={ids("reply-mode")} onchange={on_reply_mode} data-testid="room-reply-mode">
                        { for [ReplyMode::Mention, ReplyMode::EveryMessage].into_iter().map(|mode| html! {
                            <option value={if mode == ReplyMode::Mention { "mention" } else { "every_message" }}
                                selected={*reply_mode == mode}>{ reply_mode_label(&i18n, mode) }</option>
                        }) }
                    </select>
                </div>
            </div>
            if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
            <div class="form-actions">
                if let Some(on_cancel) = &props.on_cancel {
                    <button type="button" class="button ghost" onclick={on_cancel.reform(|_: MouseEvent| ())}>{ i18n.t("common.cancel") }</button>
                }
                <button type="submit" class="button primary" disabled={!ready} data-testid="room-save">
                    { i18n.t(if room.is_some() { "common.save" } else { "rooms.create" }) }
                </button>
            </div>
        </form>
    }
}
