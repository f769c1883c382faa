//! One conversation: its messages (older ones load when scrolling up), the reply streaming in,
//! and the composer.

use std::rc::Rc;

use troupe_types::{Chat, Message, MessageList, MessageStatus, Role, TurnError, TurnEvent, rules::check_message};
use web_sys::{AbortController, HtmlElement};
use yew::prelude::*;

use crate::{
    format::{local_time, thousands},
    i18n::{I18n, use_i18n},
    services::{ApiError, chats},
};

/// A turn that failed: what to say, and the words to send again.
#[derive(Clone, Debug, PartialEq)]
struct Failure {
    text: String,
    retry: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Thread {
    messages: Vec<Message>,
    /// Where the next older page ends, when there is one.
    older: Option<i64>,
    loaded: bool,
    /// The reply so far while one streams in.
    streaming: Option<String>,
    failure: Option<Failure>,
}

enum Step {
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
    }
}

#[derive(Properties, PartialEq)]
pub struct ConversationProps {
    pub chat_id: i64,
    pub chat: Option<Chat>,
    /// Characters a message may hold on this server.
    pub max_chars: usize,
    /// A turn ended: the chat list may have changed.
    pub on_activity: Callback<()>,
    pub on_back: Callback<MouseEvent>,
    pub on_card: Callback<MouseEvent>,
    pub on_delete: Callback<()>,
}

