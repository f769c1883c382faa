//! Totals, charts and top lists for a range of days; announcements.

use troupe_types::{AnnouncementLevel, NewAnnouncement, Overview as Stats};
use yew::prelude::*;

use crate::{
    components::chart::{BarChart, Series},
    format::{thousands, usd, utc_day},
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    services::{admin, events},
};

#[component]
pub fn Overview() -> Html {
    let i18n = use_i18n();
    let from = use_state(|| utc_day(29));
    let to = use_state(|| utc_day(0));
    let stats =
        use_load(((*from).clone(), (*to).clone()), |(from, to)| async move { admin::overview(&from, &to).await });
    let error = stats.error().map(|e| i18n.error(e));
    let stats = stats.value();
    let date_input = |id: &'static str, state: &UseStateHandle<String>, label: String| {
        let value = (**state).clone();
        let state = state.clone();
        let onchange = Callback::from(move |e: Event| {
            let value = e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
            if !value.is_empty() {
                state.set(value);
            }
        });
        html! {
            <div class="field inline">
                <label for={id}>{ label }</label>
                <input {id} type="date" {value} {onchange} />
            </div>
        }
    };
    html! {
        <div class="stack">
            <div class="toolbar">
                { date_input("range-from", &from, i18n.t("admin.from")) }
                { date_input("range-to", &to, i18n.t("admin.to")) }
                <a class="button ghost" href={admin::export_url(&from, &to)} download="troupe-usage.csv">{ i18n.t("admin.download_csv") }</a>
            </div>
            if let Some(error) = &error { <p class="form-error" role="alert">{ error.clone() }</p> }
            if let Some(s) = &stats { { overview_view(&i18n, s) } }
            <AnnouncementForm />
        </div>
    }
}

fn overview_view(i18n: &crate::i18n::I18n, s: &Stats) -> Html {
    let t = &s.totals;
    let total = |label: &str, value: String| {
        html! {
            <div class="stat"><span class="stat-value">{ value }</span><span class="stat-label">{ i18n.t(label) }</span></div>
        }
    };
    let days: Vec<String> = s.daily.iter().map(|d| d.day.clone()).collect();
    let series = |label: &str, class: &'static str, pick: fn(&troupe_types::OverviewDay) -> i64| Series {
        label: i18n.t(label),
        class,
        values: s.daily.iter().map(pick).collect(),
    };
    html! {
        <>
            <div class="stats" data-testid="totals">
                { total("admin.users_total", thousands(t.users)) }
                { total("admin.new_users", thousands(t.new_users)) }
                { total("admin.active_users", thousands(t.active_users)) }
                { total("admin.chats", thousands(t.chats)) }
                { total("admin.messages", thousands(t.messages)) }
                { total("admin.tokens", thousands(t.total_tokens)) }
                { total("admin.cost", usd(t.estimated_cost_usd)) }
            </div>
            <div class="charts">
                <BarChart title={i18n.t("admin.tokens_per_day")} days={days.clone()}
                    series={vec![series("admin.prompt_tokens", "series-a", |d| d.prompt_tokens), series("admin.completion_tokens", "series-b", |d| d.completion_tokens)]} />
                <BarChart title={i18n.t("admin.messages_per_day")} days={days.clone()} series={vec![series("admin.messages", "series-c", |d| d.messages)]} />
                <BarChart title={i18n.t("admin.active_users_per_day")} days={days} series={vec![series("admin.active_users", "series-d", |d| d.active_users)]} />
            </div>
            <div class="tables">
                <div class="table-card"><table data-testid="top-users">
                    <caption>{ i18n.t("admin.top_users") }</caption>
                    <thead><tr><th scope="col">{ i18n.t("auth.username") }</th><th scope="col" class="num">{ i18n.t("admin.messages") }</th><th scope="col" class="num">{ i18n.t("admin.tokens") }</th></tr></thead>
                    <tbody>{ for s.top_users.iter().map(|u| html! {
                        <tr><td>{ u.username.clone() }</td><td class="num">{ thousands(u.messages) }</td><td class="num">{ thousands(u.total_tokens) }</td></tr>
                    }) }</tbody>
                </table></div>
                <div class="table-card"><table>
                    <caption>{ i18n.t("admin.top_characters") }</caption>
                    <thead><tr><th scope="col">{ i18n.t("form.name") }</th><th scope="col" class="num">{ i18n.t("admin.messages") }</th><th scope="col" class="num">{ i18n.t("admin.tokens") }</th></tr></thead>
                    <tbody>{ for s.top_characters.iter().map(|c| html! {
                        <tr><td>{ c.name.clone() }</td><td class="num">{ thousands(c.messages) }</td><td class="num">{ thousands(c.total_tokens) }</td></tr>
                    }) }</tbody>
                </table></div>
                <div class="table-card"><table>
                    <caption>{ i18n.t("admin.by_model") }</caption>
                    <thead><tr><th scope="col">{ i18n.t("chat.model") }</th><th scope="col" class="num">{ i18n.t("admin.messages") }</th><th scope="col" class="num">{ i18n.t("admin.tokens") }</th><th scope="col" class="num">{ i18n.t("admin.cost") }</th></tr></thead>
                    <tbody>{ for s.by_model.iter().map(|m| html! {
                        <tr><td>{ m.model.clone() }</td><td class="num">{ thousands(m.messages) }</td><td class="num">{ thousands(m.total_tokens) }</td><td class="num">{ usd(m.estimated_cost_usd) }</td></tr>
                    }) }</tbody>
                </table></div>
                <div class="table-card"><table data-testid="by-source">
                    <caption>{ i18n.t("admin.by_source") }</caption>
                    <thead><tr><th scope="col">{ i18n.t("admin.source") }</th><th scope="col" class="num">{ i18n.t("admin.messages") }</th><th scope="col" class="num">{ i18n.t("admin.tokens") }</th></tr></thead>
                    <tbody>{ for s.by_source.iter().map(|u| html! {
                        <tr><td>{ i18n.t(&format!("admin.source_{}", u.source)) }</td><td class="num">{ thousands(u.messages) }</td><td class="num">{ thousands(u.total_tokens) }</td></tr>
                    }) }</tbody>
                </table></div>
                if !s.by_system.is_empty() {
                    <div class="table-card"><table data-testid="by-system">
                        <caption>{ i18n.t("admin.overview.by_system") }</caption>
                        <thead><tr><th scope="col">{ i18n.t("admin.overview.system") }</th><th scope="col" class="num">{ i18n.t("admin.users_total") }</th><th scope="col" class="num">{ i18n.t("admin.messages") }</th><th scope="col" class="num">{ i18n.t("admin.tokens") }</th></tr></thead>
                        <tbody>{ for s.by_system.iter().map(|u| html! {
                            <tr><td>{ u.system_id.clone() }</td><td class="num">{ thousands(u.users) }</td><td class="num">{ thousands(u.messages) }</td><td class="num">{ thousands(u.total_tokens) }</td></tr>
                        }) }</tbody>
                    </table></div>
                }
            </div>
        </>
    }
}

