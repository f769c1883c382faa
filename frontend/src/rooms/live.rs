//! A room, live: its latest messages over HTTP, then its socket, opened again after a pause
//! that doubles (1 s to 30 s) whenever it drops, always from the newest message held.

use std::rc::Rc;

use futures::{
    FutureExt, StreamExt,
    channel::{mpsc, oneshot},
    future::Either,
};
use gloo_timers::future::TimeoutFuture;
use troupe_types::{Room, RoomMessage, RoomMessageKind, ServerFrame};
use troupe_web::services::{
    ApiError,
    rooms::{self, RoomSocket},
};
use yew::prelude::*;

const FIRST_PAUSE_MS: u32 = 1_000;
const LONGEST_PAUSE_MS: u32 = 30_000;

/// The room's socket, as the header shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Connection {
    #[default]
    Connecting,
    Open,
    Reconnecting,
    /// The room was deleted: nothing more will come.
    Gone,
}

/// What the server refused of this user (an `error` frame), shown by the composer.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub code: String,
    pub message: String,
    pub retry_after_secs: Option<i64>,
}

/// Everything the room page shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Live {
    pub room: Option<Room>,
    /// Oldest first (ordered by id).
    pub messages: Vec<RoomMessage>,
    pub loaded: bool,
    pub connection: Connection,
    /// The room or its messages could not be loaded.
    pub failure: Option<ApiError>,
    pub refusal: Option<Refusal>,
}

pub enum Change {
    Loaded(Room, Vec<RoomMessage>),
    Room(Room),
    Connection(Connection),
    Frame(ServerFrame),
    Failed(ApiError),
    /// An admin deleted this message here: gone at once, whether or not its frame follows.
    Removed(i64),
    /// The user writes again: the last refusal is old news.
    Sending,
}

impl Reducible for Live {
    type Action = Change;

    fn reduce(self: Rc<Self>, change: Change) -> Rc<Self> {
        let mut next = Rc::unwrap_or_clone(self);
        match change {
            Change::Loaded(room, messages) => {
                next.room = Some(room);
                next.messages = messages;
                next.loaded = true;
            }
            Change::Room(room) => next.room = Some(room),
            Change::Connection(connection) => next.connection = connection,
            Change::Frame(frame) => next.apply(frame),
            Change::Failed(error) => next.failure = Some(error),
            Change::Removed(id) => next.messages.retain(|m| m.id != id),
            Change::Sending => next.refusal = None,
        }
        Rc::new(next)
    }
}

impl Live {
    fn apply(&mut self, frame: ServerFrame) {
        match frame {
            // A new message, or a newer version of one held (the character's reply, finished).
            ServerFrame::Message { message } => match self.messages.binary_search_by_key(&message.id, |m| m.id) {
                Ok(at) => self.messages[at] = message,
                Err(at) => self.messages.insert(at, message),
            },
            ServerFrame::Delta { message_id, text } => {
                if let Some(message) = self.messages.iter_mut().rev().find(|m| m.id == message_id) {
                    message.content.push_str(&text);
                }
            }
            ServerFrame::Presence { participants } => {
                if let Some(room) = &mut self.room {
                    room.participants = participants;
                }
            }
            ServerFrame::Deleted { message_id } => self.messages.retain(|m| m.id != message_id),
            ServerFrame::Error { code, message, retry_after_secs } => {
                self.refusal = Some(Refusal { code, message, retry_after_secs });
            }
        }
    }
}

/// The room's state, and how to say something in it.
pub struct LiveRoom {
    pub state: UseReducerHandle<Live>,
    pub say: Callback<String>,
}

#[hook]
pub fn use_live_room(id: i64) -> LiveRoom {
    let state = use_reducer(Live::default);
    // The user's words on their way to the socket; the task below holds the other end.
    let outbox = use_mut_ref(|| None::<mpsc::UnboundedSender<String>>);
    {
        let (dispatcher, outbox) = (state.dispatcher(), outbox.clone());
        use_effect_with(id, move |&id| {
            let (sender, receiver) = mpsc::unbounded();
            *outbox.borrow_mut() = Some(sender);
            // Dropping `stop` (the page goes away) drops the task, and with it the socket.
            let (stop, stopped) = oneshot::channel::<()>();
            wasm_bindgen_futures::spawn_local(async move {
                let following = std::pin::pin!(follow(id, dispatcher, receiver));
                futures::future::select(following, stopped).await;
            });
            move || drop(stop)
        });
    }
    let say = {
        let dispatcher = state.dispatcher();
        Callback::from(move |words: String| {
            dispatcher.dispatch(Change::Sending);
            if let Some(sender) = &*outbox.borrow() {
                let _ = sender.unbounded_send(words);
            }
        })
    };
    LiveRoom { state, say }
}