#[component]
pub fn Conversation(props: &ConversationProps) -> Html {
    let i18n = use_i18n();
    let thread = use_reducer(Thread::default);
    let draft = use_state(String::new);
    let load_error = use_state(|| None::<String>);
    let abort = use_mut_ref(|| None::<AbortController>);
    let scroller = use_node_ref();
    // Follow the reply down unless the user has scrolled up to read.
    let follow = use_mut_ref(|| true);
    // The scroll height before older messages were put on top, to keep the view still.
    let height_before_older = use_mut_ref(|| None::<i32>);
    let loading_older = use_mut_ref(|| false);
    let confirming_delete = use_state(|| false);
    let chat_id = props.chat_id;

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
    // Stop a reply still streaming when the conversation goes away.
    {
        let abort = abort.clone();
        use_effect_with((), move |_| move || stop(&abort));
    }
    {
        let (scroller, follow, height_before_older) = (scroller.clone(), follow.clone(), height_before_older.clone());
        let shape = (thread.messages.len(), thread.streaming.as_ref().map(String::len), thread.failure.is_some());
        use_effect_with(shape, move |_| {
            if let Some(el) = scroller.cast::<HtmlElement>() {
                if let Some(before) = height_before_older.borrow_mut().take() {
                    el.set_scroll_top(el.scroll_height() - before);
                } else if *follow.borrow() {
                    el.set_scroll_top(el.scroll_height());
                }
            }
        });
    }

    let onscroll = {
        let (scroller, follow, thread) = (scroller.clone(), follow.clone(), thread.clone());
        let (height_before_older, loading_older) = (height_before_older.clone(), loading_older.clone());
        Callback::from(move |_: Event| {
            let Some(el) = scroller.cast::<HtmlElement>() else { return };
            *follow.borrow_mut() = el.scroll_height() - el.scroll_top() - el.client_height() < 80;
            let Some(before_id) = thread.older.filter(|_| el.scroll_top() < 60 && !*loading_older.borrow()) else {
                return;
            };
            *loading_older.borrow_mut() = true;
            *height_before_older.borrow_mut() = Some(el.scroll_height());
            let (dispatcher, loading_older) = (thread.dispatcher(), loading_older.clone());
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(page) = chats::messages(chat_id, Some(before_id)).await {
                    dispatcher.dispatch(Step::Older(page));
                }
                *loading_older.borrow_mut() = false;
            });
        })
    };

    let send = {
        let (thread, abort, i18n, on_activity) =
            (thread.clone(), abort.clone(), i18n.clone(), props.on_activity.clone());
        let follow = follow.clone();
        Callback::from(move |content: String| {
            *follow.borrow_mut() = true;
            let dispatcher = thread.dispatcher();
            dispatcher.dispatch(Step::Start);
            let controller = AbortController::new().expect("fetch can be aborted");
            *abort.borrow_mut() = Some(controller.clone());
            let (i18n, on_activity) = (i18n.clone(), on_activity.clone());
            wasm_bindgen_futures::spawn_local(async move {
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
                        dispatcher.dispatch(Step::Failed(turn_failure(&i18n, &error, &content)));
                    }
                };
                let result = chats::send_streaming(chat_id, content.clone(), &controller.signal(), events).await;
                if controller.signal().aborted() {
                    dispatcher.dispatch(Step::Stopped);
                    if let Some(sent) = sent {
                        show_stored_reply(chat_id, sent, &dispatcher).await;
                    }
                } else if let Err(error) = result {
                    // Before the stream began (limits, quota) nothing was stored: offer the words again.
                    dispatcher.dispatch(Step::Failed(Failure { text: i18n.error(&error), retry: Some(content) }));
                } else if !finished {
                    let text = i18n.t("chat.stream_cut");
                    dispatcher.dispatch(Step::Failed(Failure { text, retry: Some(content) }));
                }
                on_activity.emit(());
            });
        })
    };
    let on_stop = {
        let abort = abort.clone();
        Callback::from(move |_| stop(&abort))
    };

    let ask_delete = |ask: bool| {
        let confirming_delete = confirming_delete.clone();
        Callback::from(move |_| confirming_delete.set(ask))
    };
    let delete = props.on_delete.reform(|_: MouseEvent| ());
    let streaming = thread.streaming.is_some();
    let title = props.chat.as_ref().map(|c| c.character_name.clone()).unwrap_or_default();
    html! {
        <div class="conversation">
            <header class="conversation-head">
                <button class="icon-button phone-only" onclick={props.on_back.clone()} aria-label={i18n.t("chat.back")}>{ "‹" }</button>
                <h1 class="conversation-title">{ title }</h1>
                if *confirming_delete {
                    <span class="confirm" role="alert">
                        { i18n.t("chat.confirm_delete") }
                        <button class="button danger" onclick={delete}>{ i18n.t("common.delete") }</button>
                        <button class="button ghost" onclick={ask_delete(false)}>{ i18n.t("common.cancel") }</button>
                    </span>
                } else {
                    <button class="button ghost narrow-only" onclick={props.on_card.clone()}>{ i18n.t("chat.character") }</button>
                    <button class="icon-button danger-text" onclick={ask_delete(true)} aria-label={i18n.t("chat.delete")} title={i18n.t("chat.delete")}>{ trash_icon() }</button>
                }
            </header>
            <div class="messages" ref={scroller} {onscroll} role="log" aria-live="polite" aria-busy={streaming.to_string()} data-testid="messages">
                if thread.older.is_some() {
                    <p class="muted center">{ i18n.t("chat.scroll_for_older") }</p>
                }
                if let Some(error) = &*load_error {
                    <p class="form-error">{ error.clone() }</p>
                } else if !thread.loaded {
                    <p class="muted center">{ i18n.t("common.loading") }</p>
                }
                { for thread.messages.iter().map(|m| message_view(&i18n, m)) }
                if let Some(text) = &thread.streaming {
                    <div class="message assistant streaming" data-testid="streaming-reply">
                        if text.is_empty() {
                            <div class="bubble typing" aria-label={i18n.t("chat.typing")}><span></span><span></span><span></span></div>
                        } else {
                            <div class="bubble">{ text.clone() }</div>
                        }
                    </div>
                }
                if let Some(failure) = &thread.failure {
                    <div class="turn-error" role="alert" data-testid="turn-error">
                        <span>{ failure.text.clone() }</span>
                        if let Some(words) = failure.retry.clone() {
                            <button class="button" onclick={send.reform(move |_| words.clone())}>{ i18n.t("chat.retry") }</button>
                        }
                    </div>
                }
            </div>
            <Composer draft={draft.clone()} {streaming} max={props.max_chars} on_send={send} {on_stop} />
        </div>
    }
}

