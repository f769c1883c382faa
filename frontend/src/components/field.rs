//! A labelled input with its rule shown inline as the user types.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct FieldProps {
    pub id: AttrValue,
    pub label: AttrValue,
    pub value: AttrValue,
    pub oninput: Callback<String>,
    #[prop_or_default]
    pub error: Option<String>,
    #[prop_or_default]
    pub hint: Option<String>,
    #[prop_or(AttrValue::Static("text"))]
    pub kind: AttrValue,
    #[prop_or_default]
    pub multiline: bool,
    #[prop_or_default]
    pub autocomplete: Option<AttrValue>,
    #[prop_or_default]
    pub required: bool,
    /// Shown but not editable, such as an id fixed at creation.
    #[prop_or_default]
    pub readonly: bool,
}

#[component]
pub fn Field(props: &FieldProps) -> Html {
    let error_id = format!("{}-error", props.id);
    let hint_id = format!("{}-hint", props.id);
    let described_by = match (&props.error, &props.hint) {
        (Some(_), _) => Some(error_id.clone()),
        (None, Some(_)) => Some(hint_id.clone()),
        _ => None,
    };
    let invalid = props.error.is_some().then_some("true");
    let oninput = {
        let cb = props.oninput.clone();
        Callback::from(move |e: InputEvent| {
            let target = e.target().expect("an input event has a target");
            let value = if let Ok(area) = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlTextAreaElement>(target.clone())
            {
                area.value()
            } else {
                wasm_bindgen::JsCast::unchecked_into::<web_sys::HtmlInputElement>(target).value()
            };
            cb.emit(value);
        })
    };
    let control = if props.multiline {
        html! {
            <textarea id={props.id.clone()} value={props.value.clone()} {oninput} rows="4"
                aria-invalid={invalid} aria-describedby={described_by.clone()} required={props.required}
                readonly={props.readonly} />
        }
    } else {
        html! {
            <input id={props.id.clone()} type={props.kind.clone()} value={props.value.clone()} {oninput}
                autocomplete={props.autocomplete.clone()} aria-invalid={invalid}
                aria-describedby={described_by} required={props.required} readonly={props.readonly} />
        }
    };
    html! {
        <div class={classes!("field", props.error.is_some().then_some("has-error"))}>
            <label for={props.id.clone()}>{ props.label.clone() }</label>
            { control }
            if let Some(error) = &props.error {
                <p class="field-error" id={error_id} role="alert">{ error.clone() }</p>
            } else if let Some(hint) = &props.hint {
                <p class="field-hint" id={hint_id}>{ hint.clone() }</p>
            }
        </div>
    }
}
