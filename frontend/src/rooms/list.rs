//! The rooms: each with its character, how many are in it now (read again every ten seconds
//! while the page is open) and its slow mode. Admins make, change and delete rooms here.

use std::rc::Rc;

use gloo_timers::callback::Interval;
use troupe_types::{Character, ReplyMode, Room};
use troupe_web::{
    hooks::{use_load, use_refresh},
    i18n::{I18n, use_i18n},
    services::{characters, rooms},
    session::use_session,
};
use yew::prelude::*;
use yew_router::prelude::*;

use super::{form::RoomForm, routes::Route};

const REFRESH_MS: u32 = 10_000;

#[component]
pub fn RoomsPage() -> Html {
    let i18n = use_i18n();
    let is_admin = use_session().user().is_some_and(|u| u.is_admin);
    let reload = use_refresh();
    let list = use_load(reload.0, |_| rooms::list());
    {
        let reload = reload.clone();
        use_effect_with((), move |_| {
            let timer = Interval::new(REFRESH_MS, move || reload.dispatch(()));
            move || drop(timer)
        });
    }
    // What an admin's forms offer; nobody else needs them.
    let choices = use_load(is_admin, |admin| async move {
        if admin { characters::choices().await.map(|list| list.items) } else { Ok(Vec::new()) }
    });
    let characters = choices.value().unwrap_or_default();
    let on_changed = {
        let reload = reload.clone();
        Callback::from(move |()| reload.dispatch(()))
    };
    let item = |room: &Room| {
        html! {
            <RoomItem key={room.id} room={room.clone()} {is_admin} characters={characters.clone()}
                on_changed={on_changed.clone()} />
        }
    };
    html! {
        <section class="page">
            <div class="page-head"><h1>{ i18n.t("rooms.title") }</h1></div>
            <p class="muted">{ i18n.t("rooms.intro") }</p>
            if is_admin {
                <details class="card room-new">
                    <summary>{ i18n.t("rooms.new") }</summary>
                    if let Some(error) = choices.error() { <p class="form-error" role="alert">{ i18n.error(error) }</p> }
                    <RoomForm room={None::<Room>} characters={characters.clone()}
                        on_saved={on_changed.reform(|_: Room| ())} />
                </details>
            }
            { match (list.value(), list.error()) {
                (Some(list), _) => html! {
                    <>
                        if list.items.is_empty() { <p class="muted">{ i18n.t("rooms.none") }</p> }
                        <ul class="card-grid" data-testid="room-list">{ for list.items.iter().map(item) }</ul>
                    </>
                },
                (None, Some(error)) => html! { <p class="form-error" role="alert">{ i18n.error(error) }</p> },
                (None, None) => html! { <p class="muted">{ i18n.t("common.loading") }</p> },
            } }
        </section>
    }
}

/// "Slow mode · 30 s", for a room that has it.
pub fn slow_mode_badge(i18n: &I18n, room: &Room) -> Html {
    if room.slow_mode_secs == 0 {
        return html! {};
    }
    html! {
        <span class="badge" data-testid="room-slow-mode">
            { i18n.tf("rooms.slow_mode_badge", &[("secs", room.slow_mode_secs.to_string())]) }
        </span>
    }
}

/// When the room's character answers, in words.
pub fn reply_mode_label(i18n: &I18n, mode: ReplyMode) -> String {
    i18n.t(match mode {
        ReplyMode::Mention => "rooms.reply_mention",
        ReplyMode::EveryMessage => "rooms.reply_every_message",
    })
}

#[derive(Properties, PartialEq)]
struct RoomItemProps {
    room: Room,
    is_admin: bool,
    characters: Rc<Vec<Character>>,
    /// A room was changed or deleted: read the list again.
    on_changed: Callback<()>,
}

/// A room's card: join it; admins also change or delete it.
#[component]
fn RoomItem(props: &RoomItemProps) -> Html {
    let i18n = use_i18n();
    let editing = use_state(|| false);
    let confirming = use_state(|| false);
    let error = use_state(|| None::<String>);
    let room = &props.room;
    let set = |flag: &UseStateHandle<bool>, value: bool| {
        let flag = flag.clone();
        Callback::from(move |_: MouseEvent| flag.set(value))
    };
    if *editing {
        let on_saved = {
            let (editing, on_changed) = (editing.clone(), props.on_changed.clone());
            Callback::from(move |_: Room| {
                editing.set(false);
                on_changed.emit(());
            })
        };
        let on_cancel = {
            let editing = editing.clone();
            Callback::from(move |()| editing.set(false))
        };
        return html! {
            <li class="card" data-testid="room-item" data-id={room.id.to_string()}>
                <RoomForm room={Some(room.clone())} characters={props.characters.clone()} {on_saved} {on_cancel} />
            </li>
        };
    }
    let delete = {
        let (id, error, on_changed, i18n) = (room.id, error.clone(), props.on_changed.clone(), i18n.clone());
        Callback::from(move |_: MouseEvent| {
            let (error, on_changed, i18n) = (error.clone(), on_changed.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match rooms::remove(id).await {
                    Ok(()) => on_changed.emit(()),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    html! {
        <li class="card room-card" data-testid="room-item" data-id={room.id.to_string()}>
            <div class="card-head">
                <h2><Link<Route> to={Route::Room { id: room.id }}>{ room.name.clone() }</Link<Route>></h2>
            </div>
            <p class="room-facts">
                <span>{ room.character_name.clone() }</span>
                <span class="room-participants" data-testid="room-participants" data-count={room.participants.to_string()}>
                    { i18n.tf("rooms.participants", &[("n", room.participants.to_string())]) }
                </span>
                { slow_mode_badge(&i18n, room) }
            </p>
            <p class="muted small">{ format!("{}: {}", i18n.t("rooms.reply_mode"), reply_mode_label(&i18n, room.reply_mode)) }</p>
            if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
            <div class="card-actions">
                <Link<Route> to={Route::Room { id: room.id }} classes="button primary">{ i18n.t("rooms.join") }</Link<Route>>
                if props.is_admin {
                    if *confirming {
                        <span class="confirm" role="alert">
                            { i18n.t("rooms.confirm_delete") }
                            <button class="button danger" onclick={delete}>{ i18n.t("common.delete") }</button>
                            <button class="button ghost" onclick={set(&confirming, false)}>{ i18n.t("common.cancel") }</button>
                        </span>
                    } else {
                        <button class="button ghost" onclick={set(&editing, true)}>{ i18n.t("rooms.edit") }</button>
                        <button class="button ghost danger-text" onclick={set(&confirming, true)}>{ i18n.t("common.delete") }</button>
                    }
                }
            </div>
        </li>
    }
}
