//! Create or edit a character, with the server's rules checked as the user types.

use troupe_types::{
    Character, CharacterInput, Model, Visibility,
    rules::{self, RuleViolation},
};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    components::{
        avatar::{Avatar, picture_of},
        field::Field,
    },
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
    let post_history = input.post_history_instructions.clone().unwrap_or_default();
    let texts = [
        ("name", &input.name, CHARACTER_NAME_MAX_CHARS, true),
        ("description", &input.description, CHARACTER_TEXT_MAX_CHARS, false),
        ("personality", &input.personality, CHARACTER_TEXT_MAX_CHARS, false),
        ("scenario", &input.scenario, CHARACTER_TEXT_MAX_CHARS, false),
        ("system_prompt", &input.system_prompt, CHARACTER_TEXT_MAX_CHARS, false),
        ("greeting", &input.greeting, CHARACTER_TEXT_MAX_CHARS, false),
        ("example_dialogue", &input.example_dialogue, CHARACTER_TEXT_MAX_CHARS, false),
        ("post_history_instructions", &post_history, CHARACTER_TEXT_MAX_CHARS, false),
    ];
    let mut found: Vec<_> = texts
        .into_iter()
        .filter_map(|(field, value, max, required)| check_text(field, value, max, required).err().map(|v| (v, max)))
        .collect();
    if let Some(url) = input.avatar_url.as_deref() {
        found.extend(check_url("avatar_url", url).err().map(|v| (v, AVATAR_URL_MAX_CHARS)));
    }
    found.extend(normalize_tags(&split_tags(tags)).err().map(|v| (v, TAG_MAX_CHARS)));
    for greeting in input.alternate_greetings.iter().flatten() {
        let field = "alternate_greetings";
        found.extend(
            check_text(field, greeting, CHARACTER_TEXT_MAX_CHARS, false).err().map(|v| (v, CHARACTER_TEXT_MAX_CHARS)),
        );
    }
    found
}

/// Changes the alternate greetings the form holds.
fn change_greetings(input: &UseStateHandle<CharacterInput>, change: impl FnOnce(&mut Vec<String>)) {
    let mut next = (**input).clone();
    change(next.alternate_greetings.get_or_insert_with(Vec::new));
    input.set(next);
}

