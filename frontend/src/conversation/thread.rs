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
    /// The reply being written again, hidden while its new alternative streams in.
    pub regenerating: Option<i64>,
    pub failure: Option<Failure>,
}

pub enum Step {
    Loaded(MessageList),
    /// The newest page again: replaces what is shown from its first message on.
    Latest(MessageList),
    Older(MessageList),
    Start,
    /// A new alternative of reply `id` starts.
    Regenerating(i64),
    UserMessage(Message),
    Delta(String),
    Done(Message),
    Failed(Failure),
    /// The user pressed stop: keep what arrived until the stored copy is fetched.
    Stopped,
    /// The server's copy of a message after an edit or a change of alternative.
    Replaced(Message),
    /// Message `id` was deleted, and with `and_after` every later one.
    Removed {
        id: i64,
        and_after: bool,
    },
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
            Step::Regenerating(id) => {
                thread.streaming = Some(String::new());
                thread.regenerating = Some(id);
                thread.failure = None;
            }
            Step::UserMessage(message) => thread.messages.push(message),
            Step::Delta(text) => thread.streaming.get_or_insert_with(String::new).push_str(&text),
            Step::Done(reply) => {
                thread.streaming = None;
                thread.regenerating = None;
                thread.put(reply);
            }
            Step::Failed(failure) => {
                thread.streaming = None;
                thread.regenerating = None;
                thread.failure = Some(failure);
            }
            Step::Stopped => {
                let regenerating = thread.regenerating.take();
                if let Some(text) = thread.streaming.take().filter(|t| !t.is_empty()) {
                    let id = regenerating.unwrap_or_else(|| thread.messages.last().map_or(0, |m| m.id) + 1);
                    thread.put(local_reply(id, text));
                }
            }
            Step::Replaced(message) => thread.put(message),
            Step::Removed { id, and_after } => {
                thread.messages.retain(|m| m.id != id && !(and_after && m.id > id));
                thread.failure = None;
            }
        }
        Rc::new(thread)
    }
}

impl Thread {
    /// `message` in place of the one with its id, or after the others when it is new.
    fn put(&mut self, message: Message) {
        match self.messages.iter_mut().find(|m| m.id == message.id) {
            Some(shown) => *shown = message,
            None => self.messages.push(message),
        }
    }

    /// Whether the last reply may be written again: a reply (not the greeting) with no reply
    /// under way.
    pub fn can_regenerate(&self, message: &Message) -> bool {
        let last = self.messages.last().is_some_and(|m| m.id == message.id && m.role == Role::Assistant);
        let answers_user = self.older.is_some() || self.messages.iter().any(|m| m.role == Role::User);
        last && answers_user && self.streaming.is_none()
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
