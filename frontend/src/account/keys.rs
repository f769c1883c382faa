//! API keys: what programs use to call Troupe as the user — its API, and OpenAI's clients at
//! `/v1`. A new key's secret is shown once, to copy; keys are listed by name and prefix, and
//! revoked here.

use troupe_types::{ApiKey, CreateApiKey, CreatedApiKey};
use yew::prelude::*;

use troupe_web::{
    components::{field::Field, secret::SecretField},
    format::local_time,
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    services,
};

/// The lifetimes offered, in days; `None`: never expires.
const LIFETIMES: [Option<i64>; 4] = [None, Some(30), Some(90), Some(365)];

#[component]
pub fn KeysPage() -> Html {
    let i18n = use_i18n();
    let reload = use_refresh();
    let keys = use_load(reload.0, |_| services::keys::list());
    let name = use_state(String::new);
    let lifetime = use_state(|| None::<i64>);
    let created = use_state(|| None::<CreatedApiKey>);
    let error = use_state(|| None::<String>);

    let onsubmit = {
        let (name, lifetime, created, error, reload, i18n) =
            (name.clone(), lifetime.clone(), created.clone(), error.clone(), reload.clone(), i18n.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = CreateApiKey { name: name.trim().to_owned(), expires_in_days: *lifetime };
            let (name, created, error, reload, i18n) =
                (name.clone(), created.clone(), error.clone(), reload.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::keys::create(&body).await {
                    Ok(key) => {
                        created.set(Some(key));
                        name.set(String::new());
                        error.set(None);
                        reload.dispatch(());
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let on_lifetime = {
        let lifetime = lifetime.clone();
        Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            lifetime.set(value.parse().ok());
        })
    };
    let revoke = |id: i64| {
        let (error, reload, created, i18n) = (error.clone(), reload.clone(), created.clone(), i18n.clone());
        Callback::from(move |_| {
            let (error, reload, created, i18n) = (error.clone(), reload.clone(), created.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::keys::revoke(id).await {
                    Ok(()) => {
                        if created.as_ref().is_some_and(|c| c.key.id == id) {
                            created.set(None);
                        }
                        reload.dispatch(());
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let when = |at: &Option<String>, none: &str| {
        at.as_deref().map_or_else(|| i18n.t(none), |at| local_time(at, i18n.lang.code()))
    };
    let item = |k: &ApiKey| {
        html! {
            <li class="card api-key" key={k.id} data-testid="api-key">
                <div class="card-head">
                    <h2>{ k.name.clone() }</h2>
                    <code class="key-prefix">{ format!("{}…", k.prefix) }</code>
                </div>
                <dl class="key-facts">
                    <dt>{ i18n.t("keys.created") }</dt><dd>{ local_time(&k.created_at, i18n.lang.code()) }</dd>
                    <dt>{ i18n.t("keys.last_used") }</dt><dd>{ when(&k.last_used_at, "keys.never_used") }</dd>
                    <dt>{ i18n.t("keys.expires") }</dt><dd>{ when(&k.expires_at, "keys.never") }</dd>
                </dl>
                <div class="card-actions">
                    <button class="button ghost danger-text" onclick={revoke(k.id)}>{ i18n.t("keys.revoke") }</button>
                </div>
            </li>
        }
    };
    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    html! {
        <section class="page narrow">
            <div class="page-head"><h1>{ i18n.t("keys.title") }</h1></div>
            <p class="muted">{ i18n.tf("keys.intro", &[("url", format!("{origin}/v1"))]) }</p>
            if let Some(new) = &*created {
                <NewSecret secret={new.secret.clone()} />
            }
            <form class="stack" {onsubmit} novalidate=true data-testid="key-form">
                <Field id="key-name" label={i18n.t("form.name")} value={(*name).clone()}
                    oninput={let name = name.clone(); Callback::from(move |v: String| name.set(v))} required=true />
                <div class="field">
                    <label for="key-lifetime">{ i18n.t("keys.lifetime") }</label>
                    <select id="key-lifetime" onchange={on_lifetime} data-testid="key-lifetime">
                        { for LIFETIMES.iter().map(|days| html! {
                            <option value={days.map(|d| d.to_string()).unwrap_or_default()} selected={*days == *lifetime}>
                                { days.map_or_else(|| i18n.t("keys.never"), |d| i18n.tf("keys.days", &[("n", d.to_string())])) }
                            </option>
                        }) }
                    </select>
                </div>
                if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
                <div class="form-actions">
                    <button class="button primary" type="submit" disabled={name.trim().is_empty()}>{ i18n.t("keys.create") }</button>
                </div>
            </form>
            { match keys.value().as_deref().map(Vec::as_slice) {
                None => html! { <p class="muted">{ i18n.t("common.loading") }</p> },
                Some([]) => html! { <p class="muted">{ i18n.t("keys.none") }</p> },
                Some(list) => html! { <ul class="card-grid">{ for list.iter().map(item) }</ul> },
            } }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct NewSecretProps {
    secret: String,
}

/// A new key's secret, shown this once, to copy.
#[component]
fn NewSecret(props: &NewSecretProps) -> Html {
    let i18n = use_i18n();
    html! {
        <div class="new-secret" role="status" data-testid="new-secret">
            <p><strong>{ i18n.t("keys.shown_once") }</strong></p>
            <SecretField label={i18n.t("keys.secret")} value={props.secret.clone()} />
        </div>
    }
}
