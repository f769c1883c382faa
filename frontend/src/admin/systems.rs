//! Connected systems (the service gateway): other products whose users chat through Troupe,
//! listed with their usage; created, edited, their secrets rotated, disabled and enabled
//! again. A system's secrets are shown once, when it is created or they are rotated.

use troupe_types::{CreateSystem, CreatedSystem, System, SystemSecrets, UpdateSystem};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    components::{field::Field, secret::SecretField},
    format::thousands,
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    routes::Route,
    services::{self, ApiError, ApiResult, admin},
};

/// Secrets to show this once, and whose they are.
#[derive(Clone, Debug, PartialEq)]
struct Shown {
    system_id: String,
    secrets: SystemSecrets,
}

/// What a row's buttons do; `Rotate` and `Disable` ask first.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Action {
    Rotate,
    Disable,
    Enable,
}

/// Runs `action` on the system; a rotation answers with the new secrets.
async fn perform(id: &str, action: Action) -> ApiResult<Option<SystemSecrets>> {
    match action {
        Action::Rotate => admin::rotate_system(id).await.map(Some),
        Action::Disable => admin::disable_system(id).await.map(|()| None),
        Action::Enable => {
            let change = UpdateSystem { disabled: Some(false), ..Default::default() };
            admin::update_system(id, &change).await.map(|_| None)
        }
    }
}

