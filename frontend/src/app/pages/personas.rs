//! Personas: who the user is in a chat (`{{user}}`, and a description the character reads).
//! One may be the default, used by chats that name none.

use troupe_types::{Persona, PersonaInput, rules};
use yew::prelude::*;

use crate::{
    components::field::Field,
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    services,
};

#[component]
pub fn PersonasPage() -> Html {
    let i18n = use_i18n();
    let reload = use_refresh();
    let personas = use_load(reload.0, |_| services::personas::list());
    let draft = use_state(PersonaInput::default);
    // The persona being edited; `None` while adding one.
    let editing = use_state(|| None::<i64>);
    let error = use_state(|| None::<String>);
    let tried = use_state(|| false);

    let name_error = rules::check_text("name", draft.name.trim(), rules::PERSONA_NAME_MAX_CHARS, true)
        .err()
        .filter(|_| *tried)
        .map(|v| i18n.rule(&v, rules::PERSONA_NAME_MAX_CHARS));
    let description_error =
        rules::check_text("description", &draft.description, rules::CHARACTER_TEXT_MAX_CHARS, false)
            .err()
            .map(|v| i18n.rule(&v, rules::CHARACTER_TEXT_MAX_CHARS));
    let edit = |set: fn(&mut PersonaInput, String)| {
        let draft = draft.clone();
        Callback::from(move |value: String| {
            let mut next = (*draft).clone();
            set(&mut next, value);
            draft.set(next);
        })
    };
    let on_default = {
        let draft = draft.clone();
        Callback::from(move |e: Event| {
            let checked = e.target_unchecked_into::<web_sys::HtmlInputElement>().checked();
            draft.set(PersonaInput { is_default: checked, ..(*draft).clone() });
        })
    };
    let reset = {
        let (draft, editing, tried, error) = (draft.clone(), editing.clone(), tried.clone(), error.clone());
        Callback::from(move |_| {
            draft.set(PersonaInput::default());
            editing.set(None);
            tried.set(false);
            error.set(None);
        })
    };
    let onsubmit = {
        let (draft, editing, error, tried, reload, reset, i18n) =
            (draft.clone(), editing.clone(), error.clone(), tried.clone(), reload.clone(), reset.clone(), i18n.clone());
        let valid = name_error.is_none() && description_error.is_none() && !draft.name.trim().is_empty();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            tried.set(true);
            if !valid {
                return;
            }
            let (body, id) = ((*draft).clone(), *editing);
            let (error, reload, reset, i18n) = (error.clone(), reload.clone(), reset.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let saved = match id {
                    Some(id) => services::personas::update(id, &body).await,
                    None => services::personas::create(&body).await,
                };
                match saved {
                    Ok(_) => {
                        reset.emit(());
                        reload.dispatch(());
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let start_edit = |p: &Persona| {
        let (draft, editing) = (draft.clone(), editing.clone());
        let (id, input) =
            (p.id, PersonaInput { name: p.name.clone(), description: p.description.clone(), is_default: p.is_default });
        Callback::from(move |_| {
            draft.set(input.clone());
            editing.set(Some(id));
        })
    };
    let remove = |id: i64| {
        let (error, reload, reset, i18n) = (error.clone(), reload.clone(), reset.clone(), i18n.clone());
        Callback::from(move |_| {
            let (error, reload, reset, i18n) = (error.clone(), reload.clone(), reset.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::personas::remove(id).await {
                    Ok(()) => {
                        reset.emit(());
                        reload.dispatch(());
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let item = |p: &Persona| {
        html! {
            <li class="card persona" key={p.id} data-testid="persona">
                <div class="card-head">
                    <h2>{ p.name.clone() }</h2>
                    if p.is_default { <span class="tag static">{ i18n.t("personas.default") }</span> }
                </div>
                <p class="clamp">{ p.description.clone() }</p>
                <div class="card-actions">
                    <button class="button ghost" onclick={start_edit(p)}>{ i18n.t("characters.edit") }</button>
                    <button class="button ghost danger-text" onclick={remove(p.id)}>{ i18n.t("common.delete") }</button>
                </div>
            </li>
        }
    };
    html! {
        <section class="page narrow">
            <div class="page-head"><h1>{ i18n.t("personas.title") }</h1></div>
            <p class="muted">{ i18n.t("personas.intro") }</p>
            <form class="stack" {onsubmit} novalidate=true data-testid="persona-form">
                <Field id="persona-name" label={i18n.t("form.name")} value={draft.name.clone()}
                    oninput={edit(|d, v| d.name = v)} error={name_error} required=true />
                <Field id="persona-description" label={i18n.t("form.description")} value={draft.description.clone()}
                    oninput={edit(|d, v| d.description = v)} error={description_error} multiline=true
                    hint={Some(i18n.t("personas.description_hint"))} />
                <label class="check">
                    <input type="checkbox" checked={draft.is_default} onchange={on_default} />
                    { i18n.t("personas.make_default") }
                </label>
                if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
                <div class="form-actions">
                    if editing.is_some() {
                        <button type="button" class="button ghost" onclick={reset.reform(|_: MouseEvent| ())}>{ i18n.t("common.cancel") }</button>
                    }
                    <button class="button primary" type="submit">
                        { if editing.is_some() { i18n.t("common.save") } else { i18n.t("personas.add") } }
                    </button>
                </div>
            </form>
            { match personas.value().as_deref().map(Vec::as_slice) {
                None => html! { <p class="muted">{ i18n.t("common.loading") }</p> },
                Some([]) => html! { <p class="muted">{ i18n.t("personas.none") }</p> },
                Some(list) => html! { <ul class="card-grid">{ for list.iter().map(item) }</ul> },
            } }
        </section>
    }
}