/// Loads the room and its latest messages, then follows it live for as long as the page lasts.
async fn follow(id: i64, state: UseReducerDispatcher<Live>, mut outbox: mpsc::UnboundedReceiver<String>) {
    let (room, history) = match futures::join!(rooms::fetch(id), rooms::latest_messages(id)) {
        (Ok(room), Ok(history)) => (room, history.items),
        (Err(error), _) | (_, Err(error)) => {
            state.dispatch(Change::Failed(error));
            return;
        }
    };
    // Where the server's replay starts after each (re)connection.
    let mut newest = Cursor::default();
    history.iter().for_each(|m| newest.saw(m));
    state.dispatch(Change::Loaded(room, history));
    let mut pause = FIRST_PAUSE_MS;
    loop {
        if let Some(mut socket) = RoomSocket::open(id, newest.replay_after())
            && socket.opened().await
        {
            pause = FIRST_PAUSE_MS;
            state.dispatch(Change::Connection(Connection::Open));
            relay(&mut socket, &mut outbox, &state, &mut newest).await;
        }
        state.dispatch(Change::Connection(Connection::Reconnecting));
        // Ask for the room before trying again: a 404 means it was deleted, a 401 that the
        // session ended (the shell then sends the user to sign in). Neither is worth more tries.
        loop {
            TimeoutFuture::new(pause).await;
            pause = (pause * 2).min(LONGEST_PAUSE_MS);
            match rooms::fetch(id).await {
                Ok(room) => {
                    state.dispatch(Change::Room(room));
                    break;
                }
                Err(error) if error.status == 404 => {
                    state.dispatch(Change::Connection(Connection::Gone));
                    return;
                }
                Err(error) if error.is_unauthorized() => return,
                // Offline, or the server restarting: wait longer.
                Err(_) => {}
            }
        }
    }
}

/// Hands the socket's frames to the page and the user's words to the socket, until it drops.
async fn relay(
    socket: &mut RoomSocket,
    outbox: &mut mpsc::UnboundedReceiver<String>,
    state: &UseReducerDispatcher<Live>,
    newest: &mut Cursor,
) {
    loop {
        // Decided first, acted on after: both sides need the socket.
        let next = futures::select! {
            frame = socket.frame().fuse() => Either::Left(frame),
            words = outbox.next() => Either::Right(words),
        };
        match next {
            Either::Left(Some(frame)) => {
                match &frame {
                    ServerFrame::Message { message } => newest.saw(message),
                    ServerFrame::Deleted { message_id } => newest.forget(*message_id),
                    _ => {}
                }
                state.dispatch(Change::Frame(frame));
            }
            Either::Right(Some(words)) => {
                if !socket.say(words).await {
                    return;
                }
            }
            Either::Left(None) | Either::Right(None) => return,
        }
    }
}

/// Where a reconnection's replay starts: after the newest message held, or before the oldest
/// character reply still unfinished here (it may have finished while the socket was down, and
/// its whole text comes only with the replay; messages replayed twice replace themselves).
#[derive(Default)]
struct Cursor {
    newest: i64,
    unfinished: std::collections::BTreeSet<i64>,
}

impl Cursor {
    fn saw(&mut self, message: &RoomMessage) {
        self.newest = self.newest.max(message.id);
        if message.kind == RoomMessageKind::Character && message.content.is_empty() {
            self.unfinished.insert(message.id);
        } else {
            self.unfinished.remove(&message.id);
        }
    }

    fn forget(&mut self, id: i64) {
        self.unfinished.remove(&id);
    }

    fn replay_after(&self) -> i64 {
        self.unfinished.first().map_or(self.newest, |oldest| (oldest - 1).min(self.newest))
    }
}