/// A bin, drawn rather than taken from an emoji font that may be missing.
fn trash_icon() -> Html {
    html! {
        <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true">
            <path d="M3 6h18M8 6V4h8v2M6 6l1 14h10l1-14M10 11v6M14 11v6" />
        </svg>
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

fn stop(abort: &std::cell::RefCell<Option<AbortController>>) {
    if let Some(controller) = abort.borrow_mut().take() {
        controller.abort();
    }
}

fn turn_failure(i18n: &I18n, error: &TurnError, content: &str) -> Failure {
    let as_api = ApiError { status: 502, code: error.code.clone(), message: error.message.clone(), field: None };
    Failure { text: i18n.error(&as_api), retry: Some(content.to_owned()) }
}

fn message_view(i18n: &I18n, message: &Message) -> Html {
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    // A greeting cost nothing and a stopped reply is counted once the server has it: no line.
    let tokens = match message.role {
        Role::User => Some(i18n.tf("chat.tokens", &[("n", thousands(message.token_count))])),
        Role::Assistant if message.prompt_tokens + message.completion_tokens == 0 => None,
        Role::Assistant => Some(i18n.tf(
            "chat.reply_tokens",
            &[("n", thousands(message.completion_tokens)), ("prompt", thousands(message.prompt_tokens))],
        )),
    };
    let status = match message.status {
        MessageStatus::Complete => None,
        MessageStatus::Incomplete => Some(i18n.t("chat.incomplete")),
        MessageStatus::Error => Some(i18n.t("chat.failed_reply")),
    };
    html! {
        <div class={classes!("message", role, status.as_ref().map(|_| "flagged"))} key={message.id} data-testid="message">
            <div class="bubble">{ message.content.clone() }</div>
            <div class="message-meta" title={local_time(&message.created_at, i18n.lang.code())}>
                if let Some(status) = status { <span class="status">{ status }</span> }
                if let Some(tokens) = tokens { <span data-testid="token-count">{ tokens }</span> }
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ComposerProps {
    draft: UseStateHandle<String>,
    /// Characters a message may hold.
    max: usize,
    streaming: bool,
    on_send: Callback<String>,
    on_stop: Callback<MouseEvent>,
}

/// The message box: a live count against the limit, Enter to send, Shift+Enter for a new line.
#[component]
fn Composer(props: &ComposerProps) -> Html {
    let i18n = use_i18n();
    let draft = props.draft.clone();
    let max = props.max;
    let count = draft.trim().chars().count();
    let verdict = check_message(&draft, max).map(str::to_owned);
    let refusal = match &verdict {
        Err(v) if v.code == "message_too_long" => Some(i18n.rule(v, max)),
        _ => None,
    };
    let submit = {
        let (draft, on_send, streaming) = (draft.clone(), props.on_send.clone(), props.streaming);
        let verdict = verdict.clone();
        move || {
            if let (Ok(content), false) = (&verdict, streaming) {
                on_send.emit(content.clone());
                draft.set(String::new());
            }
        }
    };
    let onkeydown = {
        let submit = submit.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" && !e.shift_key() && !e.is_composing() {
                e.prevent_default();
                submit();
            }
        })
    };
    let onsubmit = Callback::from(move |e: SubmitEvent| {
        e.prevent_default();
        submit();
    });
    let oninput = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| {
            draft.set(e.target_unchecked_into::<web_sys::HtmlTextAreaElement>().value())
        })
    };
    html! {
        <form class="composer" {onsubmit}>
            <label for="composer-input" class="visually-hidden">{ i18n.t("chat.message_label") }</label>
            <textarea id="composer-input" rows="2" value={(*draft).clone()} {oninput} {onkeydown}
                placeholder={i18n.t("chat.placeholder")} aria-invalid={refusal.as_ref().map(|_| "true")}
                aria-describedby="composer-count" data-testid="composer" />
            <div class="composer-foot">
                <span id="composer-count" class={classes!("counter", refusal.as_ref().map(|_| "over"))} data-testid="char-count">
                    { format!("{count}/{max}") }
                </span>
                if let Some(refusal) = refusal {
                    <span class="field-error" role="alert" data-testid="refusal">{ refusal }</span>
                }
                <span class="spacer"></span>
                if props.streaming {
                    <button type="button" class="button" onclick={props.on_stop.clone()} data-testid="stop">{ i18n.t("chat.stop") }</button>
                } else {
                    <button type="submit" class="button primary" disabled={verdict.is_err()} data-testid="send">{ i18n.t("chat.send") }</button>
                }
            </div>
        </form>
    }
}
