//! Create or edit a character, with the server's rules checked as the user types.

use troupe_types::{
    CharacterInput, Model, Visibility,
    rules::{self, RuleViolation},
};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    components::{avatar::Avatar, field::Field},
    hooks::use_load,
    i18n::use_i18n,
    routes::Route,
    services,
};

#[derive(Properties, PartialEq)]
pub struct CharacterFormProps {
    /// `None` to create a new character.
    pub id: Option<i64>,
}

/// Every field's rule, so the form shows exactly what the server would refuse.
fn violations(input: &CharacterInput, tags: &str) -> Vec<(RuleViolation, usize)> {
    use rules::*;
    let texts = [
        ("name", &input.name, CHARACTER_NAME_MAX_CHARS, true),
        ("description", &input.description, CHARACTER_TEXT_MAX_CHARS, false),
        ("personality", &input.personality, CHARACTER_TEXT_MAX_CHARS, false),
        ("scenario", &input.scenario, CHARACTER_TEXT_MAX_CHARS, false),
        ("system_prompt", &input.system_prompt, CHARACTER_TEXT_MAX_CHARS, false),
        ("greeting", &input.greeting, CHARACTER_TEXT_MAX_CHARS, false),
        ("example_dialogue", &input.example_dialogue, CHARACTER_TEXT_MAX_CHARS, false),
    ];
    let mut found: Vec<_> = texts
        .into_iter()
        .filter_map(|(field, value, max, required)| check_text(field, value, max, required).err().map(|v| (v, max)))
        .collect();
    if let Some(url) = input.avatar_url.as_deref() {
        found.extend(check_url("avatar_url", url).err().map(|v| (v, AVATAR_URL_MAX_CHARS)));
    }
    found.extend(normalize_tags(&split_tags(tags)).err().map(|v| (v, TAG_MAX_CHARS)));
    found
}

