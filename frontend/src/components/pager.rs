use yew::prelude::*;

use crate::i18n::use_i18n;

#[derive(Properties, PartialEq)]
pub struct PagerProps {
    /// 1-based.
    pub page: i64,
    pub pages: i64,
    pub on_go: Callback<i64>,
}

/// Previous / "3 / 7" / next under a long list; nothing when it fits on one page.
#[component]
pub fn Pager(props: &PagerProps) -> Html {
    let i18n = use_i18n();
    if props.pages <= 1 {
        return html! {};
    }
    let go = |to: i64| props.on_go.reform(move |_: MouseEvent| to);
    html! {
        <nav class="pager" aria-label={i18n.t("common.pages")}>
            <button class="button ghost" disabled={props.page <= 1} onclick={go(props.page - 1)}>{ i18n.t("common.previous") }</button>
            <span>{ format!("{} / {}", props.page, props.pages) }</span>
            <button class="button ghost" disabled={props.page >= props.pages} onclick={go(props.page + 1)}>{ i18n.t("common.next") }</button>
        </nav>
    }
}

/// How many pages `total` items fill at `per_page` a page (at least one).
pub fn page_count(total: i64, per_page: i64) -> i64 {
    ((total + per_page - 1) / per_page).max(1)
}
