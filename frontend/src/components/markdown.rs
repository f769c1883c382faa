//! Markdown in chat messages. The parser runs in a web worker of its own (frontend/markdown),
//! started for the first message shown, so its weight stays out of the app's first download.
//! Until a message's HTML is back — or if the worker cannot start — its words show as written.
//! The worker is the one place that decides what HTML a message may become (its tests say what).

use std::{cell::RefCell, collections::HashMap};

use troupe_markdown::{READY, decode, encode};
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{MessageEvent, Worker};
use yew::prelude::*;

/// Where trunk puts the worker's loader (the `markdown-worker` link in index.html).
const WORKER_URL: &str = "/markdown-worker_loader.js";
/// Messages kept rendered; past this the cache starts again (a long chat re-renders in a blink).
const CACHE_LIMIT: usize = 1000;

#[derive(Default)]
struct Client {
    worker: Option<Worker>,
    failed: bool,
    /// The worker listens; until then requests wait in `unsent`.
    ready: bool,
    unsent: Vec<String>,
    next_id: u32,
    /// Request number → its text.
    asked: HashMap<u32, AttrValue>,
    /// Text → who waits for its HTML.
    waiting: HashMap<AttrValue, Vec<Callback<AttrValue>>>,
    rendered: HashMap<AttrValue, AttrValue>,
}

thread_local! {
    static CLIENT: RefCell<Client> = RefCell::default();
}

#[derive(Properties, PartialEq)]
pub struct MarkdownProps {
    pub text: AttrValue,
}

/// `text` as Markdown: its words (line breaks kept) until the worker has rendered it.
#[component]
pub fn Markdown(props: &MarkdownProps) -> Html {
    let html = use_state(|| rendered(&props.text));
    {
        let html = html.clone();
        use_effect_with(props.text.clone(), move |text| {
            let known = rendered(text);
            if known.is_none() {
                let html = html.clone();
                ask(text, Callback::from(move |rendered| html.set(Some(rendered))));
            }
            html.set(known);
        });
    }
    match &*html {
        Some(html) => html! { <div class="markdown">{ Html::from_html_unchecked(html.clone()) }</div> },
        None => html! { <div class="markdown plain">{ props.text.clone() }</div> },
    }
}

fn rendered(text: &AttrValue) -> Option<AttrValue> {
    CLIENT.with(|client| client.borrow().rendered.get(text).cloned())
}

/// Asks the worker for the HTML of `text`; `then` hears it when it comes.
fn ask(text: &AttrValue, then: Callback<AttrValue>) {
    CLIENT.with(|client| {
        let mut client = client.borrow_mut();
        let Some(worker) = client.worker() else { return };
        let waiting = client.waiting.entry(text.clone()).or_default();
        waiting.push(then);
        if waiting.len() > 1 {
            return;
        }
        let id = client.next_id;
        client.next_id = id.wrapping_add(1);
        client.asked.insert(id, text.clone());
        let request = encode(id, text);
        if client.ready {
            let _ = worker.post_message(&request.into());
        } else {
            client.unsent.push(request);
        }
    });
}

/// The worker listens: sends what waited.
fn worker_ready() {
    CLIENT.with(|client| {
        let mut client = client.borrow_mut();
        client.ready = true;
        let unsent = std::mem::take(&mut client.unsent);
        if let Some(worker) = &client.worker {
            for request in unsent {
                let _ = worker.post_message(&request.into());
            }
        }
    });
}

impl Client {
    /// The worker, started on first use; `None` when the browser refused it.
    fn worker(&mut self) -> Option<Worker> {
        if self.worker.is_none() && !self.failed {
            self.worker = start_worker();
            self.failed = self.worker.is_none();
        }
        self.worker.clone()
    }
}

fn start_worker() -> Option<Worker> {
    let worker = Worker::new(WORKER_URL).ok()?;
    let on_message = Closure::<dyn Fn(MessageEvent)>::new(|event: MessageEvent| {
        let Some(message) = event.data().as_string() else { return };
        if message == READY {
            worker_ready();
        } else if let Some((id, html)) = decode(&message) {
            answered(id, AttrValue::from(html.to_owned()));
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the page.
    on_message.forget();
    Some(worker)
}

fn answered(id: u32, html: AttrValue) {
    let waiting = CLIENT.with(|client| {
        let mut client = client.borrow_mut();
        let text = client.asked.remove(&id)?;
        if client.rendered.len() >= CACHE_LIMIT {
            client.rendered.clear();
        }
        client.rendered.insert(text.clone(), html.clone());
        client.waiting.remove(&text)
    });
    // Told outside the borrow: a callback may render and ask again.
    for callback in waiting.into_iter().flatten() {
        callback.emit(html.clone());
    }
}
