//! Shared prompts (admins): the instructions that go before every character, in order.

use troupe_types::{Prompt, PromptInput, rules};
use yew::prelude::*;

use crate::{
    components::field::Field,
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    services,
};

#[component]
pub fn PromptsPage() -> Html {
    let i18n = use_i18n();
    let editing = use_state(|| None::<Option<i64>>); // Some(None): a new one
    let error = use_state(|| None::<String>);
    let reload = use_refresh();
    let prompts = use_load(reload.0, |_| services::prompts::list());
    let prompts: Option<Vec<Prompt>> = prompts.value().map(|list| list.items.clone());
    // Runs one change against the API, then reloads the list or shows why it failed.
    let run = {
        let (reload, error, i18n) = (reload.clone(), error.clone(), i18n.clone());
        move |work: std::pin::Pin<Box<dyn std::future::Future<Output = services::ApiResult<()>>>>| {
            let (reload, error, i18n) = (reload.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match work.await {
                    Ok(()) => error.set(None),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
                reload.dispatch(());
            });
        }
    };
    let list = prompts.clone().unwrap_or_default();
    let toggle = |p: &Prompt| {
        let (run, p) = (run.clone(), p.clone());
        Callback::from(move |_| {
            let input = PromptInput {
                name: p.name.clone(),
                content: p.content.clone(),
                enabled: !p.enabled,
                position: p.position,
            };
            let id = p.id;
            run(Box::pin(async move { services::prompts::update(id, &input).await.map(drop) }));
        })
    };
    // Moving renumbers the whole list 10, 20, 30… so equal positions can still be reordered.
    let reorder = |from: usize, to: usize| {
        let (run, order) = (run.clone(), list.clone());
        Callback::from(move |_| {
            let mut order = order.clone();
            let moved = order.remove(from);
            order.insert(to, moved);
            run(Box::pin(async move {
                for (i, p) in order.iter().enumerate() {
                    let position = (i as i64 + 1) * 10;
                    if p.position != position {
                        let input = PromptInput {
                            name: p.name.clone(),
                            content: p.content.clone(),
                            enabled: p.enabled,
                            position,
                        };
                        services::prompts::update(p.id, &input).await?;
                    }
                }
                Ok(())
            }));
        })
    };
    let remove = |id: i64| {
        let run = run.clone();
        Callback::from(move |_| run(Box::pin(async move { services::prompts::remove(id).await })))
    };
    let edit = |id: Option<Option<i64>>| {
        let editing = editing.clone();
        Callback::from(move |_| editing.set(id))
    };
    let on_saved = {
        let (editing, reload) = (editing.clone(), reload.clone());
        Callback::from(move |_| {
            editing.set(None);
            reload.dispatch(());
        })
    };
    let next_position = list.iter().map(|p| p.position).max().unwrap_or(0) + 10;
    let count = list.len();
    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ i18n.t("prompts.title") }</h1>
                <button class="button primary" onclick={edit(Some(None))}>{ i18n.t("prompts.new") }</button>
            </div>
            <p class="muted">{ i18n.t("prompts.explain") }</p>
            if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
            if *editing == Some(None) {
                <PromptEditor prompt={None::<Prompt>} position={next_position} on_done={on_saved.clone()} on_cancel={edit(None)} />
            }
            <ol class="prompt-list">
                { for list.iter().enumerate().map(|(i, p)| html! {
                    <li class={classes!("card", "prompt", (!p.enabled).then_some("disabled"))} key={p.id}>
                        if *editing == Some(Some(p.id)) {
                            <PromptEditor prompt={Some(p.clone())} position={p.position} on_done={on_saved.clone()} on_cancel={edit(None)} />
                        } else {
                            <div class="prompt-head">
                                <h2>{ p.name.clone() }</h2>
                                <label class="switch">
                                    <input type="checkbox" checked={p.enabled} onchange={toggle(p)} />
                                    { i18n.t("prompts.enabled") }
                                </label>
                            </div>
                            <p class="pre clamp">{ p.content.clone() }</p>
                            <div class="card-actions">
                                <button class="button ghost" disabled={i == 0} onclick={reorder(i, i.saturating_sub(1))} aria-label={i18n.t("prompts.move_up")}>{ "↑" }</button>
                                <button class="button ghost" disabled={i + 1 == count} onclick={reorder(i, (i + 1).min(count - 1))} aria-label={i18n.t("prompts.move_down")}>{ "↓" }</button>
                                <button class="button ghost" onclick={edit(Some(Some(p.id)))}>{ i18n.t("characters.edit") }</button>
                                <button class="button ghost danger-text" onclick={remove(p.id)}>{ i18n.t("common.delete") }</button>
                            </div>
                        }
                    </li>
                }) }
            </ol>
            if prompts.as_ref().is_some_and(Vec::is_empty) { <p class="muted">{ i18n.t("prompts.none") }</p> }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct EditorProps {
    prompt: Option<Prompt>,
    position: i64,
    on_done: Callback<()>,
    on_cancel: Callback<MouseEvent>,
}

#[component]
fn PromptEditor(props: &EditorProps) -> Html {
    let i18n = use_i18n();
    let name = use_state(|| props.prompt.as_ref().map(|p| p.name.clone()).unwrap_or_default());
    let content = use_state(|| props.prompt.as_ref().map(|p| p.content.clone()).unwrap_or_default());
    let error = use_state(|| None::<String>);
    let name_error = rules::check_text("name", &name, rules::PROMPT_NAME_MAX_CHARS, true)
        .err()
        .map(|v| i18n.rule(&v, rules::PROMPT_NAME_MAX_CHARS));
    let content_error = rules::check_text("content", &content, rules::PROMPT_CONTENT_MAX_CHARS, true)
        .err()
        .map(|v| i18n.rule(&v, rules::PROMPT_CONTENT_MAX_CHARS));
    let valid = name_error.is_none() && content_error.is_none();
    let onsubmit = {
        let (name, content, error, i18n, on_done) =
            (name.clone(), content.clone(), error.clone(), i18n.clone(), props.on_done.clone());
        let (id, enabled, position) =
            (props.prompt.as_ref().map(|p| p.id), props.prompt.as_ref().is_none_or(|p| p.enabled), props.position);
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if !valid {
                return;
            }
            let input = PromptInput { name: (*name).clone(), content: (*content).clone(), enabled, position };
            let (error, i18n, on_done) = (error.clone(), i18n.clone(), on_done.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let saved = match id {
                    Some(id) => services::prompts::update(id, &input).await,
                    None => services::prompts::create(&input).await,
                };
                match saved {
                    Ok(_) => on_done.emit(()),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let set = |state: &UseStateHandle<String>| {
        let state = state.clone();
        Callback::from(move |v: String| state.set(v))
    };
    let touched = |value: &str, error: Option<String>| if value.is_empty() { None } else { error };
    html! {
        <form class="card stack" {onsubmit}>
            <Field id="prompt-name" label={i18n.t("form.name")} value={(*name).clone()} oninput={set(&name)} error={touched(&name, name_error)} required=true />
            <Field id="prompt-content" label={i18n.t("prompts.content")} value={(*content).clone()} oninput={set(&content)}
                error={touched(&content, content_error)} hint={Some(i18n.t("form.placeholders_hint"))} multiline=true required=true />
            if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
            <div class="form-actions">
                <button type="button" class="button ghost" onclick={props.on_cancel.clone()}>{ i18n.t("common.cancel") }</button>
                <button type="submit" class="button primary" disabled={!valid}>{ i18n.t("common.save") }</button>
            </div>
        </form>
    }
}
