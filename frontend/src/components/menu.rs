//! A menu behind a "⋯" button: it opens on a click (Enter or Space from the keyboard) and
//! closes on a choice, on Escape, or when focus leaves it.

use wasm_bindgen::JsCast;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct MenuProps {
    /// The button's name for screen readers, and its tooltip.
    pub label: AttrValue,
    /// Classes for the wrapper beside `dropdown`.
    #[prop_or_default]
    pub class: Classes,
    /// Opens leftwards from the button's right edge (for buttons at the right of the screen).
    #[prop_or_default]
    pub align_end: bool,
    /// The smaller button, for a line of text.
    #[prop_or_default]
    pub small: bool,
    pub testid: AttrValue,
    /// The menu items: buttons or links with `role="menuitem"`.
    pub children: Html,
}

#[component]
pub fn Menu(props: &MenuProps) -> Html {
    let open = use_state(|| false);
    let set = |to: Option<bool>| {
        let open = open.clone();
        move || open.set(to.unwrap_or(!*open))
    };
    let toggle = {
        let toggle = set(None);
        Callback::from(move |_: MouseEvent| toggle())
    };
    // A click on an item has done its work by the time it bubbles up here.
    let chosen = {
        let close = set(Some(false));
        Callback::from(move |_: MouseEvent| close())
    };
    let focusout = {
        let close = set(Some(false));
        Callback::from(move |e: FocusEvent| {
            let menu: Option<web_sys::Node> = e.current_target().and_then(|t| t.dyn_into().ok());
            let next: Option<web_sys::Node> = e.related_target().and_then(|t| t.dyn_into().ok());
            if menu.is_some_and(|menu| !menu.contains(next.as_ref())) {
                close();
            }
        })
    };
    let keydown = {
        let close = set(Some(false));
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                close();
            }
        })
    };
    html! {
        <span class={classes!("dropdown", props.class.clone())} onfocusout={focusout} onkeydown={keydown}>
            <button class={classes!("icon-button", props.small.then_some("small"))} onclick={toggle}
                aria-haspopup="menu" aria-expanded={open.to_string()} aria-label={props.label.clone()}
                title={props.label.clone()} data-testid={props.testid.clone()}>{ "⋯" }</button>
            if *open {
                <div class={classes!("menu", props.align_end.then_some("align-end"))} role="menu" onclick={chosen}>
                    { props.children.clone() }
                </div>
            }
        </span>
    }
}
