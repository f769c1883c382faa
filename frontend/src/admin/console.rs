//! The admin dashboard: live counters over the tabs Overview, Users, Conversations and Systems.

use futures::StreamExt;
use troupe_types::LiveStats;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::{
    conversations::Conversations, format::thousands, i18n::use_i18n, overview::Overview, routes::Route,
    services::events, systems::Systems, users::Users,
};

#[derive(Properties, PartialEq)]
pub struct ConsoleProps {
    /// `Overview`, `Users`, `Conversations` or `Systems`.
    pub tab: Route,
}

#[component]
pub fn Console(props: &ConsoleProps) -> Html {
    let i18n = use_i18n();
    let tab_link = |route: Route, label: &str| {
        let current = (props.tab == route).then_some("page");
        html! { <Link<Route> to={route} classes="tab"><span aria-current={current}>{ i18n.t(label) }</span></Link<Route>> }
    };
    html! {
        <section class="page wide">
            <div class="page-head">
                <h1>{ i18n.t("admin.title") }</h1>
                <LiveCounters />
            </div>
            <nav class="tabs" aria-label={i18n.t("admin.title")}>
                { tab_link(Route::Overview, "admin.overview") }
                { tab_link(Route::Users, "admin.users") }
                { tab_link(Route::Conversations, "admin.conversations") }
                { tab_link(Route::Systems, "admin.systems.title") }
            </nav>
            { match props.tab {
                Route::Users => html! { <Users /> },
                Route::Conversations => html! { <Conversations /> },
                Route::Systems => html! { <Systems /> },
                _ => html! { <Overview /> },
            } }
        </section>
    }
}

/// The WebSocket feed: who is online and what is happening this minute.
#[component]
fn LiveCounters() -> Html {
    let i18n = use_i18n();
    let stats = use_state(|| None::<LiveStats>);
    {
        let stats = stats.clone();
        use_effect_with((), move |_| {
            let (alive_tx, mut alive_rx) = futures::channel::oneshot::channel::<()>();
            wasm_bindgen_futures::spawn_local(async move {
                let Some(feed) = events::live_stats() else { return };
                let mut feed = std::pin::pin!(feed.fuse());
                loop {
                    futures::select! {
                        next = feed.next() => match next {
                            Some(snapshot) => stats.set(Some(snapshot)),
                            None => break,
                        },
                        _ = alive_rx => break,
                    }
                }
            });
            move || drop(alive_tx)
        });
    }
    let counter = |label: &str, value: Option<i64>| {
        html! {
            <div class="live-counter">
                <span class="live-value">{ value.map_or("–".to_owned(), thousands) }</span>
                <span class="live-label">{ i18n.t(label) }</span>
            </div>
        }
    };
    let s = stats.as_ref();
    html! {
        <div class="live" aria-live="off" data-testid="live-counters">
            <span class={classes!("live-dot", s.is_some().then_some("on"))} title={i18n.t("admin.live")}></span>
            { counter("admin.online_users", s.map(|s| s.online_users)) }
            { counter("admin.active_streams", s.map(|s| s.active_streams)) }
            { counter("admin.messages_last_minute", s.map(|s| s.messages_last_minute)) }
            { counter("admin.tokens_last_minute", s.map(|s| s.tokens_last_minute)) }
        </div>
    }
}
