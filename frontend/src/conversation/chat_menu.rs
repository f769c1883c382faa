//! The chat's menu: download it as a file (SillyTavern, Troupe or plain text), or import a chat
//! file as a new chat with the same character.

use troupe_types::Chat;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::{components::menu::Menu, i18n::use_i18n, services::chats};

#[derive(Properties, PartialEq)]
pub struct ChatMenuProps {
    pub chat: Chat,
    /// The imported chat, to open.
    pub on_imported: Callback<Chat>,
}

#[component]
pub fn ChatMenu(props: &ChatMenuProps) -> Html {
    let i18n = use_i18n();
    let importing = use_state(|| false);
    let error = use_state(|| None::<String>);
    let file_input = use_node_ref();
    let choose_file = {
        let (file_input, error) = (file_input.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            error.set(None);
            if let Some(input) = file_input.cast::<HtmlInputElement>() {
                input.click();
            }
        })
    };
    let import = {
        let (importing, error, i18n) = (importing.clone(), error.clone(), i18n.clone());
        let (character_id, on_imported) = (props.chat.character_id, props.on_imported.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|files| files.get(0)) else { return };
            // The same file may be chosen again after a fix.
            input.set_value("");
            importing.set(true);
            let (importing, error, i18n, on_imported) =
                (importing.clone(), error.clone(), i18n.clone(), on_imported.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let result = chats::import(character_id, file).await;
                importing.set(false);
                match result {
                    Ok(chat) => on_imported.emit(chat),
                    // The server's sentence says what is wrong; `field` says where.
                    Err(e) => error.set(Some(match e.field.as_deref() {
                        Some(line) if line.starts_with("line ") => format!("{} ({line})", i18n.error(&e)),
                        _ => i18n.error(&e),
                    })),
                }
            });
        })
    };
    let chat_id = props.chat.id;
    let export = |format: &str, label: &str| {
        html! {
            <a role="menuitem" href={chats::export_url(chat_id, format)} download="" data-testid={format!("export-{format}")}>
                { i18n.t(label) }
            </a>
        }
    };
    html! {
        <span class="chat-menu">
            <Menu label={i18n.t("chat.menu")} align_end=true testid="chat-menu">
                { export("jsonl", "chat.export_sillytavern") }
                { export("json", "chat.export_troupe") }
                { export("txt", "chat.export_text") }
                <button role="menuitem" onclick={choose_file} disabled={*importing} data-testid="import-chat">{ i18n.t("chat.import") }</button>
            </Menu>
            <input ref={file_input} type="file" accept=".jsonl,.json,application/json" class="visually-hidden"
                tabindex="-1" aria-hidden="true" onchange={import} data-testid="import-file" />
            if *importing {
                <p class="menu-note" role="status">{ i18n.t("chat.importing") }</p>
            } else if let Some(error) = &*error {
                <p class="menu-note field-error" role="alert" data-testid="import-error">{ error.clone() }</p>
            }
        </span>
    }
}
