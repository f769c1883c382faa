//! The user's standalone lorebooks, attached to chats.

use gloo_net::http::Request;
use serde::Deserialize;
use troupe_types::UpdateChat;

use super::{ApiError, ApiResult, delete, get, json, patch, query, send};

/// What the app shows of a lorebook: read from the API's `SavedLorebook` without decoding its
/// entries (the full type, flattened, costs the download kilobytes for nothing here).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct LorebookSummary {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "entries", deserialize_with = "count")]
    pub entry_count: usize,
}

fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    Ok(Vec::<serde::de::IgnoredAny>::deserialize(d)?.len())
}

#[derive(Deserialize)]
struct SummaryList {
    items: Vec<LorebookSummary>,
}

pub async fn list() -> ApiResult<Vec<LorebookSummary>> {
    Ok(get::<SummaryList>("/api/lorebooks").await?.items)
}

/// A lorebook file (SillyTavern world info, `lorebook_v3`, a bare book), named after the file
/// when it names none.
pub async fn import(file: web_sys::File) -> ApiResult<LorebookSummary> {
    let name = file.name();
    let name = name.strip_suffix(".json").unwrap_or(&name).to_owned();
    let request = Request::post(&format!("/api/lorebooks/import{}", query(&[("name", Some(name))])))
        .header("Content-Type", "application/octet-stream")
        .body(file)
        .map_err(ApiError::network)?;
    json(send(request).await?).await
}

pub async fn remove(id: i64) -> ApiResult<()> {
    delete(&format!("/api/lorebooks/{id}")).await
}

/// The lorebooks chat `chat_id` uses, in order.
pub async fn attach(chat_id: i64, ids: Vec<i64>) -> ApiResult<troupe_types::Chat> {
    patch(&format!("/api/chats/{chat_id}"), &UpdateChat { lorebook_ids: Some(ids), ..UpdateChat::default() }).await
}
