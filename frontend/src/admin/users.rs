//! Everyone on the server: search, sort, quotas (tokens a day, storage), disable, promote.

use troupe_types::{AdminUser, UpdateUser};
use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    components::pager::{Pager, page_count},
    format::{bytes, local_time, thousands},
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    routes::Route,
    services::admin::{self, USER_PAGE},
};

#[component]
pub fn Users() -> Html {
    let i18n = use_i18n();
    let q = use_state(String::new);
    let sort = use_state(|| "newest".to_owned());
    let page = use_state(|| 1i64);
    let change_error = use_state(|| None::<String>);
    let reload = use_refresh();
    let list = use_load(((*q).clone(), (*sort).clone(), *page, reload.0), |(q, sort, page, _)| async move {
        admin::users(&q, &sort, page).await
    });
    // A failed change, else a failed load.
    let error = (*change_error).clone().or_else(|| list.error().map(|e| i18n.error(e)));
    let list = list.value();
    let change = {
        let (reload, error, i18n) = (reload.clone(), change_error.clone(), i18n.clone());
        move |id: i64, update: UpdateUser| {
            let (reload, error, i18n) = (reload.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match admin::update_user(id, &update).await {
                    Ok(_) => error.set(None),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
                reload.dispatch(());
            });
        }
    };
    let on_q = {
        let (q, page) = (q.clone(), page.clone());
        Callback::from(move |e: InputEvent| {
            q.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().value());
            page.set(1);
        })
    };
    let on_sort = {
        let sort = sort.clone();
        Callback::from(move |e: Event| sort.set(e.target_unchecked_into::<web_sys::HtmlSelectElement>().value()))
    };
    let row = |u: &AdminUser| {
        let id = u.id;
        let toggle_disabled = {
            let change = change.clone();
            let disabled = !u.disabled;
            Callback::from(move |_| change(id, UpdateUser { disabled: Some(disabled), ..Default::default() }))
        };
        let toggle_admin = {
            let change = change.clone();
            let is_admin = !u.is_admin;
            Callback::from(move |_| change(id, UpdateUser { is_admin: Some(is_admin), ..Default::default() }))
        };
        let on_quota = {
            let change = change.clone();
            Callback::from(move |quota: Option<i64>| {
                change(id, UpdateUser { daily_token_quota: Some(quota), ..Default::default() })
            })
        };
        let on_storage_quota = {
            let change = change.clone();
            Callback::from(move |mb: Option<i64>| {
                change(id, UpdateUser { storage_quota_mb: Some(mb), ..Default::default() })
            })
        };
        html! {
            <tr key={u.id} class={classes!(u.disabled.then_some("disabled"))} data-testid="user-row">
                <th scope="row">
                    { u.username.clone() }
                    if u.is_admin { <span class="badge">{ i18n.t("admin.admin_badge") }</span> }
                    if u.disabled { <span class="badge muted">{ i18n.t("admin.disabled_badge") }</span> }
                    <div class="muted small">{ u.email.clone().unwrap_or_default() }</div>
                </th>
                <td class="muted small">{ u.last_active_at.as_deref().map(|t| local_time(t, i18n.lang.code())).unwrap_or_else(|| "–".into()) }</td>
                <td class="num">{ thousands(u.chats) }</td>
                <td class="num">{ thousands(u.messages) }</td>
                <td class="num" data-testid="user-tokens">{ thousands(u.total_tokens) }</td>
                <td class="num">{ thousands(u.tokens_today) }</td>
                <td class="num" data-testid="user-api-keys">{ thousands(u.api_keys) }</td>
                <td><QuotaEditor quota={u.daily_token_quota} on_save={on_quota} label={i18n.t("admin.quota")} empty={i18n.t("admin.unlimited")} /></td>
                <td class="num" data-testid="user-storage">{ bytes(u.storage_used_bytes) }</td>
                <td><QuotaEditor quota={u.storage_quota_mb} on_save={on_storage_quota} label={i18n.t("admin.storage_quota")} empty={i18n.t("admin.server_default")} /></td>
                <td class="actions">
                    <button class="button ghost" onclick={toggle_disabled}>{ if u.disabled { i18n.t("admin.enable") } else { i18n.t("admin.disable") } }</button>
                    <button class="button ghost" onclick={toggle_admin}>{ if u.is_admin { i18n.t("admin.demote") } else { i18n.t("admin.promote") } }</button>
                    <Link<Route, [(&'static str, i64); 1]> to={Route::Conversations} query={Some([("user_id", u.id)])} classes="button ghost">{ i18n.t("admin.conversations") }</Link<Route, [(&'static str, i64); 1]>>
                </td>
            </tr>
        }
    };
    let pages = list.as_ref().map_or(1, |l| page_count(l.total, USER_PAGE));
    let go = {
        let page = page.clone();
        Callback::from(move |to| page.set(to))
    };
    html! {
        <div class="stack">
            <div class="toolbar">
                <input type="search" class="search" value={(*q).clone()} oninput={on_q} placeholder={i18n.t("admin.search_users")} aria-label={i18n.t("admin.search_users")} />
                <label class="field inline">
                    <span>{ i18n.t("admin.sort") }</span>
                    <select onchange={on_sort}>
                        { for [("newest", "admin.sort_newest"), ("username", "admin.sort_username"), ("tokens", "admin.sort_tokens"), ("last_active", "admin.sort_last_active"), ("storage", "admin.sort_storage")].iter().map(|(value, label)| html! {
                            <option value={*value} selected={*sort == *value}>{ i18n.t(label) }</option>
                        }) }
                    </select>
                </label>
            </div>
            if let Some(error) = &error { <p class="form-error" role="alert">{ error.clone() }</p> }
            <div class="table-scroll">
                <table class="users">
                    <thead><tr>
                        <th scope="col">{ i18n.t("auth.username") }</th>
                        <th scope="col">{ i18n.t("admin.last_active") }</th>
                        <th scope="col" class="num">{ i18n.t("admin.chats") }</th>
                        <th scope="col" class="num">{ i18n.t("admin.messages") }</th>
                        <th scope="col" class="num">{ i18n.t("admin.tokens") }</th>
                        <th scope="col" class="num">{ i18n.t("admin.tokens_today") }</th>
                        <th scope="col" class="num">{ i18n.t("admin.api_keys") }</th>
                        <th scope="col">{ i18n.t("admin.quota") }</th>
                        <th scope="col" class="num">{ i18n.t("admin.storage") }</th>
                        <th scope="col">{ i18n.t("admin.storage_quota") }</th>
                        <th scope="col"><span class="visually-hidden">{ i18n.t("admin.actions") }</span></th>
                    </tr></thead>
                    <tbody>{ for list.iter().flat_map(|l| l.items.iter()).map(row) }</tbody>
                </table>
            </div>
            <Pager page={*page} {pages} on_go={go} />
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct QuotaProps {
    quota: Option<i64>,
    /// `None`: the field left empty (what that means is `empty`).
    on_save: Callback<Option<i64>>,
    label: AttrValue,
    /// What an empty field means (unlimited tokens; the server's default storage).
    empty: AttrValue,
}

/// A quota of 0 or more, or empty.
#[component]
fn QuotaEditor(props: &QuotaProps) -> Html {
    let i18n = use_i18n();
    let value = use_state(|| props.quota.map(|q| q.to_string()).unwrap_or_default());
    let parsed: Result<Option<i64>, ()> = match value.trim() {
        "" => Ok(None),
        text => text.parse::<i64>().ok().filter(|n| *n >= 0).map(Some).ok_or(()),
    };
    let changed = parsed.as_ref().is_ok_and(|q| *q != props.quota);
    let onsubmit = {
        let on_save = props.on_save.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Ok(quota) = parsed {
                on_save.emit(quota);
            }
        })
    };
    let oninput = {
        let value = value.clone();
        Callback::from(move |e: InputEvent| value.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))
    };
    html! {
        <form class="quota" {onsubmit}>
            <input type="number" min="0" inputmode="numeric" value={(*value).clone()} {oninput}
                placeholder={props.empty.clone()} aria-label={props.label.clone()} aria-invalid={parsed.is_err().then_some("true")} />
            <button class="button ghost" type="submit" disabled={!changed}>{ i18n.t("common.save") }</button>
        </form>
    }
}
