//! The view: messages, the reply streaming in, a failed turn, and the composer.

use troupe_types::{Message, MessageStatus, Role, rules::check_message};
use yew::prelude::*;

use super::thread::Failure;
use crate::{
    format::{local_time, thousands},
    i18n::{I18n, use_i18n},
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

pub fn message_view(i18n: &I18n, message: &Message) -> Html {
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
pub struct ComposerProps {
    pub draft: UseStateHandle<String>,
    /// Characters a message may hold.
    pub max: usize,
    pub streaming: bool,
    pub on_send: Callback<String>,
    pub on_stop: Callback<MouseEvent>,
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
