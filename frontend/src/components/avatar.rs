use troupe_types::Character;
use yew::prelude::*;

use crate::format::monogram;

/// Where a character's picture is: its uploaded or imported image (the address changes with
/// each edit, so a new picture is never hidden by a cached one), else its external address.
pub fn picture_of(c: &Character) -> Option<AttrValue> {
    if c.has_avatar {
        let version: String = c.updated_at.chars().filter(char::is_ascii_digit).collect();
        return Some(format!("/api/characters/{}/avatar?v={version}", c.id).into());
    }
    c.avatar_url.clone().map(AttrValue::from)
}

#[derive(Properties, PartialEq)]
pub struct AvatarProps {
    pub name: AttrValue,
    #[prop_or_default]
    pub url: Option<AttrValue>,
    #[prop_or_default]
    pub large: bool,
}

/// The character's picture, or its monogram when there is none or it fails to load.
#[component]
pub fn Avatar(props: &AvatarProps) -> Html {
    let failed = use_state(|| false);
    {
        // A new address deserves a new try.
        let failed = failed.clone();
        use_effect_with(props.url.clone(), move |_| failed.set(false));
    }
    let class = classes!("avatar", props.large.then_some("large"));
    // A stable hue per name, so monograms are told apart at a glance.
    let hue = props.name.chars().fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(c as u32)) % 360;
    match &props.url {
        Some(url) if !*failed => {
            let onerror = {
                let failed = failed.clone();
                Callback::from(move |_| failed.set(true))
            };
            html! { <img {class} src={url.clone()} alt="" {onerror} loading="lazy" referrerpolicy="no-referrer" /> }
        }
        _ => html! {
            <span {class} style={format!("--hue: {hue}")} aria-hidden="true">{ monogram(&props.name) }</span>
        },
    }
}
