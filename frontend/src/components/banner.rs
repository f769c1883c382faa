//! Admins' announcements as banners: the active ones each time the live feed (re)connects,
//! new ones as they are posted.

use futures::StreamExt;
use troupe_types::{Announcement, AnnouncementLevel};
use yew::prelude::*;

use crate::{i18n::use_i18n, services::events};

#[component]
pub fn Announcements() -> Html {
    let i18n = use_i18n();
    let items = use_state(Vec::<Announcement>::new);
    let dismissed = use_state(Vec::<i64>::new);
    {
        let items = items.clone();
        use_effect_with((), move |_| {
            let (alive_tx, mut alive_rx) = futures::channel::oneshot::channel::<()>();
            wasm_bindgen_futures::spawn_local(async move {
                let mut known = Vec::new();
                let Some(feed) = events::announcement_feed() else { return };
                let mut incoming = feed.announcements.boxed_local().fuse();
                let mut connected = feed.connected.boxed_local().fuse();
                loop {
                    futures::select! {
                        // First contact or back after a drop: whatever was posted meanwhile.
                        _ = connected.next() => {
                            if let Ok(list) = events::announcements().await {
                                known = list.items;
                                items.set(known.clone());
                            }
                        },
                        next = incoming.next() => match next {
                            Some(announcement) => {
                                known.retain(|a| a.id != announcement.id);
                                known.insert(0, announcement);
                                items.set(known.clone());
                            }
                            None => break,
                        },
                        _ = alive_rx => break,
                    }
                }
                feed.source.close();
            });
            // Dropping the sender (when the layout goes) ends the loop and closes the source.
            move || drop(alive_tx)
        });
    }
    let now = js_sys::Date::now();
    let visible: Vec<&Announcement> = items
        .iter()
        .filter(|a| !dismissed.contains(&a.id))
        .filter(|a| js_sys::Date::parse(&a.expires_at) > now)
        .collect();
    html! {
        <div class="banners" aria-live="polite">
            { for visible.into_iter().map(|a| {
                let dismiss = {
                    let dismissed = dismissed.clone();
                    let id = a.id;
                    Callback::from(move |_| {
                        let mut ids = (*dismissed).clone();
                        ids.push(id);
                        dismissed.set(ids);
                    })
                };
                let class = classes!("banner", (a.level == AnnouncementLevel::Warning).then_some("warning"));
                html! {
                    <div {class} role="status" key={a.id}>
                        <span class="banner-text">{ a.text.clone() }</span>
                        <button class="icon-button" onclick={dismiss} aria-label={i18n.t("banner.dismiss")}>{ "×" }</button>
                    </div>
                }
            }) }
        </div>
    }
}
