//! Streaming: sending a message or regenerating the last reply and following the reply as it
//! arrives, stopping it, and putting the server's stored copy of a stopped reply in place of ours.

use std::cell::RefCell;

use troupe_types::{Message, Role, TurnError, TurnEvent};
use web_sys::AbortController;
use yew::prelude::*;

use super::thread::{Failure, Step, Thread};
use crate::{
    i18n::{I18n, use_i18n},
    services::{ApiError, chats},
};

/// What the conversation does with turns: `send` words, `regenerate` the last reply, `stop` the
/// reply under way.
pub struct Turns {
    pub send: Callback<String>,
    pub regenerate: Callback<Message>,
    pub stop: Callback<MouseEvent>,
}

/// What starts a turn.
#[derive(Clone)]
enum Ask {
    Send(String),
    /// The reply `id`, with the number of alternatives it had.
    Regenerate {
        id: i64,
        alternatives: i64,
    },
}

impl Ask {
    /// Whether `last`, the chat's last message, is the reply this turn stored (`answering` being
    /// the message the server said it answers).
    fn stored(&self, answering: i64, last: &Message) -> bool {
        match *self {
            Ask::Send(_) => last.id > answering,
            Ask::Regenerate { id, alternatives } => last.id == id && last.alternative_count > alternatives,
        }
    }
}

/// Turns of `chat_id`, told to `thread`. A reply still streaming is stopped when the
/// conversation goes away; `on_sent` runs when `send` is called (the view follows the reply),
/// `on_activity` when a turn has ended.
#[hook]
pub fn use_turns(
    chat_id: i64,
    thread: &UseReducerHandle<Thread>,
    on_sent: Callback<()>,
    on_activity: Callback<()>,
) -> Turns {
    let i18n = use_i18n();
    let abort = use_mut_ref(|| None::<AbortController>);
    {
        let abort = abort.clone();
        use_effect_with((), move |_| move || stop(&abort));
    }
    let start = {
        let (dispatcher, abort) = (thread.dispatcher(), abort.clone());
        move |ask: Ask| {
            dispatcher.dispatch(match ask {
                Ask::Send(_) => Step::Start,
                Ask::Regenerate { id, .. } => Step::Regenerating(id),
            });
            let controller = AbortController::new().expect("fetch can be aborted");
            *abort.borrow_mut() = Some(controller.clone());
            let (dispatcher, i18n, on_activity) = (dispatcher.clone(), i18n.clone(), on_activity.clone());
            wasm_bindgen_futures::spawn_local(async move {
                run_turn(chat_id, ask, &controller, &dispatcher, &i18n).await;
                on_activity.emit(());
            });
        }
    };
    let send = {
        let start = start.clone();
        Callback::from(move |content: String| {
            on_sent.emit(());
            start(Ask::Send(content));
        })
    };
    let regenerate = Callback::from(move |reply: Message| {
        start(Ask::Regenerate { id: reply.id, alternatives: reply.alternative_count })
    });
    let stop = Callback::from(move |_| stop(&abort));
    Turns { send, regenerate, stop }
}

/// One turn, from asking to the last event (or the stop).
async fn run_turn(
    chat_id: i64,
    ask: Ask,
    controller: &AbortController,
    dispatcher: &UseReducerDispatcher<Thread>,
    i18n: &I18n,
) {
    // The words to offer again when the turn fails; a regeneration has its own button.
    let retry = match &ask {
        Ask::Send(content) => Some(content.clone()),
        Ask::Regenerate { .. } => None,
    };
    let mut finished = false;
    // Once the server has the turn: the message the stored reply will follow, or replace.
    let mut answering = match ask {
        Ask::Send(_) => None,
        Ask::Regenerate { id, .. } => Some(id),
    };
    let events = |event: TurnEvent| match event {
        TurnEvent::UserMessage(message) => {
            answering = Some(message.id);
            dispatcher.dispatch(Step::UserMessage(message));
        }
        TurnEvent::Delta(delta) => dispatcher.dispatch(Step::Delta(delta.text)),
        TurnEvent::Done(done) => {
            finished = true;
            dispatcher.dispatch(Step::Done(done.assistant_message));
        }
        TurnEvent::Error(error) => {
            finished = true;
            dispatcher.dispatch(Step::Failed(turn_failure(i18n, &error, retry.clone())));
        }
    };
    let signal = controller.signal();
    let result = match &ask {
        Ask::Send(content) => chats::send_streaming(chat_id, content.clone(), &signal, events).await,
        Ask::Regenerate { id, .. } => chats::regenerate_streaming(chat_id, *id, &signal, events).await,
    };
    if signal.aborted() {
        dispatcher.dispatch(Step::Stopped);
        if let Some(answering) = answering {
            show_stored_reply(chat_id, |last| ask.stored(answering, last), dispatcher).await;
        }
    } else if let Err(error) = result {
        // Before the stream began (limits, quota) nothing was stored: offer the words again.
        dispatcher.dispatch(Step::Failed(Failure { text: i18n.error(&error), retry }));
    } else if !finished {
        dispatcher.dispatch(Step::Failed(Failure { text: i18n.t("chat.stream_cut"), retry }));
    }
}

/// The server stores a stopped reply once it notices the client has gone, which takes a moment:
/// ask until `stored` holds for the last message, then show the stored copy in place of ours.
async fn show_stored_reply(chat_id: i64, stored: impl Fn(&Message) -> bool, dispatcher: &UseReducerDispatcher<Thread>) {
    for _ in 0..10 {
        gloo_timers::future::TimeoutFuture::new(300).await;
        if let Ok(page) = chats::messages(chat_id, None).await
            && page.items.last().is_some_and(|m| m.role == Role::Assistant && stored(m))
        {
            dispatcher.dispatch(Step::Latest(page));
            return;
        }
    }
}

fn stop(abort: &RefCell<Option<AbortController>>) {
    if let Some(controller) = abort.borrow_mut().take() {
        controller.abort();
    }
}

fn turn_failure(i18n: &I18n, error: &TurnError, retry: Option<String>) -> Failure {
    let as_api = ApiError { status: 502, code: error.code.clone(), message: error.message.clone(), field: None };
    Failure { text: i18n.error(&as_api), retry }
}
