//! A secret shown this once: a read-only box that selects itself on focus, and a button to copy
//! it where the browser offers the clipboard (https and localhost).

use yew::prelude::*;

use crate::i18n::use_i18n;

#[derive(Properties, PartialEq)]
pub struct SecretFieldProps {
    /// What the secret is, for screen readers.
    pub label: AttrValue,
    pub value: AttrValue,
}

#[component]
pub fn SecretField(props: &SecretFieldProps) -> Html {
    let i18n = use_i18n();
    // The value last copied, so a new secret in the same place starts out uncopied.
    let copied = use_state(|| None::<AttrValue>);
    let copy = {
        let (value, copied) = (props.value.clone(), copied.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&value);
                copied.set(Some(value.clone()));
            }
        })
    };
    let secure = web_sys::window().is_some_and(|w| w.is_secure_context());
    html! {
        <div class="secret-row">
            <input class="secret" readonly=true value={props.value.clone()} aria-label={props.label.clone()}
                onfocus={Callback::from(|e: FocusEvent| e.target_unchecked_into::<web_sys::HtmlInputElement>().select())} />
            if secure {
                <button class="button" type="button" onclick={copy}>
                    { if copied.as_ref() == Some(&props.value) { i18n.t("keys.copied") } else { i18n.t("keys.copy") } }
                </button>
            }
        </div>
    }
}
