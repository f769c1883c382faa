//! Browse characters (the user's own and public ones), start a chat, edit or delete one's own.

use troupe_types::{Character, Visibility};
use yew::prelude::*;
use yew_router::prelude::*;

use super::card_import::CardDrop;
use crate::{
    components::{
        avatar::{Avatar, picture_of},
        pager::{Pager, page_count},
    },
    hooks::{use_load, use_refresh},
    i18n::use_i18n,
    routes::Route,
    services::{
        self,
        characters::{CharacterFilter, PAGE_SIZE},
    },
    session::use_session,
};

#[component]
pub fn CharactersPage() -> Html {
    let i18n = use_i18n();
    let session = use_session();
    let navigator = use_navigator().expect("inside the router");
    let filter = use_state(|| CharacterFilter { page: 1, ..Default::default() });
    let reload = use_refresh();
    let found =
        use_load(((*filter).clone(), reload.0), |(filter, _)| async move { services::characters::list(&filter).await });
    let found = found.value();
    let confirming = use_state(|| None::<i64>);
    let error = use_state(|| None::<String>);
    let set_filter = |change: fn(&mut CharacterFilter, String)| {
        let filter = filter.clone();
        Callback::from(move |value: String| {
            let mut next = (*filter).clone();
            change(&mut next, value);
            next.page = 1;
            filter.set(next);
        })
    };
    let on_query = set_filter(|f, q| f.q = q)
        .reform(|e: InputEvent| e.target_unchecked_into::<web_sys::HtmlInputElement>().value());
    let on_mine = set_filter(|f, v| f.mine = v == "mine")
        .reform(|e: Event| e.target_unchecked_into::<web_sys::HtmlSelectElement>().value());
    let tag_filter = |tag: Option<String>| {
        set_filter(|f, t| f.tag = Some(t).filter(|t| !t.is_empty()))
            .reform(move |_: MouseEvent| tag.clone().unwrap_or_default())
    };
    let go_page = {
        let filter = filter.clone();
        Callback::from(move |page| filter.set(CharacterFilter { page, ..(*filter).clone() }))
    };

    let start_chat = |id: i64| {
        let (navigator, error, i18n) = (navigator.clone(), error.clone(), i18n.clone());
        Callback::from(move |_| {
            let (navigator, error, i18n) = (navigator.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::chats::create(id).await {
                    Ok(chat) => navigator.push(&Route::Chat { id: chat.id }),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let ask_delete = |id: Option<i64>| {
        let confirming = confirming.clone();
        Callback::from(move |_| confirming.set(id))
    };
    let delete = |id: i64| {
        let (confirming, reload, error, i18n) = (confirming.clone(), reload.clone(), error.clone(), i18n.clone());
        Callback::from(move |_| {
            let (confirming, reload, error, i18n) = (confirming.clone(), reload.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::characters::remove(id).await {
                    Ok(()) => reload.dispatch(()),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
                confirming.set(None);
            });
        })
    };

    let imported = {
        let reload = reload.clone();
        Callback::from(move |()| reload.dispatch(()))
    };

    let me = session.user().map(|u| u.id);
    let card = |c: &Character| {
        let mine = Some(c.owner_id) == me;
        html! {
            <li class="card character" key={c.id} data-testid="character-card">
                <div class="card-head">
                    <Avatar name={c.name.clone()} url={picture_of(c)} />
                    <div>
                        <h2>{ c.name.clone() }</h2>
                        <span class="muted small">
                            { if c.visibility == Visibility::Public { i18n.t("characters.public") } else { i18n.t("characters.private") } }
                        </span>
                    </div>
                </div>
                <p class="clamp">{ c.description.clone() }</p>
                <div class="tags">
                    { for c.tags.iter().map(|t| html! { <button class="tag" onclick={tag_filter(Some(t.clone()))}>{ t.clone() }</button> }) }
                </div>
                <div class="card-actions">
                    <button class="button primary" onclick={start_chat(c.id)}>{ i18n.t("characters.chat") }</button>
                    if mine {
                        <Link<Route> to={Route::EditCharacter { id: c.id }} classes="button ghost">{ i18n.t("characters.edit") }</Link<Route>>
                        if *confirming == Some(c.id) {
                            <span class="confirm" role="alert">
                                { i18n.t("characters.confirm_delete") }
                                <button class="button danger" onclick={delete(c.id)}>{ i18n.t("common.delete") }</button>
                                <button class="button ghost" onclick={ask_delete(None)}>{ i18n.t("common.cancel") }</button>
                            </span>
                        } else {
                            <button class="button ghost danger-text" onclick={ask_delete(Some(c.id))}>{ i18n.t("common.delete") }</button>
                        }
                    }
                </div>
            </li>
        }
    };
    let pages = found.as_ref().map_or(1, |f| page_count(f.total, PAGE_SIZE));
    html! {
        <section class="page">
            <div class="page-head">
                <h1>{ i18n.t("characters.title") }</h1>
                <Link<Route> to={Route::NewCharacter} classes="button primary">{ i18n.t("characters.new") }</Link<Route>>
            </div>
            <CardDrop on_imported={imported} />
            <div class="toolbar">
                <input type="search" class="search" value={filter.q.clone()} oninput={on_query}
                    placeholder={i18n.t("characters.search")} aria-label={i18n.t("characters.search")} />
                <select onchange={on_mine} aria-label={i18n.t("characters.show")}>
                    <option value="all" selected={!filter.mine}>{ i18n.t("characters.all") }</option>
                    <option value="mine" selected={filter.mine}>{ i18n.t("characters.mine") }</option>
                </select>
                if let Some(tag) = &filter.tag {
                    <button class="tag active" onclick={tag_filter(None)} aria-label={i18n.t("characters.clear_tag")}>{ format!("{tag} ×") }</button>
                }
            </div>
            if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
            { match found.as_deref() {
                None => html! { <p class="muted">{ i18n.t("common.loading") }</p> },
                Some(list) if list.items.is_empty() => html! { <p class="muted">{ i18n.t("characters.none_found") }</p> },
                Some(list) => html! { <ul class="card-grid">{ for list.items.iter().map(card) }</ul> },
            } }
            <Pager page={filter.page} {pages} on_go={go_page} />
        </section>
    }
}
