//! Loading: the conversation's messages as one state machine — the first page, older pages
//! put on top when the user scrolls up, and the steps of a turn as they arrive.

use std::rc::Rc;

use troupe_types::{Message, MessageList, MessageStatus, Role};
use yew::prelude::*;

use crate::services::chats;

/// A turn that failed: what to say, and the words to send again.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub text: String,
    pub retry: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thread {
    pub messages: Vec<Message>,
    /// Where the next older page ends, when there is one.
    pub older: Option<i64>,
    pub loaded: bool,
    /// The reply so far while one streams in.
    pub streaming: Option<String>,
    pub failure: Option<Failure>,
}

pub enum Step {
    Loaded(MessageList),
    /// The newest page again: replaces what is shown from its first message on.
    Latest(MessageList),
    Older(MessageList),
    Start,
    UserMessage(Message),
    Delta(String),
    Done(Message),
    Failed(Failure),
    /// The user pressed stop: keep what arrived until the stored copy is fetched.
    Stopped,
}

impl Reducible for Thread {
    type Action = Step;

    fn reduce(self: Rc<Self>, step: Step) -> Rc<Self> {
        let mut thread = (*self).clone();
        match step {
            Step::Loaded(page) => {
                thread.older = page.next_before_id;
                thread.messages = page.items;
                thread.loaded = true;
            }
            Step::Latest(page) => {
                let first = page.items.first().map_or(i64::MAX, |m| m.id);
                thread.messages.retain(|m| m.id < first);
                thread.messages.extend(page.items);
            }
            Step::Older(page) => {
                thread.older = page.next_before_id;
                thread.messages.splice(0..0, page.items);
            }
            Step::Start => {
                thread.streaming = Some(String::new());
                thread.failure = None;
            }
            Step::UserMessage(message) => thread.messages.push(message),
            Step::Delta(text) => thread.streaming.get_or_insert_with(String::new).push_str(&text),
            Step::Done(reply) => {
                thread.streaming = None;
                thread.messages.push(reply);
            }
            Step::Failed(failure) => {
                thread.streaming = None;
                thread.failure = Some(failure);
            }
            Step::Stopped => {
                if let Some(text) = thread.streaming.take().filter(|t| !t.is_empty()) {
                    let id = thread.messages.last().map_or(0, |m| m.id) + 1;
                    thread.messages.push(local_reply(id, text));
                }
            }
        }
        Rc::new(thread)
    }
}

/// A stopped reply as shown until the server's stored copy replaces it.
fn local_reply(id: i64, content: String) -> Message {
    Message {
        id,
        chat_id: 0,
        role: Role::Assistant,
        content,
        status: MessageStatus::Incomplete,
        model: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        token_count: 0,
        usage_source: None,
        created_at: String::new(),
        alternative_index: 0,
        alternative_count: 1,
        edited_at: None,
    }
}

/// The thread of `chat_id`, its first page asked for when the chat changes; and the error of
/// that first load, if it failed.
#[hook]
pub fn use_thread(chat_id: i64) -> (UseReducerHandle<Thread>, Option<String>) {
    let thread = use_reducer(Thread::default);
    let load_error = use_state(|| None::<String>);
    {
        let (dispatcher, load_error) = (thread.dispatcher(), load_error.clone());
        use_effect_with(chat_id, move |&chat_id| {
            wasm_bindgen_futures::spawn_local(async move {
                match chats::messages(chat_id, None).await {
                    Ok(page) => dispatcher.dispatch(Step::Loaded(page)),
                    Err(e) => load_error.set(Some(e.message)),
                }
            });
        });
    }
    (thread, (*load_error).clone())
}

/// Loads the page before `before_id` and puts it on top; `done` runs when it is in.
pub fn load_older(
    chat_id: i64,
    before_id: i64,
    dispatcher: UseReducerDispatcher<Thread>,
    done: impl FnOnce() + 'static,
) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(page) = chats::messages(chat_id, Some(before_id)).await {
            dispatcher.dispatch(Step::Older(page));
        }
        done();
    });
}
