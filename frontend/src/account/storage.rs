//! What the account stores against its storage quota (`/api/limits`).

use troupe_web::{format::bytes, hooks::use_load, i18n::use_i18n, services::chats};
use yew::prelude::*;

#[component]
pub fn Storage() -> Html {
    let i18n = use_i18n();
    let limits = use_load((), |()| chats::limits());
    let Some(limits) = limits.value() else { return html! {} };
    let used = bytes(limits.storage_used_bytes);
    let (summary, full, percent) = match limits.storage_quota_bytes {
        Some(quota) => {
            let percent = (limits.storage_used_bytes as f64 / quota.max(1) as f64 * 100.0).min(100.0);
            (
                i18n.tf("storage.used_of", &[("used", used), ("quota", bytes(quota))]),
                limits.storage_used_bytes >= quota,
                Some(percent),
            )
        }
        None => (i18n.tf("storage.used_unlimited", &[("used", used)]), false, None),
    };
    html! {
        <section class="page narrow storage" data-testid="storage">
            <div class="page-head"><h2>{ i18n.t("storage.title") }</h2></div>
            <p data-testid="storage-used">{ summary }</p>
            if let Some(percent) = percent {
                <progress max="100" value={format!("{percent:.1}")} aria-label={i18n.t("storage.title")}></progress>
            }
            if full { <p class="form-error" role="alert">{ i18n.t("storage.full") }</p> }
            <p class="muted small">{ i18n.t("storage.what") }</p>
        </section>
    }
}