fn split_tags(tags: &str) -> Vec<String> {
    tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

#[component]
pub fn CharacterForm(props: &CharacterFormProps) -> Html {
    let i18n = use_i18n();
    let navigator = use_navigator().expect("inside the router");
    let input = use_state(|| CharacterInput { alternate_greetings: Some(Vec::new()), ..CharacterInput::default() });
    // The stored character, for its picture (`None` while creating one).
    let stored = use_state(|| None::<Character>);
    let tags = use_state(String::new);
    let models = use_load((), |()| services::characters::models());
    let models: Vec<Model> = models.value().map(|list| list.items.clone()).unwrap_or_default();
    let server_error = use_state(|| None::<(Option<String>, String)>);
    let busy = use_state(|| false);
    let tried = use_state(|| false);
    {
        let (input, tags, server_error, stored, i18n) =
            (input.clone(), tags.clone(), server_error.clone(), stored.clone(), i18n.clone());
        // The character's fields seed the form, which the user then edits.
        use_effect_with(props.id, move |&id| {
            wasm_bindgen_futures::spawn_local(async move {
                let Some(id) = id else { return };
                match services::characters::fetch(id).await {
                    Ok(c) => {
                        tags.set(c.tags.join(", "));
                        stored.set(Some(c.clone()));
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
                            alternate_greetings: Some(c.alternate_greetings),
                            post_history_instructions: Some(c.post_history_instructions),
                            // The card's other fields (lorebook, extensions, creator's notes…)
                            // are left out: the server keeps them.
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
    let greetings = input.alternate_greetings.clone().unwrap_or_default();
    let add_greeting = {
        let input = input.clone();
        Callback::from(move |_: MouseEvent| change_greetings(&input, |g| g.push(String::new())))
    };
    let greeting_input = |index: usize| {
        let input = input.clone();
        Callback::from(move |value: String| change_greetings(&input, |g| g[index] = value))
    };
    let remove_greeting = |index: usize| {
        let input = input.clone();
        Callback::from(move |_: MouseEvent| change_greetings(&input, |g| drop(g.remove(index))))
    };
    let on_avatar_file = {
        let (stored, server_error, i18n) = (stored.clone(), server_error.clone(), i18n.clone());
        let id = props.id;
        Callback::from(move |e: Event| {
            let picked: web_sys::HtmlInputElement = e.target_unchecked_into();
            let (Some(id), Some(file)) = (id, picked.files().and_then(|f| f.get(0))) else { return };
            let (stored, server_error, i18n) = (stored.clone(), server_error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::characters::set_avatar(id, file).await {
                    Ok(c) => stored.set(Some(c)),
                    Err(e) => server_error.set(Some((Some("avatar".into()), i18n.error(&e)))),
                }
            });
        })
    };
    let remove_avatar = {
        let (stored, server_error, i18n) = (stored.clone(), server_error.clone(), i18n.clone());
        let id = props.id;
        Callback::from(move |_: MouseEvent| {
            let Some(id) = id else { return };
            let (stored, server_error, i18n) = (stored.clone(), server_error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::characters::remove_avatar(id).await {
                    Ok(()) => stored.set(stored.as_ref().map(|c| Character { has_avatar: false, ..c.clone() })),
                    Err(e) => server_error.set(Some((Some("avatar".into()), i18n.error(&e)))),
                }
            });
        })
    };
    let has_avatar = stored.as_ref().is_some_and(|c| c.has_avatar);
    let book_entries = stored.as_ref().and_then(|c| c.character_book.as_ref()).map(|b| b.entries.len());
    let avatar_url = input.avatar_url.clone().unwrap_or_default();
    // Previewed only once it is a whole address, not at every keystroke on the way.
    let preview_url = stored.as_ref().filter(|c| c.has_avatar).and_then(picture_of).or_else(|| {
        input.avatar_url.clone().filter(|url| rules::check_url("avatar_url", url).is_ok()).map(AttrValue::from)
    });
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
                <fieldset class="stack greetings">
                    <legend>{ i18n.t("form.alternate_greetings") }</legend>
                    { for greetings.iter().enumerate().map(|(index, text)| html! {
                        <div class="row greeting" key={index}>
                            <Field id={format!("alternate-greeting-{index}")} label={i18n.tf("form.alternate_greeting_n", &[("n", (index + 1).to_string())])}
                                value={text.clone()} oninput={greeting_input(index)} multiline=true />
                            <button type="button" class="button ghost danger-text" onclick={remove_greeting(index)}>{ i18n.t("common.delete") }</button>
                        </div>
                    }) }
                    if let Some(error) = error_for("alternate_greetings") { <p class="form-error">{ error }</p> }
                    <button type="button" class="button ghost" onclick={add_greeting} data-testid="add-greeting">{ i18n.t("form.add_greeting") }</button>
                </fieldset>
                <Field id="example_dialogue" label={i18n.t("form.example_dialogue")} value={input.example_dialogue.clone()} oninput={edit(|i, v| i.example_dialogue = v)} error={error_for("example_dialogue")} multiline=true
                    hint={Some(i18n.t("form.example_dialogue_hint"))} />
                <Field id="post_history_instructions" label={i18n.t("form.post_history_instructions")}
                    value={input.post_history_instructions.clone().unwrap_or_default()}
                    oninput={edit(|i, v| i.post_history_instructions = Some(v))} error={error_for("post_history_instructions")}
                    hint={Some(i18n.t("form.post_history_hint"))} multiline=true />
                if props.id.is_some() {
                    <div class="field">
                        <label for="avatar-file">{ i18n.t("form.avatar_image") }</label>
                        <div class="row">
                            <input id="avatar-file" type="file" accept="image/png,image/jpeg,image/webp" onchange={on_avatar_file} data-testid="avatar-file" />
                            if has_avatar {
                                <button type="button" class="button ghost danger-text" onclick={remove_avatar}>{ i18n.t("form.remove_avatar") }</button>
                            }
                        </div>
                        if let Some(error) = error_for("avatar") { <p class="form-error" role="alert">{ error }</p> }
                    </div>
                }
                if let Some(entries) = book_entries {
                    <p class="muted small">{ i18n.tf("form.lorebook_kept", &[("n", entries.to_string())]) }</p>
                }
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
                    if let Some(id) = props.id {
                        <a class="button ghost" href={services::characters::export_url(id, "png")} download="">{ i18n.t("cards.export_png") }</a>
                        <a class="button ghost" href={services::characters::export_url(id, "json")} download="">{ i18n.t("cards.export_json") }</a>
                    }
                    <Link<Route> to={Route::Characters} classes="button ghost">{ i18n.t("common.cancel") }</Link<Route>>
                    <button class="button primary" type="submit" disabled={*busy} data-testid="save-character">{ i18n.t("common.save") }</button>
                </div>
            </form>
        </section>
    }
}
