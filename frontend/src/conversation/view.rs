//! The view: messages, the reply streaming in, a failed turn, and the composer.

use troupe_types::{
    Chat, Message, MessageStatus, Role,
    rules::{EDITED_REPLY_MAX_CHARS, check_edited_reply, check_message},
};
use yew::prelude::*;

use super::thread::{Failure, Step, Thread};
use crate::{
    components::{markdown::Markdown, menu::Menu},
    format::{local_time, thousands},
    i18n::{I18n, use_i18n},
    services::{ApiResult, chats},
};

/// A bin, drawn rather than taken from an emoji font that may be missing.
pub fn trash_icon() -> Html {
    html! {
        <svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" aria-hidden="true">
            <path d="M3 6h18M8 6V4h8v2M6 6l1 14h10l1-14M10 11v6M14 11v6" />
        </svg>
    }
}

/// The reply so far: dots until its first words.
pub fn streaming_reply(i18n: &I18n, text: &str) -> Html {
    html! {
        <div class="message assistant streaming" data-testid="streaming-reply">
            if text.is_empty() {
                <div class="bubble typing" aria-label={i18n.t("chat.typing")}><span></span><span></span><span></span></div>
            } else {
                <div class="bubble">{ text.to_owned() }</div>
            }
        </div>
    }
}

/// A turn that failed, with a retry when the words can go again.
pub fn failed_turn(i18n: &I18n, failure: &Failure, send: &Callback<String>) -> Html {
    html! {
        <div class="turn-error" role="alert" data-testid="turn-error">
            <span>{ failure.text.clone() }</span>
            if let Some(words) = failure.retry.clone() {
                <button class="button" onclick={send.reform(move |_| words.clone())}>{ i18n.t("chat.retry") }</button>
            }
        </div>
    }
}

/// What a message's menu may do to it.
#[derive(Clone, Copy, PartialEq)]
enum Removal {
    This,
    /// This message and every later one (a rewind).
    FromHere,
}

#[derive(Clone, PartialEq)]
enum Mode {
    Reading,
    Editing(String),
    Confirming(Removal),
}

#[derive(Properties, PartialEq)]
pub struct MessageProps {
    pub chat_id: i64,
    pub message: Message,
    /// Characters a user message may hold.
    pub max_chars: usize,
    /// This is the last reply and may be written again.
    pub regenerable: bool,
    /// A reply is being written: the chat stays as it is until it is done.
    pub busy: bool,
    pub thread: UseReducerDispatcher<Thread>,
    pub on_regenerate: Callback<Message>,
    /// A new chat branched off at this message.
    pub on_branched: Callback<Chat>,
}