#[component]
pub fn Systems() -> Html {
    let i18n = use_i18n();
    let reload = use_refresh();
    let list = use_load(reload.0, |_| admin::systems());
    // The open form: for a new system (`None`), or for editing this one.
    let form = use_state(|| None::<Option<System>>);
    let shown = use_state(|| None::<Shown>);
    let asking = use_state(|| None::<(String, Action)>);
    let action_error = use_state(|| None::<String>);
    // A failed action, else a failed load.
    let error = (*action_error).clone().or_else(|| list.error().map(|e| i18n.error(e)));
    let act = |id: &str| {
        let (id, reload, shown, asking, error, i18n) =
            (id.to_owned(), reload.clone(), shown.clone(), asking.clone(), action_error.clone(), i18n.clone());
        Callback::from(move |action: Action| {
            let (id, reload, shown, asking, error, i18n) =
                (id.clone(), reload.clone(), shown.clone(), asking.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                asking.set(None);
                match perform(&id, action).await {
                    Ok(secrets) => {
                        error.set(None);
                        if let Some(secrets) = secrets {
                            shown.set(Some(Shown { system_id: id, secrets }));
                        }
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
                reload.dispatch(());
            });
        })
    };
    let ask = |id: &str| {
        let (id, asking) = (id.to_owned(), asking.clone());
        Callback::from(move |action: Option<Action>| asking.set(action.map(|a| (id.clone(), a))))
    };
    let set_form = |open: Option<Option<System>>| {
        let form = form.clone();
        Callback::from(move |_: MouseEvent| form.set(open.clone()))
    };
    let on_saved = {
        let (form, shown, reload) = (form.clone(), shown.clone(), reload.clone());
        Callback::from(move |created: Option<CreatedSystem>| {
            if let Some(created) = created {
                let secrets = SystemSecrets { service_key: created.service_key, jwt_secret: created.jwt_secret };
                shown.set(Some(Shown { system_id: created.system.id, secrets }));
            }
            form.set(None);
            reload.dispatch(());
        })
    };
    let close_secrets = {
        let shown = shown.clone();
        Callback::from(move |_: MouseEvent| shown.set(None))
    };
    let row = |s: &System| {
        let asking = asking.as_ref().filter(|(id, _)| *id == s.id).map(|(_, action)| *action);
        html! {
            <SystemRow key={s.id.clone()} system={s.clone()} {asking} on_ask={ask(&s.id)} on_act={act(&s.id)}
                on_edit={set_form(Some(Some(s.clone())))} />
        }
    };
    html! {
        <div class="stack">
            <div class="toolbar">
                <span class="muted grow">{ i18n.t("admin.systems.intro") }</span>
                if form.is_none() {
                    <button class="button primary" onclick={set_form(Some(None))}>{ i18n.t("admin.systems.new") }</button>
                }
            </div>
            if let Some(shown) = &*shown { <SecretsPanel shown={shown.clone()} on_close={close_secrets} /> }
            if let Some(editing) = &*form {
                // Keyed by the system, so that editing another one starts from its values.
                <SystemForm key={editing.as_ref().map_or("", |s| s.id.as_str())} editing={editing.clone()} {on_saved}
                    on_cancel={set_form(None)} />
            }
            if let Some(error) = &error { <p class="form-error" role="alert">{ error.clone() }</p> }
            { match list.value().map(|l| l.items.clone()).as_deref() {
                None => html! {},
                Some([]) => html! { <p class="muted">{ i18n.t("admin.systems.none") }</p> },
                Some(systems) => html! {
                    <div class="table-scroll">
                        <table class="systems">
                            <thead><tr>
                                <th scope="col">{ i18n.t("admin.systems.system") }</th>
                                <th scope="col">{ i18n.t("admin.systems.origins") }</th>
                                <th scope="col">{ i18n.t("admin.systems.default_character") }</th>
                                <th scope="col">{ i18n.t("chat.model") }</th>
                                <th scope="col" class="num">{ i18n.t("admin.systems.quota") }</th>
                                <th scope="col">{ i18n.t("admin.systems.key") }</th>
                                <th scope="col" class="num">{ i18n.t("admin.users_total") }</th>
                                <th scope="col" class="num">{ i18n.t("admin.messages") }</th>
                                <th scope="col" class="num">{ i18n.t("admin.tokens") }</th>
                                <th scope="col" class="num">{ i18n.t("admin.tokens_today") }</th>
                                <th scope="col"><span class="visually-hidden">{ i18n.t("admin.actions") }</span></th>
                            </tr></thead>
                            <tbody>{ for systems.iter().map(row) }</tbody>
                        </table>
                    </div>
                },
            } }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct RowProps {
    system: System,
    /// The action waiting for a yes on this row.
    asking: Option<Action>,
    on_ask: Callback<Option<Action>>,
    on_act: Callback<Action>,
    on_edit: Callback<MouseEvent>,
}

#[component]
fn SystemRow(props: &RowProps) -> Html {
    let i18n = use_i18n();
    let s = &props.system;
    let ask = |action: Option<Action>| props.on_ask.reform(move |_: MouseEvent| action);
    let act = |action: Action| props.on_act.reform(move |_: MouseEvent| action);
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "–".to_owned());
    let actions = match props.asking {
        Some(action) => {
            let (question, yes) = match action {
                Action::Disable => ("admin.systems.confirm_disable", "admin.disable"),
                _ => ("admin.systems.confirm_rotate", "admin.systems.rotate"),
            };
            html! {
                <span class="confirm" role="alert">
                    { i18n.tf(question, &[("system", s.id.clone())]) }
                    <button class="button danger" onclick={act(action)}>{ i18n.t(yes) }</button>
                    <button class="button ghost" onclick={ask(None)}>{ i18n.t("common.cancel") }</button>
                </span>
            }
        }
        None => html! {
            <>
                <button class="button ghost" onclick={props.on_edit.clone()}>{ i18n.t("admin.systems.edit") }</button>
                <button class="button ghost" onclick={ask(Some(Action::Rotate))}>{ i18n.t("admin.systems.rotate") }</button>
                if s.disabled {
                    <button class="button ghost" onclick={act(Action::Enable)}>{ i18n.t("admin.enable") }</button>
                } else {
                    <button class="button ghost danger-text" onclick={ask(Some(Action::Disable))}>{ i18n.t("admin.disable") }</button>
                }
                <Link<Route, [(&'static str, String); 1]> to={Route::Conversations} query={Some([("system_id", s.id.clone())])} classes="button ghost">
                    { i18n.t("admin.conversations") }
                </Link<Route, [(&'static str, String); 1]>>
            </>
        },
    };
    html! {
        <tr class={classes!(s.disabled.then_some("disabled"))} data-testid="system-row">
            <th scope="row">
                { s.name.clone() }
                if s.disabled { <span class="badge muted">{ i18n.t("admin.disabled_badge") }</span> }
                <div class="muted small"><code>{ s.id.clone() }</code></div>
            </th>
            <td class="small">
                { for s.allowed_origins.iter().map(|o| html! { <div>{ o.clone() }</div> }) }
                if s.allowed_origins.is_empty() { { "–" } }
            </td>
            <td>{ or_dash(s.default_character_id.map(|id| format!("#{id}"))) }</td>
            <td class="muted small">{ s.model.clone().unwrap_or_else(|| i18n.t("admin.systems.server_default")) }</td>
            <td class="num">{ s.daily_token_quota_per_user.map_or_else(|| i18n.t("admin.systems.server_default"), thousands) }</td>
            <td><code class="key-prefix">{ format!("{}…", s.key_prefix) }</code></td>
            <td class="num">{ thousands(s.users) }</td>
            <td class="num">{ thousands(s.messages) }</td>
            <td class="num">{ thousands(s.total_tokens) }</td>
            <td class="num">{ thousands(s.tokens_today) }</td>
            <td class="actions">{ actions }</td>
        </tr>
    }
}

#[derive(Properties, PartialEq)]
struct SecretsPanelProps {
    shown: Shown,
    on_close: Callback<MouseEvent>,
}

/// A system's new secrets, to copy before they go for good.
#[component]
fn SecretsPanel(props: &SecretsPanelProps) -> Html {
    let i18n = use_i18n();
    let secrets = &props.shown.secrets;
    let service_key = i18n.t("admin.systems.service_key");
    let jwt_secret = i18n.t("admin.systems.jwt_secret");
    html! {
        <section class="new-secret" role="status" data-testid="system-secrets">
            <p><strong>{ i18n.tf("admin.systems.secrets_for", &[("system", props.shown.system_id.clone())]) }</strong></p>
            <p><strong>{ i18n.t("admin.systems.shown_once") }</strong></p>
            <p class="small">{ service_key.clone() }</p>
            <SecretField label={service_key} value={secrets.service_key.clone()} />
            <p class="small">{ jwt_secret.clone() }</p>
            <SecretField label={jwt_secret} value={secrets.jwt_secret.clone()} />
            <div class="form-actions">
                <button class="button ghost" onclick={props.on_close.clone()}>{ i18n.t("admin.systems.done") }</button>
            </div>
        </section>
    }
}

/// What the form holds, as typed.
#[derive(Clone, Debug, Default, PartialEq)]
struct Draft {
    id: String,
    name: String,
    /// One origin a line.
    origins: String,
    character: String,
    model: String,
    quota: String,
}

/// The fields of `CreateSystem` and `UpdateSystem`, as the server names them in its errors.
const FIELDS: [&str; 6] =
    ["id", "name", "allowed_origins", "default_character_id", "model", "daily_token_quota_per_user"];

impl From<&System> for Draft {
    fn from(s: &System) -> Self {
        let text = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            origins: s.allowed_origins.join("\n"),
            character: text(s.default_character_id),
            model: s.model.clone().unwrap_or_default(),
            quota: text(s.daily_token_quota_per_user),
        }
    }
}

impl Draft {
    /// The request, or the field whose text is not a number of 0 or more.
    fn request(&self) -> Result<CreateSystem, &'static str> {
        let number = |text: &str, field: &'static str| match text.trim() {
            "" => Ok(None),
            text => text.parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or(field),
        };
        Ok(CreateSystem {
            id: self.id.trim().to_owned(),
            name: self.name.trim().to_owned(),
            allowed_origins: self.origins.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
            default_character_id: number(&self.character, "default_character_id")?,
            model: Some(self.model.clone()).filter(|m| !m.is_empty()),
            daily_token_quota_per_user: number(&self.quota, "daily_token_quota_per_user")?,
        })
    }
}

/// Creates the system, or saves every field but the id to the one `editing` names (empty
/// fields clear theirs); a creation answers with the new system and its secrets.
async fn save(editing: Option<&str>, body: CreateSystem) -> ApiResult<Option<CreatedSystem>> {
    let Some(id) = editing else { return admin::create_system(&body).await.map(Some) };
    let change = UpdateSystem {
        name: Some(body.name),
        allowed_origins: Some(body.allowed_origins),
        default_character_id: Some(body.default_character_id),
        model: Some(body.model),
        daily_token_quota_per_user: Some(body.daily_token_quota_per_user),
        disabled: None,
    };
    admin::update_system(id, &change).await.map(|_| None)
}

/// The field an API error names (`allowed_origins[2]` → `allowed_origins`), if it is one of
/// the form's.
fn form_field(error: &ApiError) -> Option<&'static str> {
    let named = error.field.as_deref()?.split(['[', '.']).next()?;
    FIELDS.into_iter().find(|f| *f == named)
}

#[derive(Properties, PartialEq)]
struct FormProps {
    /// The system to edit; `None`: a new one.
    editing: Option<System>,
    /// After a save: the new system with its secrets, or `None` after an edit.
    on_saved: Callback<Option<CreatedSystem>>,
    on_cancel: Callback<MouseEvent>,
}

#[component]
fn SystemForm(props: &FormProps) -> Html {
    let i18n = use_i18n();
    let draft = use_state(|| props.editing.as_ref().map(Draft::from).unwrap_or_default());
    let server_error = use_state(|| None::<ApiError>);
    let characters = use_load((), |_| services::characters::choices());
    let models = use_load((), |_| services::characters::models());
    let request = draft.request();
    let error_for = |field: &str| {
        let local = (request.as_ref().err() == Some(&field)).then(|| i18n.t("admin.systems.not_a_number"));
        let server = server_error.as_ref().filter(|e| form_field(e) == Some(field)).map(|e| i18n.error(e));
        local.or(server)
    };
    let form_error = server_error.as_ref().filter(|e| form_field(e).is_none()).map(|e| i18n.error(e));
    let edit = |set: fn(&mut Draft, String)| {
        let (draft, server_error) = (draft.clone(), server_error.clone());
        Callback::from(move |value: String| {
            let mut next = (*draft).clone();
            set(&mut next, value);
            draft.set(next);
            server_error.set(None);
        })
    };
    let ready = request.as_ref().is_ok_and(|r| !r.id.is_empty() && !r.name.is_empty());
    let onsubmit = {
        let (server_error, on_saved) = (server_error.clone(), props.on_saved.clone());
        let (body, editing) = (request.clone().ok(), props.editing.as_ref().map(|s| s.id.clone()));
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(body) = body.clone() else { return };
            let (server_error, on_saved, editing) = (server_error.clone(), on_saved.clone(), editing.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match save(editing.as_deref(), body).await {
                    Ok(created) => on_saved.emit(created),
                    Err(e) => server_error.set(Some(e)),
                }
            });
        })
    };
    let character_options: Vec<_> = characters
        .value()
        .map(|l| l.items.iter().map(|c| (c.id.to_string(), format!("{} (#{})", c.name, c.id))).collect())
        .unwrap_or_default();
    let model_options: Vec<_> = models
        .value()
        .map(|l| l.items.iter().map(|m| (m.id.clone(), format!("{} ({})", m.display_name, m.id))).collect())
        .unwrap_or_default();
    let (title, submit) = match props.editing {
        None => ("admin.systems.new", "admin.systems.create"),
        Some(_) => ("admin.systems.edit_title", "common.save"),
    };
    html! {
        <form class="card stack" {onsubmit} novalidate=true data-testid="system-form">
            <h2>{ i18n.t(title) }</h2>
            <Field id="system-id" label={i18n.t("admin.systems.id")} value={draft.id.clone()} oninput={edit(|d, v| d.id = v)}
                error={error_for("id")} hint={Some(i18n.t("admin.systems.id_hint"))} required=true
                readonly={props.editing.is_some()} />
            <Field id="system-name" label={i18n.t("form.name")} value={draft.name.clone()} oninput={edit(|d, v| d.name = v)}
                error={error_for("name")} required=true />
            <Field id="system-origins" label={i18n.t("admin.systems.origins")} value={draft.origins.clone()} oninput={edit(|d, v| d.origins = v)}
                error={error_for("allowed_origins")} hint={Some(i18n.t("admin.systems.origins_hint"))} multiline=true />
            <Picker id="system-character" label={i18n.t("admin.systems.default_character")} value={draft.character.clone()}
                none={i18n.t("admin.systems.no_character")} options={character_options} error={error_for("default_character_id")}
                on_change={edit(|d, v| d.character = v)} />
            <Picker id="system-model" label={i18n.t("chat.model")} value={draft.model.clone()}
                none={i18n.t("admin.systems.model_default")} options={model_options} error={error_for("model")}
                on_change={edit(|d, v| d.model = v)} />
            <Field id="system-quota" kind="number" label={i18n.t("admin.systems.quota")} value={draft.quota.clone()} oninput={edit(|d, v| d.quota = v)}
                error={error_for("daily_token_quota_per_user")} hint={Some(i18n.t("admin.systems.quota_hint"))} />
            if let Some(error) = &form_error { <p class="form-error" role="alert">{ error.clone() }</p> }
            <div class="form-actions">
                <button type="button" class="button ghost" onclick={props.on_cancel.clone()}>{ i18n.t("common.cancel") }</button>
                <button type="submit" class="button primary" disabled={!ready}>{ i18n.t(submit) }</button>
            </div>
        </form>
    }
}

