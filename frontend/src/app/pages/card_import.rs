//! Bringing character cards in: pick files or drop them (a folder's worth at once), and see
//! what became of each.

use troupe_types::CardImport;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::{i18n::use_i18n, services};

#[derive(Properties, PartialEq)]
pub struct CardDropProps {
    /// Told after an import that made at least one character.
    pub on_imported: Callback<()>,
}

/// The files of a `FileList`, in order.
fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

#[component]
pub fn CardDrop(props: &CardDropProps) -> Html {
    let i18n = use_i18n();
    let results = use_state(Vec::<CardImport>::new);
    let busy = use_state(|| false);
    let over = use_state(|| false);
    let error = use_state(|| None::<String>);
    let import = {
        let (results, busy, error, on_imported, i18n) =
            (results.clone(), busy.clone(), error.clone(), props.on_imported.clone(), i18n.clone());
        Callback::from(move |files: Vec<web_sys::File>| {
            if files.is_empty() {
                return;
            }
            let (results, busy, error, on_imported, i18n) =
                (results.clone(), busy.clone(), error.clone(), on_imported.clone(), i18n.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                match services::characters::import(&files).await {
                    Ok(items) => {
                        error.set(None);
                        if items.iter().any(|i| i.character.is_some()) {
                            on_imported.emit(());
                        }
                        results.set(items);
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
                busy.set(false);
            });
        })
    };
    let on_pick = import.reform(|e: Event| {
        let input: web_sys::HtmlInputElement = e.target_unchecked_into();
        let files = files_of(input.files());
        // The same files may be picked again after a fix.
        input.set_value("");
        files
    });
    let on_drop = {
        let (import, over) = (import.clone(), over.clone());
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            over.set(false);
            import.emit(files_of(e.data_transfer().and_then(|d| d.files())));
        })
    };
    let on_over = {
        let over = over.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            over.set(true);
        })
    };
    let on_leave = {
        let over = over.clone();
        Callback::from(move |_: DragEvent| over.set(false))
    };
    let result = |item: &CardImport| match (&item.character, &item.error) {
        (Some(c), _) => html! {
            <li class="ok" data-testid="import-ok">{ "✓ " }{ item.file_name.clone() }{ " → " }{ c.name.clone() }</li>
        },
        (None, error) => html! {
            <li class="form-error" data-testid="import-error">
                { "✗ " }{ item.file_name.clone() }{ ": " }{ error.as_ref().map(|e| e.message.clone()).unwrap_or_default() }
            </li>
        },
    };
    html! {
        <div class={classes!("card-drop", over.then_some("over"))} ondrop={on_drop} ondragover={on_over}
            ondragleave={on_leave} data-testid="card-drop">
            <label class="button ghost">
                { if *busy { i18n.t("cards.importing") } else { i18n.t("cards.import") } }
                <input type="file" multiple=true accept=".png,.json,.charx,image/png,application/json"
                    class="visually-hidden" onchange={on_pick} data-testid="card-files" disabled={*busy} />
            </label>
            <span class="muted small">{ i18n.t("cards.drop_hint") }</span>
            if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
            if !results.is_empty() {
                <ul class="import-results" aria-live="polite">{ for results.iter().map(result) }</ul>
            }
        </div>
    }
}

/// Keeps the browser from opening a file dropped just outside the drop zone.
pub fn ignore_stray_drops() {
    let Some(window) = web_sys::window() else { return };
    for kind in ["dragover", "drop"] {
        let handler =
            wasm_bindgen::closure::Closure::<dyn Fn(web_sys::Event)>::new(|e: web_sys::Event| e.prevent_default());
        let _ = window.add_event_listener_with_callback(kind, handler.as_ref().unchecked_ref());
        handler.forget();
    }
}
