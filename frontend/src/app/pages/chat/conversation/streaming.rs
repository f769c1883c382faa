//! Streaming: sending a message and following the reply as it arrives, stopping it, and
//! putting the server's stored copy of a stopped reply in place of ours.

use std::cell::RefCell;

use troupe_types::{Role, TurnError, TurnEvent};
use web_sys::AbortController;
use yew::prelude::*;

use super::thread::{Failure, Step, Thread};
use crate::{
    i18n::{I18n, use_i18n},
    services::{ApiError, chats},
};

/// What the conversation does with turns: `send` words, `stop` the reply under way.
pub struct Turns {
    pub send: Callback<String>,
    pub stop: Callback<MouseEvent>,
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
    let send = {
        let (dispatcher, abort) = (thread.dispatcher(), abort.clone());
        Callback::from(move |content: String| {
            on_sent.emit(());
            dispatcher.dispatch(Step::Start);
            let controller = AbortController::new().expect("fetch can be aborted");
            *abort.borrow_mut() = Some(controller.clone());
            let (dispatcher, i18n, on_activity) = (dispatcher.clone(), i18n.clone(), on_activity.clone());
            wasm_bindgen_futures::spawn_local(async move {
                run_turn(chat_id, content, &controller, &dispatcher, &i18n).await;
                on_activity.emit(());
            });
        })
    };
    let stop = Callback::from(move |_| stop(&abort));
    Turns { send, stop }
}

/// One turn, from sending to the last event (or the stop).
async fn run_turn(
    chat_id: i64,
    content: String,
    controller: &AbortController,
    dispatcher: &UseReducerDispatcher<Thread>,
    i18n: &I18n,
) {
    let mut finished = false;
    let mut sent = None;
    let events = |event: TurnEvent| match event {
        TurnEvent::UserMessage(message) => {
            sent = Some(message.id);
            dispatcher.dispatch(Step::UserMessage(message));
        }
        TurnEvent::Delta(delta) => dispatcher.dispatch(Step::Delta(delta.text)),
        TurnEvent::Done(done) => {
            finished = true;
            dispatcher.dispatch(Step::Done(done.assistant_message));
        }
        TurnEvent::Error(error) => {
            finished = true;
            dispatcher.dispatch(Step::Failed(turn_failure(i18n, &error, &content)));
        }
    };
    let result = chats::send_streaming(chat_id, content.clone(), &controller.signal(), events).await;
    if controller.signal().aborted() {
        dispatcher.dispatch(Step::Stopped);
        if let Some(sent) = sent {
            show_stored_reply(chat_id, sent, dispatcher).await;
        }
    } else if let Err(error) = result {
        // Before the stream began (limits, quota) nothing was stored: offer the words again.
        dispatcher.dispatch(Step::Failed(Failure { text: i18n.error(&error), retry: Some(content) }));
    } else if !finished {
        let text = i18n.t("chat.stream_cut");
        dispatcher.dispatch(Step::Failed(Failure { text, retry: Some(content) }));
    }
}

/// The server stores a stopped reply once it notices the client has gone, which takes a moment:
/// ask until the reply to message `sent` is there, then show the stored copy in place of ours.
async fn show_stored_reply(chat_id: i64, sent: i64, dispatcher: &UseReducerDispatcher<Thread>) {
    for _ in 0..10 {
        gloo_timers::future::TimeoutFuture::new(300).await;
        if let Ok(page) = chats::messages(chat_id, None).await
            && page.items.last().is_some_and(|m| m.role == Role::Assistant && m.id > sent)
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

fn turn_failure(i18n: &I18n, error: &TurnError, content: &str) -> Failure {
    let as_api = ApiError { status: 502, code: error.code.clone(), message: error.message.clone(), field: None };
    Failure { text: i18n.error(&as_api), retry: Some(content.to_owned()) }
}