/// Post an announcement to every signed-in user; end active ones early.
#[component]
fn AnnouncementForm() -> Html {
    let i18n = use_i18n();
    let text = use_state(String::new);
    let warning = use_state(|| false);
    let reload = use_refresh();
    let active = use_load(reload.0, |_| events::announcements());
    let active = active.value().map(|list| list.items.clone()).unwrap_or_default();
    let error = use_state(|| None::<String>);
    let onsubmit = {
        let (text, warning, reload, error, i18n) =
            (text.clone(), warning.clone(), reload.clone(), error.clone(), i18n.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let level = if *warning { AnnouncementLevel::Warning } else { AnnouncementLevel::Info };
            let body = NewAnnouncement { text: text.trim().to_owned(), level, duration_hours: None };
            let (text, reload, error, i18n) = (text.clone(), reload.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match admin::announce(&body).await {
                    Ok(_) => {
                        text.set(String::new());
                        error.set(None);
                        reload.dispatch(());
                    }
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let end = |id: i64| {
        let reload = reload.clone();
        Callback::from(move |_| {
            let reload = reload.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let _ = admin::end_announcement(id).await;
                reload.dispatch(());
            });
        })
    };
    let oninput = {
        let text = text.clone();
        Callback::from(move |e: InputEvent| text.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().value()))
    };
    let on_level = {
        let warning = warning.clone();
        Callback::from(move |e: Event| warning.set(e.target_unchecked_into::<web_sys::HtmlInputElement>().checked()))
    };
    html! {
        <section class="card stack">
            <h2>{ i18n.t("admin.announcements") }</h2>
            <form class="toolbar" {onsubmit}>
                <input class="grow" value={(*text).clone()} {oninput} aria-label={i18n.t("admin.announcement_text")} placeholder={i18n.t("admin.announcement_text")} />
                <label class="switch"><input type="checkbox" checked={*warning} onchange={on_level} />{ i18n.t("admin.warning") }</label>
                <button class="button primary" type="submit" disabled={text.trim().is_empty()}>{ i18n.t("admin.announce") }</button>
            </form>
            if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
            <ul class="plain-list">
                { for active.iter().map(|a| html! {
                    <li key={a.id}><span class="grow">{ a.text.clone() }</span><button class="button ghost" onclick={end(a.id)}>{ i18n.t("admin.end") }</button></li>
                }) }
            </ul>
        </section>
    }
}