fn split_tags(tags: &str) -> Vec<String> {
    tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

#[component]
pub fn CharacterForm(props: &CharacterFormProps) -> Html {
    let i18n = use_i18n();
    let navigator = use_navigator().expect("inside the router");
    let input = use_state(CharacterInput::default);
    let tags = use_state(String::new);
    let models = use_load((), |()| services::characters::models());
    let models: Vec<Model> = models.value().map(|list| list.items.clone()).unwrap_or_default();
    let server_error = use_state(|| None::<(Option<String>, String)>);
    let busy = use_state(|| false);
    let tried = use_state(|| false);
    {
        let (input, tags, server_error, i18n) = (input.clone(), tags.clone(), server_error.clone(), i18n.clone());
        // The character's fields seed the form, which the user then edits.
        use_effect_with(props.id, move |&id| {
            wasm_bindgen_futures::spawn_local(async move {
                let Some(id) = id else { return };
                match services::characters::fetch(id).await {
                    Ok(c) => {
                        tags.set(c.tags.join(", "));
                        input.set(CharacterInput {
                            name: c.name,
                            description: c.description,
                            personality: c.personality,
                            scenario: c.scenario,
                            system_prompt: c.system_prompt,
                            greeting: c.greeting,
                            example_dialogue: c.example_dialogue,
                            avatar_url: c.avatar_url,
                            tags: c.tags,
                            visibility: c.visibility,
                            model: c.model,
                            // The card's other fields are left out: the server keeps them.
                            ..CharacterInput::default()
                        });
                    }
                    Err(e) => server_error.set(Some((None, i18n.error(&e)))),
                }
            });
        });
    }

    let problems = violations(&input, &tags);
    let error_for = |field: &str| -> Option<String> {
        let local = problems.iter().find(|(v, _)| v.field == field).filter(|_| *tried || field != "name");
        local.map(|(v, max)| i18n.rule(v, *max)).or_else(|| {
            server_error.as_ref().filter(|(f, _)| f.as_deref() == Some(field)).map(|(_, message)| message.clone())
        })
    };
    let edit = |set: fn(&mut CharacterInput, String)| {
        let input = input.clone();
        Callback::from(move |value: String| {
            let mut next = (*input).clone();
            set(&mut next, value);
            input.set(next);
        })
    };
    let on_tags = {
        let tags = tags.clone();
        Callback::from(move |value: String| tags.set(value))
    };
    let on_visibility = {
        let input = input.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            let visibility = if value == "public" { Visibility::Public } else { Visibility::Private };
            input.set(CharacterInput { visibility, ..(*input).clone() });
        })
    };
    let on_model = {
        let input = input.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            input.set(CharacterInput { model: Some(value).filter(|v| !v.is_empty()), ..(*input).clone() });
        })
    };
    let onsubmit = {
        let (input, tags, navigator, server_error, busy, tried, i18n) = (
            input.clone(),
            tags.clone(),
            navigator.clone(),
            server_error.clone(),
            busy.clone(),
            tried.clone(),
            i18n.clone(),
        );
        let id = props.id;
        let valid = problems.is_empty();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            tried.set(true);
            if !valid {
                return;
            }
            let mut body = (*input).clone();
            body.tags = split_tags(&tags);
            let (navigator, server_error, busy, i18n) =
                (navigator.clone(), server_error.clone(), busy.clone(), i18n.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let saved = match id {
                    Some(id) => services::characters::update(id, &body).await,
                    None => services::characters::create(&body).await,
                };
                busy.set(false);
                match saved {
                    Ok(_) => navigator.push(&Route::Characters),
                    Err(e) => server_error.set(Some((e.field.clone(), i18n.error(&e)))),
                }
            });
        })
    };
    let avatar_url = input.avatar_url.clone().unwrap_or_default();
    // Previewed only once it is a whole address, not at every keystroke on the way.
    let preview_url =
        input.avatar_url.clone().filter(|url| rules::check_url("avatar_url", url).is_ok()).map(AttrValue::from);
    let general_error = server_error.as_ref().filter(|(field, _)| field.is_none()).map(|(_, m)| m.clone());
    html! {
        <section class="page narrow">
            <div class="page-head">
                <h1>{ if props.id.is_some() { i18n.t("form.edit_title") } else { i18n.t("form.new_title") } }</h1>
                <Avatar name={if input.name.is_empty() { "?".to_owned() } else { input.name.clone() }}
                    url={preview_url} large=true />
            </div>
            <form class="stack" {onsubmit} novalidate=true>
                <Field id="name" label={i18n.t("form.name")} value={input.name.clone()} oninput={edit(|i, v| i.name = v)} error={error_for("name")} required=true />
                <Field id="description" label={i18n.t("form.description")} value={input.description.clone()} oninput={edit(|i, v| i.description = v)} error={error_for("description")} multiline=true />
                <Field id="personality" label={i18n.t("form.personality")} value={input.personality.clone()} oninput={edit(|i, v| i.personality = v)} error={error_for("personality")} multiline=true />
                <Field id="scenario" label={i18n.t("form.scenario")} value={input.scenario.clone()} oninput={edit(|i, v| i.scenario = v)} error={error_for("scenario")} multiline=true />
                <Field id="system_prompt" label={i18n.t("form.system_prompt")} value={input.system_prompt.clone()} oninput={edit(|i, v| i.system_prompt = v)}
                    error={error_for("system_prompt")} hint={Some(i18n.t("form.placeholders_hint"))} multiline=true />
                <Field id="greeting" label={i18n.t("form.greeting")} value={input.greeting.clone()} oninput={edit(|i, v| i.greeting = v)} error={error_for("greeting")} multiline=true />
                <Field id="example_dialogue" label={i18n.t("form.example_dialogue")} value={input.example_dialogue.clone()} oninput={edit(|i, v| i.example_dialogue = v)} error={error_for("example_dialogue")} multiline=true />
                <Field id="avatar_url" kind="url" label={i18n.t("form.avatar_url")} value={avatar_url}
                    oninput={edit(|i, v| i.avatar_url = Some(v.trim().to_owned()).filter(|v| !v.is_empty()))} error={error_for("avatar_url")} />
                <Field id="tags" label={i18n.t("form.tags")} value={(*tags).clone()} oninput={on_tags} error={error_for("tags")} hint={Some(i18n.t("form.tags_hint"))} />
                <div class="row">
                    <div class="field">
                        <label for="visibility">{ i18n.t("form.visibility") }</label>
                        <select id="visibility" onchange={on_visibility}>
                            <option value="private" selected={input.visibility == Visibility::Private}>{ i18n.t("characters.private") }</option>
                            <option value="public" selected={input.visibility == Visibility::Public}>{ i18n.t("characters.public") }</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for="model">{ i18n.t("chat.model") }</label>
                        <select id="model" onchange={on_model}>
                            <option value="" selected={input.model.is_none()}>{ i18n.t("form.default_model") }</option>
                            { for models.iter().map(|m| html! {
                                <option value={m.id.clone()} selected={input.model.as_deref() == Some(m.id.as_str())}>{ m.display_name.clone() }</option>
                            }) }
                        </select>
                    </div>
                </div>
                if let Some(error) = general_error { <p class="form-error" role="alert">{ error }</p> }
                <div class="form-actions">
                    <Link<Route> to={Route::Characters} classes="button ghost">{ i18n.t("common.cancel") }</Link<Route>>
                    <button class="button primary" type="submit" disabled={*busy} data-testid="save-character">{ i18n.t("common.save") }</button>
                </div>
            </form>
        </section>
    }
}
