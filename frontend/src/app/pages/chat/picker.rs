//! "New chat": pick a character (search, tags) and start talking.

use troupe_types::{Character, Chat};
use yew::prelude::*;

use crate::{
    components::avatar::{Avatar, picture_of},
    hooks::use_load,
    i18n::use_i18n,
    services::{self, characters::CharacterFilter},
};

#[derive(Properties, PartialEq)]
pub struct PickerProps {
    /// The new chat, or `None` when the user closed the picker.
    pub on_done: Callback<Option<Chat>>,
}

#[component]
pub fn CharacterPicker(props: &PickerProps) -> Html {
    let i18n = use_i18n();
    let filter = use_state(|| CharacterFilter { page: 1, ..Default::default() });
    let found = use_load((*filter).clone(), |filter| async move { services::characters::list(&filter).await });
    let found: Option<Vec<Character>> = found.value().map(|list| list.items.clone());
    let error = use_state(|| None::<String>);
    let search = use_node_ref();
    {
        let search = search.clone();
        use_effect_with((), move |_| {
            if let Some(input) = search.cast::<web_sys::HtmlElement>() {
                let _ = input.focus();
            }
        });
    }
    let oninput = {
        let filter = filter.clone();
        Callback::from(move |e: InputEvent| {
            let q = e.target_unchecked_into::<web_sys::HtmlInputElement>().value();
            filter.set(CharacterFilter { q, ..(*filter).clone() });
        })
    };
    let pick_tag = |tag: Option<String>| {
        let filter = filter.clone();
        Callback::from(move |_| filter.set(CharacterFilter { tag: tag.clone(), ..(*filter).clone() }))
    };
    let close = props.on_done.reform(|_| None);
    let onkeydown = {
        let close = props.on_done.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                close.emit(None);
            }
        })
    };
    let start = |character_id: i64| {
        let (on_done, error, i18n) = (props.on_done.clone(), error.clone(), i18n.clone());
        Callback::from(move |_| {
            let (on_done, error, i18n) = (on_done.clone(), error.clone(), i18n.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match services::chats::create(character_id).await {
                    Ok(chat) => on_done.emit(Some(chat)),
                    Err(e) => error.set(Some(i18n.error(&e))),
                }
            });
        })
    };
    let mut tags: Vec<String> = found.iter().flatten().flat_map(|c| c.tags.clone()).collect();
    tags.sort();
    tags.dedup();
    html! {
        <div class="modal-backdrop" {onkeydown}>
            <div class="modal" role="dialog" aria-modal="true" aria-labelledby="picker-title">
                <div class="modal-head">
                    <h2 id="picker-title">{ i18n.t("picker.title") }</h2>
                    <button class="icon-button" onclick={close} aria-label={i18n.t("common.close")}>{ "×" }</button>
                </div>
                <input ref={search} type="search" class="search" value={filter.q.clone()} {oninput}
                    placeholder={i18n.t("characters.search")} aria-label={i18n.t("characters.search")} />
                <div class="tags" role="group" aria-label={i18n.t("characters.tags")}>
                    <button class={classes!("tag", filter.tag.is_none().then_some("active"))} onclick={pick_tag(None)}>{ i18n.t("characters.all_tags") }</button>
                    { for tags.into_iter().map(|tag| {
                        let active = filter.tag.as_deref() == Some(tag.as_str());
                        html! { <button class={classes!("tag", active.then_some("active"))} onclick={pick_tag(Some(tag.clone()))}>{ tag }</button> }
                    }) }
                </div>
                if let Some(error) = &*error { <p class="form-error" role="alert">{ error.clone() }</p> }
                <ul class="picker-list">
                    { for found.iter().flatten().map(|c| html! {
                        <li key={c.id}>
                            <button class="picker-item" onclick={start(c.id)} data-testid="pick-character">
                                <Avatar name={c.name.clone()} url={picture_of(c)} />
                                <span class="picker-text">
                                    <strong>{ c.name.clone() }</strong>
                                    <span class="muted clamp">{ c.description.clone() }</span>
                                </span>
                            </button>
                        </li>
                    }) }
                </ul>
                if found.as_ref().is_some_and(Vec::is_empty) {
                    <p class="muted pad">{ i18n.t("characters.none_found") }</p>
                }
            </div>
        </div>
    }
}
