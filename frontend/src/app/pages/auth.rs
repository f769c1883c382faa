//! Sign in and register: one form, the server's rules checked inline as the user types.

use std::rc::Rc;

use troupe_types::{
    LoginRequest, RegisterRequest,
    rules::{self, PASSWORD_MAX_CHARS, USERNAME_MAX_CHARS},
};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    components::{field::Field, layout::LanguageSwitcher},
    hooks::use_load,
    i18n::use_i18n,
    routes::Route,
    services::{self, ApiError},
    session::{Session, use_session},
    shell::leave_for,
};

#[derive(Properties, PartialEq)]
pub struct AuthPageProps {
    pub register: bool,
}

#[derive(Clone, Default, PartialEq)]
struct Form {
    username: String,
    password: String,
    email: String,
    /// Rules are shown for a field once the user has typed in it, or tried to submit.
    touched: [bool; 3],
}

#[component]
pub fn AuthPage(props: &AuthPageProps) -> Html {
    let i18n = use_i18n();
    let session = use_session();
    let navigator = use_navigator().expect("inside the router");
    let location = use_location().expect("inside the router");
    let form = use_state(Form::default);
    let busy = use_state(|| false);
    let failure = use_state(|| None::<ApiError>);
    let register = props.register;
    // On a fresh server the first account becomes its admin: say so before it is created.
    let registration = use_load(register, |register| async move {
        if register { services::auth::registration().await.map(Some) } else { Ok(None) }
    });
    let first_account_is_admin =
        registration.value().is_some_and(|info| matches!(&*info, Some(i) if i.first_account_is_admin));

    // Where to go afterwards: back to the page that asked for a session, else the chats.
    let next: String = location
        .query::<std::collections::HashMap<String, String>>()
        .ok()
        .and_then(|q| q.get("next").cloned())
        .filter(|n| n.starts_with('/') && !n.starts_with("//"))
        .unwrap_or_else(|| "/".into());
    {
        let navigator = navigator.clone();
        let next = next.clone();
        use_effect_with(session.user().is_some(), move |signed_in| {
            if *signed_in {
                let path = next.split('?').next().unwrap_or("/");
                match Route::recognize(path) {
                    Some(Route::NotFound) | None => leave_for(&next),
                    Some(route) => navigator.replace(&route),
                }
            }
        });
    }

    let username_error = rules::check_username(&form.username).err().map(|v| i18n.rule(&v, USERNAME_MAX_CHARS));
    let password_error = rules::check_password(&form.password).err().map(|v| i18n.rule(&v, PASSWORD_MAX_CHARS));
    let email_error = (!form.email.trim().is_empty())
        .then(|| rules::check_email(form.email.trim()).err().map(|v| i18n.rule(&v, 0)))
        .flatten();
    // Signing in only needs both fields; the rules are for new accounts.
    let shown = |index: usize, error: Option<String>| if register && form.touched[index] { error } else { None };
    let valid = if register {
        username_error.is_none() && password_error.is_none() && email_error.is_none()
    } else {
        !form.username.is_empty() && !form.password.is_empty()
    };

    let edit = |index: usize, set: fn(&mut Form, String)| {
        let form = form.clone();
        Callback::from(move |value: String| {
            let mut next = (*form).clone();
            set(&mut next, value);
            next.touched[index] = true;
            form.set(next);
        })
    };

    let onsubmit = {
        let (form, busy, failure, session) = (form.clone(), busy.clone(), failure.clone(), session.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if !valid {
                form.set(Form { touched: [true; 3], ..(*form).clone() });
                return;
            }
            let (form, busy, failure, session) = (form.clone(), busy.clone(), failure.clone(), session.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let result = if register {
                    let email = Some(form.email.trim().to_owned()).filter(|e| !e.is_empty());
                    let request =
                        RegisterRequest { username: form.username.clone(), password: form.password.clone(), email };
                    services::auth::register(&request).await
                } else {
                    let request = LoginRequest { username: form.username.clone(), password: form.password.clone() };
                    services::auth::login(&request).await
                };
                busy.set(false);
                match result {
                    Ok(user) => session.set(Session::SignedIn(Rc::new(user))),
                    Err(error) => failure.set(Some(error)),
                }
            });
        })
    };

    let (title, submit, switch_text, switch_link, switch_route) = if register {
        ("auth.register_title", "auth.register", "auth.have_account", "auth.sign_in", Route::SignIn)
    } else {
        ("auth.sign_in_title", "auth.sign_in", "auth.no_account", "auth.register", Route::Register)
    };
    let switch_query: [(&'static str, String); 1] = [("next", next.clone())];
    html! {
        <div class="auth-screen">
            <div class="auth-top"><LanguageSwitcher /></div>
            <main class="auth-card" id="main">
                <p class="brand big">{ "Troupe" }</p>
                <h1>{ i18n.t(title) }</h1>
                if register && first_account_is_admin {
                    <p class="notice" data-testid="first-account-admin">{ i18n.t("auth.first_account_admin") }</p>
                }
                <form {onsubmit} novalidate=true>
                    <Field id="username" label={i18n.t("auth.username")} value={form.username.clone()}
                        oninput={edit(0, |f, v| f.username = v)} error={shown(0, username_error)}
                        hint={register.then(|| i18n.t("auth.username_hint"))} autocomplete="username" required=true />
                    <Field id="password" kind="password" label={i18n.t("auth.password")} value={form.password.clone()}
                        oninput={edit(1, |f, v| f.password = v)} error={shown(1, password_error)}
                        hint={register.then(|| i18n.t("auth.password_hint"))}
                        autocomplete={if register { "new-password" } else { "current-password" }} required=true />
                    if register {
                        <Field id="email" kind="email" label={i18n.t("auth.email_optional")} value={form.email.clone()}
                            oninput={edit(2, |f, v| f.email = v)} error={shown(2, email_error)} autocomplete="email" />
                    }
                    if let Some(error) = &*failure {
                        <p class="form-error" role="alert">{ i18n.error(error) }</p>
                    }
                    <button class="button primary wide" type="submit" disabled={*busy}>{ i18n.t(submit) }</button>
                </form>
                <p class="muted">
                    { i18n.t(switch_text) }{ " " }
                    <Link<Route, [(&'static str, String); 1]> to={switch_route} query={Some(switch_query)}>{ i18n.t(switch_link) }</Link<Route, [(&'static str, String); 1]>>
                </p>
            </main>
        </div>
    }
}