/// One message: its text as Markdown, the alternatives to flip through (and regenerate, on the
/// last reply), and a menu to edit, copy, branch, delete or rewind.
#[component]
pub fn MessageView(props: &MessageProps) -> Html {
    let i18n = use_i18n();
    let mode = use_state(|| Mode::Reading);
    let error = use_state(|| None::<String>);
    let copied = use_state(|| false);
    let message = &props.message;
    let (chat_id, id) = (props.chat_id, message.id);

    let act = Act { thread: props.thread.clone(), mode: mode.clone(), error: error.clone(), i18n: i18n.clone() };
    let choose = |index: i64| {
        let act = act.clone();
        Callback::from(move |_: MouseEvent| {
            act.run(async move { chats::choose_alternative(chat_id, id, index).await.map(|m| Some(Step::Replaced(m))) })
        })
    };
    let save_edit = {
        let act = act.clone();
        Callback::from(move |content: String| {
            act.run(async move { chats::edit_message(chat_id, id, content).await.map(|m| Some(Step::Replaced(m))) })
        })
    };
    let remove = |removal: Removal| {
        let act = act.clone();
        Callback::from(move |_: MouseEvent| {
            let and_after = removal == Removal::FromHere;
            act.run(async move {
                chats::delete_message(chat_id, id, and_after).await.map(|()| Some(Step::Removed { id, and_after }))
            })
        })
    };
    let branch = {
        let (act, on_branched) = (act.clone(), props.on_branched.clone());
        Callback::from(move |_: MouseEvent| {
            let on_branched = on_branched.clone();
            act.run(async move {
                on_branched.emit(chats::branch(chat_id, id).await?);
                Ok(None)
            })
        })
    };
    let copy = {
        let (content, copied) = (message.content.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&content);
                copied.set(true);
                let copied = copied.clone();
                gloo_timers::callback::Timeout::new(1500, move || copied.set(false)).forget();
            }
        })
    };
    let set_mode = |next: Mode| {
        let (mode, error) = (mode.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            error.set(None);
            mode.set(next.clone());
        })
    };
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    let busy = props.busy;
    let body = match &*mode {
        Mode::Editing(draft) => html! {
            <MessageEditor draft={draft.clone()} role={message.role} max_chars={props.max_chars}
                on_save={save_edit} on_cancel={set_mode(Mode::Reading)} />
        },
        _ => html! { <div class="bubble"><Markdown text={message.content.clone()} /></div> },
    };
    let confirm = match &*mode {
        Mode::Confirming(removal) => {
            let question = match removal {
                Removal::This => i18n.t("message.confirm_delete"),
                Removal::FromHere => i18n.t("message.confirm_rewind"),
            };
            html! {
                <div class="confirm" role="alert" data-testid="message-confirm">
                    { question }
                    <button class="button danger" onclick={remove(*removal)} disabled={busy}>{ i18n.t("common.delete") }</button>
                    <button class="button ghost" onclick={set_mode(Mode::Reading)}>{ i18n.t("common.cancel") }</button>
                </div>
            }
        }
        _ => html! {},
    };
    let index = message.alternative_index;
    let count = message.alternative_count;
    let alternatives = (message.role == Role::Assistant && (count > 1 || props.regenerable)).then(|| {
        let regenerate = {
            let (on_regenerate, message) = (props.on_regenerate.clone(), message.clone());
            Callback::from(move |_: MouseEvent| on_regenerate.emit(message.clone()))
        };
        html! {
            <span class="alternatives" data-testid="alternatives">
                if count > 1 {
                    <button class="icon-button small" onclick={choose(index - 1)} disabled={busy || index == 0}
                        aria-label={i18n.t("message.previous")} title={i18n.t("message.previous")} data-testid="previous-alternative">{ "‹" }</button>
                    <span data-testid="alternative-position">{ format!("{}/{}", index + 1, count) }</span>
                    <button class="icon-button small" onclick={choose(index + 1)} disabled={busy || index + 1 >= count}
                        aria-label={i18n.t("message.next")} title={i18n.t("message.next")} data-testid="next-alternative">{ "›" }</button>
                }
                if props.regenerable {
                    <button class="icon-button small" onclick={regenerate} disabled={busy}
                        aria-label={i18n.t("message.regenerate")} title={i18n.t("message.regenerate")} data-testid="regenerate">{ "↻" }</button>
                }
            </span>
        }
    });
    let menu = html! {
        <Menu label={i18n.t("message.actions")} class="message-menu" small=true testid="message-actions">
            <button role="menuitem" onclick={set_mode(Mode::Editing(message.content.clone()))} disabled={busy} data-testid="edit-message">{ i18n.t("message.edit") }</button>
            // The clipboard is offered on https (and localhost) only; elsewhere it is not there.
            if web_sys::window().is_some_and(|w| w.is_secure_context()) {
                <button role="menuitem" onclick={copy}>{ i18n.t("message.copy") }</button>
            }
            <button role="menuitem" onclick={branch} disabled={busy} data-testid="branch">{ i18n.t("message.branch") }</button>
            <button role="menuitem" onclick={set_mode(Mode::Confirming(Removal::This))} disabled={busy} data-testid="delete-message">{ i18n.t("common.delete") }</button>
            <button role="menuitem" onclick={set_mode(Mode::Confirming(Removal::FromHere))} disabled={busy} data-testid="rewind">{ i18n.t("message.rewind") }</button>
        </Menu>
    };
    html! {
        <div class={classes!("message", role, (message.status != MessageStatus::Complete).then_some("flagged"))} data-testid="message">
            { body }
            <div class="message-meta" title={local_time(&message.created_at, i18n.lang.code())}>
                { for alternatives }
                { status_and_tokens(&i18n, message) }
                if message.edited_at.is_some() { <span>{ i18n.t("message.edited") }</span> }
                if *copied { <span role="status">{ i18n.t("message.copied") }</span> }
                { menu }
            </div>
            if let Some(error) = &*error { <p class="field-error" role="alert">{ error.clone() }</p> }
            { confirm }
        </div>
    }
}

/// What a message's tools need to run a change on the server.
#[derive(Clone)]
struct Act {
    thread: UseReducerDispatcher<Thread>,
    mode: UseStateHandle<Mode>,
    error: UseStateHandle<Option<String>>,
    i18n: I18n,
}

impl Act {
    /// Runs `change`: the step it answers goes to the thread, an error shows under the message.
    fn run(&self, change: impl std::future::Future<Output = ApiResult<Option<Step>>> + 'static) {
        let act = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match change.await {
                Ok(step) => {
                    act.error.set(None);
                    act.mode.set(Mode::Reading);
                    if let Some(step) = step {
                        act.thread.dispatch(step);
                    }
                }
                Err(e) => act.error.set(Some(act.i18n.error(&e))),
            }
        });
    }
}

