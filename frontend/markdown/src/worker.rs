//! The Markdown web worker: each message it is sent (see `troupe_markdown::encode`) holds
//! Markdown, and it answers with the HTML under the same request number.

use troupe_markdown::{READY, decode, encode, parse::to_html};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

fn main() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let answer_scope = scope.clone();
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(message) = event.data().as_string() else { return };
        let Some((id, markdown)) = decode(&message) else { return };
        let _ = answer_scope.post_message(&JsValue::from_str(&encode(id, &to_html(markdown))));
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    let _ = scope.post_message(&JsValue::from_str(READY));
}
