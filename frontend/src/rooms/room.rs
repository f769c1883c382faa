//! One room, live: its header (name, character, who is here, whether the socket is up), the
//! messages as they come (the character's reply growing as it streams, as plain text), the
//! composer with the refusals of the server, and for admins Delete and Mute on each message.

use troupe_types::{Room, RoomMessage, RoomMessageKind};
use troupe_web::{
    conversation::{Composer, use_max_chars},
    format::local_time,
    i18n::{I18n, use_i18n},
    services::{ApiError, rooms},
    session::use_session,
};
use web_sys::HtmlElement;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{
    list::slow_mode_badge,
    live::{Change, Connection, Refusal, use_live_room},
    routes::Route,
};

/// How long "Mute" silences someone.
const MUTE_MINUTES: i64 = 10;

#[derive(Properties, PartialEq)]
pub struct RoomPageProps {
    pub id: i64,
}

#[component]
pub fn RoomPage(props: &RoomPageProps) -> Html {
    let i18n = use_i18n();
    let session = use_session();
    let (me, moderator) = session.user().map_or((None, false), |u| (Some(u.id), u.is_admin));
    let live = use_live_room(props.id);
    let state = live.state.clone();
    let max_chars = use_max_chars();
    let draft = use_state(String::new);
    let scroller = use_node_ref();
    // Follow the conversation down unless the user has scrolled up to read.
    let follow = use_mut_ref(|| true);
    {
        let (scroller, follow) = (scroller.clone(), follow.clone());
        let shape = (state.messages.len(), state.messages.last().map(|m| m.content.len()));
        use_effect_with(shape, move |_| {
            if let Some(el) = scroller.cast::<HtmlElement>()
                && *follow.borrow()
            {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    let onscroll = {
        let (scroller, follow) = (scroller.clone(), follow.clone());
        Callback::from(move |_: Event| {
            if let Some(el) = scroller.cast::<HtmlElement>() {
                *follow.borrow_mut() = el.scroll_height() - el.scroll_top() - el.client_height() < 80;
            }
        })
    };
    let on_send = {
        let (say, follow) = (live.say.clone(), follow.clone());
        Callback::from(move |words: String| {
            *follow.borrow_mut() = true;
            say.emit(words);
        })
    };
    let on_removed = {
        let dispatcher = state.dispatcher();
        Callback::from(move |id| dispatcher.dispatch(Change::Removed(id)))
    };

    if let Some(error) = &state.failure {
        return html! {
            <section class="page narrow" data-testid="room-view">
                <p class="form-error" role="alert" data-testid="room-error">{ i18n.error(error) }</p>
                <Link<Route> to={Route::List}>{ i18n.t("rooms.back") }</Link<Route>>
            </section>
        };
    }
    let message = |m: &RoomMessage| {
        // Others' words can be deleted and their authors muted; one's own only deleted.
        let mine = m.user_id.is_some() && m.user_id == me;
        html! {
            <RoomMessageView key={m.id} room_id={props.id} message={m.clone()} {mine} {moderator}
                on_removed={on_removed.clone()} />
        }
    };
    html! {
        <section class="room" data-testid="room-view">
            <RoomHead room={state.room.clone()} connection={state.connection} />
            <div class="messages" ref={scroller} {onscroll} role="log" aria-live="polite" data-testid="room-messages">
                if !state.loaded {
                    <p class="muted center">{ i18n.t("common.loading") }</p>
                } else if state.messages.is_empty() {
                    <p class="muted center">{ i18n.t("rooms.empty") }</p>
                }
                { for state.messages.iter().map(message) }
            </div>
            if state.connection == Connection::Gone {
                <p class="notice room-note" role="alert">{ i18n.t("rooms.gone") }</p>
            } else {
                if let Some(refusal) = &state.refusal {
                    <p class="form-error room-note" role="alert" data-testid="room-error">{ refusal_text(&i18n, refusal) }</p>
                }
                <Composer {draft} max={max_chars} streaming={false} disabled={state.connection != Connection::Open}
                    {on_send} on_stop={Callback::noop()} testid_prefix="room-" />
            }
        </section>
    }
}

/// A refusal in the reader's language, with the wait when the server named one.
fn refusal_text(i18n: &I18n, refusal: &Refusal) -> String {
    let wait = |key, secs: i64| i18n.tf(key, &[("secs", secs.to_string())]);
    match (refusal.code.as_str(), refusal.retry_after_secs) {
        ("slow_mode", Some(secs)) => wait("rooms.slow_mode_wait", secs),
        (_, Some(secs)) => wait("rooms.wait", secs),
        (code, None) => {
            i18n.error(&ApiError { status: 0, code: code.to_owned(), message: refusal.message.clone(), field: None })
        }
    }
}

#[derive(Properties, PartialEq)]
struct RoomHeadProps {
    room: Option<Room>,
    connection: Connection,
}

/// The room's name and character, who is here, and whether the socket is up.
#[component]
fn RoomHead(props: &RoomHeadProps) -> Html {
    let i18n = use_i18n();
    let (state, label) = match props.connection {
        Connection::Connecting => ("connecting", "rooms.connecting"),
        Connection::Open => ("open", "rooms.connected"),
        Connection::Reconnecting => ("reconnecting", "rooms.reconnecting"),
        Connection::Gone => ("closed", "rooms.closed"),
    };
    html! {
        <header class="room-head">
            <Link<Route> to={Route::List} classes="icon-button">
                <span aria-hidden="true">{ "‹" }</span>
                <span class="visually-hidden">{ i18n.t("rooms.back") }</span>
            </Link<Route>>
            <div class="room-title">
                if let Some(room) = &props.room {
                    <h1>{ room.name.clone() }</h1>
                    <span class="muted">{ room.character_name.clone() }</span>
                }
            </div>
            if let Some(room) = &props.room {
                { slow_mode_badge(&i18n, room) }
                <span class="room-participants" data-testid="room-participants" data-count={room.participants.to_string()}>
                    { i18n.tf("rooms.participants", &[("n", room.participants.to_string())]) }
                </span>
            }
            <span class={classes!("room-status", state)} role="status" data-testid="room-status" data-state={state}>
                { i18n.t(label) }
            </span>
        </header>
    }
}

#[derive(Properties, PartialEq)]
struct RoomMessageProps {
    room_id: i64,
    message: RoomMessage,
    /// Written by the reader.
    mine: bool,
    /// The reader is an admin: Delete and Mute.
    moderator: bool,
    on_removed: Callback<i64>,
}

/// One message: a person's (an admin's highlighted), the character's, or a line of the room's
/// own (who joined or left).
#[component]
fn RoomMessageView(props: &RoomMessageProps) -> Html {
    let i18n = use_i18n();
    let m = &props.message;
    let (kind, id) = (kind_name(m.kind), m.id.to_string());
    if m.kind == RoomMessageKind::System {
        let names = [("names", m.author.clone())];
        let text = match m.content.as_str() {
            "joined" => i18n.tf("rooms.joined", &names),
            "left" => i18n.tf("rooms.left", &names),
            other => other.to_owned(),
        };
        return html! { <p class="room-system" data-testid="room-message" data-kind={kind} data-id={id}>{ text }</p> };
    }
    let side = match (props.mine, m.kind) {
        (true, _) => "user",
        (false, RoomMessageKind::Character) => "assistant",
        (false, _) => "other",
    };
    let admin = m.kind == RoomMessageKind::Admin;
    // A mute is for someone else; the character has no user to mute.
    let mutable = m.user_id.filter(|_| !props.mine);
    html! {
        <div class={classes!("message", side, admin.then_some("room-admin"))} data-testid="room-message" data-kind={kind} data-id={id}>
            <span class="room-author">
                { m.author.clone() }
                if admin { <span class="badge">{ i18n.t("admin.admin_badge") }</span> }
            </span>
            if m.content.is_empty() {
                <div class="bubble typing" aria-label={i18n.t("chat.typing")}><span></span><span></span><span></span></div>
            } else {
                <div class="bubble" title={local_time(&m.created_at, i18n.lang.code())}>{ m.content.clone() }</div>
            }
            if props.moderator {
                <Moderation room_id={props.room_id} message_id={m.id} user_id={mutable} on_removed={props.on_removed.clone()} />
            }
        </div>
    }
}

/// The kind as the wire names it, for `data-kind`.
fn kind_name(kind: RoomMessageKind) -> &'static str {
    match kind {
        RoomMessageKind::User => "user",
        RoomMessageKind::Character => "character",
        RoomMessageKind::Admin => "admin",
        RoomMessageKind::System => "system",
    }
}

#[derive(Properties, PartialEq)]
struct ModerationProps {
    room_id: i64,
    message_id: i64,
    /// The author to mute, if there is one to mute.
    user_id: Option<i64>,
    on_removed: Callback<i64>,
}

/// An admin's tools on a message: delete it, mute its author for a while.
#[component]
fn Moderation(props: &ModerationProps) -> Html {
    let i18n = use_i18n();
    let muted = use_state(|| false);
    let error = use_state(|| None::<String>);
    let (room_id, message_id) = (props.room_id, props.message_id);
    let delete = {
        let (error, on_removed, i18n) = (error.clone(), props.on_removed.clone(), i18n.clone());
        Callback::from(move |_: MouseEvent| {
            let (error, on_removed, i18n) = (error.clone(), on_removed.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match rooms::delete_message(room_id, message_id).await {
                    Ok(()) => on_removed.emit(message_id),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let mute = |user_id: i64| {
        let (muted, error, i18n) = (muted.clone(), error.clone(), i18n.clone());
        Callback::from(move |_: MouseEvent| {
            let (muted, error, i18n) = (muted.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match rooms::mute(room_id, user_id, MUTE_MINUTES).await {
                    Ok(()) => muted.set(true),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    html! {
        <div class="room-tools">
            <button type="button" class="button ghost" onclick={delete} data-testid="room-delete">{ i18n.t("common.delete") }</button>
            if let Some(user_id) = props.user_id {
                <button type="button" class="button ghost" onclick={mute(user_id)} disabled={*muted} data-testid="room-mute">
                    { if *muted { i18n.t("rooms.muted") } else { i18n.tf("rooms.mute", &[("n", MUTE_MINUTES.to_string())]) } }
                </button>
            }
            if let Some(error) = &*error { <span class="field-error" role="alert">{ error.clone() }</span> }
        </div>
    }
}