#[derive(Properties, PartialEq)]
struct PickerProps {
    id: AttrValue,
    label: String,
    /// The chosen option's value; empty: the `none` option.
    value: String,
    none: String,
    /// Value and label of each option after `none`.
    options: Vec<(String, String)>,
    error: Option<String>,
    on_change: Callback<String>,
}

/// A labelled select whose first option is "none", with its error under it as `Field` shows one.
#[component]
fn Picker(props: &PickerProps) -> Html {
    let onchange = props.on_change.reform(|e: Event| e.target_unchecked_into::<web_sys::HtmlSelectElement>().value());
    let error_id = format!("{}-error", props.id);
    // A value not among the options (a character past the first 100, say) still shows as the
    // chosen one, rather than `none` while the form keeps it.
    let unlisted = !props.value.is_empty() && props.options.iter().all(|(value, _)| *value != props.value);
    html! {
        <div class={classes!("field", props.error.is_some().then_some("has-error"))}>
            <label for={props.id.clone()}>{ props.label.clone() }</label>
            <select id={props.id.clone()} {onchange} aria-invalid={props.error.is_some().then_some("true")}
                aria-describedby={props.error.is_some().then(|| error_id.clone())}>
                <option value="" selected={props.value.is_empty()}>{ props.none.clone() }</option>
                if unlisted { <option value={props.value.clone()} selected=true>{ props.value.clone() }</option> }
                { for props.options.iter().map(|(value, label)| html! {
                    <option value={value.clone()} selected={*value == props.value}>{ label.clone() }</option>
                }) }
            </select>
            if let Some(error) = &props.error { <p class="field-error" id={error_id} role="alert">{ error.clone() }</p> }
        </div>
    }
}