/// The status of a reply that did not finish, and what the message cost.
fn status_and_tokens(i18n: &I18n, message: &Message) -> Html {
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
        <>
            if let Some(status) = status { <span class="status">{ status }</span> }
            if let Some(tokens) = tokens { <span data-testid="token-count">{ tokens }</span> }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct EditorProps {
    draft: String,
    role: Role,
    max_chars: usize,
    on_save: Callback<String>,
    on_cancel: Callback<MouseEvent>,
}

/// A message being edited: the rule it must meet (a user message that of sending, a reply up
/// to 8,000 characters), Ctrl+Enter to save, Escape to cancel.
#[component]
fn MessageEditor(props: &EditorProps) -> Html {
    let i18n = use_i18n();
    let draft = use_state(|| props.draft.clone());
    let input = use_node_ref();
    {
        let input = input.clone();
        use_effect_with((), move |_| {
            if let Some(el) = input.cast::<web_sys::HtmlTextAreaElement>() {
                let _ = el.focus();
            }
        });
    }
    let max = match props.role {
        Role::User => props.max_chars,
        Role::Assistant => EDITED_REPLY_MAX_CHARS,
    };
    let verdict = match props.role {
        Role::User => check_message(&draft, max),
        Role::Assistant => check_edited_reply(&draft),
    }
    .map(str::to_owned);
    let refusal = verdict.as_ref().err().map(|v| i18n.rule(v, max));
    let save = {
        let (on_save, verdict) = (props.on_save.clone(), verdict.clone());
        move || {
            if let Ok(content) = &verdict {
                on_save.emit(content.clone());
            }
        }
    };
    let onkeydown = {
        let (save, on_cancel) = (save.clone(), props.on_cancel.clone());
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" && (e.ctrl_key() || e.meta_key()) {
                e.prevent_default();
                save();
            } else if e.key() == "Escape" {
                on_cancel.emit(MouseEvent::new("click").expect("a plain event"));
            }
        })
    };
    let oninput = {
        let draft = draft.clone();
        Callback::from(move |e: InputEvent| {
            draft.set(e.target_unchecked_into::<web_sys::HtmlTextAreaElement>().value())
        })
    };
    html! {
        <div class="message-editor">
            <textarea ref={input} rows="4" value={(*draft).clone()} {oninput} {onkeydown} aria-label={i18n.t("message.edit")}
                aria-invalid={refusal.as_ref().map(|_| "true")} data-testid="edit-input" />
            <div class="composer-foot">
                if let Some(refusal) = refusal { <span class="field-error" role="alert">{ refusal }</span> }
                <span class="spacer"></span>
                <button type="button" class="button ghost" onclick={props.on_cancel.clone()}>{ i18n.t("common.cancel") }</button>
                <button type="button" class="button primary" onclick={move |_| save()} disabled={verdict.is_err()} data-testid="save-edit">{ i18n.t("common.save") }</button>
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ComposerProps {
    pub draft: UseStateHandle<String>,
    /// Characters a message may hold.
    pub max: usize,
    pub streaming: bool,
    pub on_send: Callback<String>,
    pub on_stop: Callback<MouseEvent>,
    /// Nothing can be sent for now (a live room whose connection is down); the draft stays.
    #[prop_or_default]
    pub disabled: bool,
    /// Put before each `data-testid` (`room-` in a live room), so tests tell the two apart.
    #[prop_or_default]
    pub testid_prefix: AttrValue,
}

/// The message box: a live count against the limit, Enter to send, Shift+Enter for a new line.
#[component]
pub fn Composer(props: &ComposerProps) -> Html {
    let i18n = use_i18n();
    let draft = props.draft.clone();
    let max = props.max;
    let count = draft.trim().chars().count();
    let verdict = check_message(&draft, max).map(str::to_owned);
    let refusal = match &verdict {
        Err(v) if v.code == "message_too_long" => Some(i18n.rule(v, max)),
        _ => None,
    };
    let testid = |name: &str| format!("{}{name}", props.testid_prefix);
    let submit = {
        let (draft, on_send, held) = (draft.clone(), props.on_send.clone(), props.streaming || props.disabled);
        let verdict = verdict.clone();
        move || {
            if let (Ok(content), false) = (&verdict, held) {
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
                aria-describedby="composer-count" data-testid={testid("composer")} />
            <div class="composer-foot">
                <span id="composer-count" class={classes!("counter", refusal.as_ref().map(|_| "over"))} data-testid={testid("char-count")}>
                    { format!("{count}/{max}") }
                </span>
                if let Some(refusal) = refusal {
                    <span class="field-error" role="alert" data-testid={testid("refusal")}>{ refusal }</span>
                }
                <span class="spacer"></span>
                if props.streaming {
                    <button type="button" class="button" onclick={props.on_stop.clone()} data-testid={testid("stop")}>{ i18n.t("chat.stop") }</button>
                } else {
                    <button type="submit" class="button primary" disabled={verdict.is_err() || props.disabled} data-testid={testid("send")}>{ i18n.t("chat.send") }</button>
                }
            </div>
        </form>
    }
}
