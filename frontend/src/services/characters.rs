use gloo_net::http::Request;
use troupe_types::{CardImport, CardImports, Character, CharacterInput, CharacterList, ModelList};

use super::{ApiError, ApiResult, delete, get, json, post, put, query, send};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CharacterFilter {
    pub q: String,
    pub tag: Option<String>,
    pub mine: bool,
    pub page: i64,
}

pub const PAGE_SIZE: i64 = 24;

pub async fn list(filter: &CharacterFilter) -> ApiResult<CharacterList> {
    let q = query(&[
        ("q", Some(filter.q.trim().to_owned()).filter(|q| !q.is_empty())),
        ("tag", filter.tag.clone()),
        ("mine", filter.mine.then(|| "true".to_owned())),
        ("limit", Some(PAGE_SIZE.to_string())),
        ("page", Some((filter.page.max(1)).to_string())),
    ]);
    get(&format!("/api/characters{q}")).await
}

pub async fn fetch(id: i64) -> ApiResult<Character> {
    get(&format!("/api/characters/{id}")).await
}

pub async fn create(input: &CharacterInput) -> ApiResult<Character> {
    post("/api/characters", input).await
}

pub async fn update(id: i64, input: &CharacterInput) -> ApiResult<Character> {
    put(&format!("/api/characters/{id}"), input).await
}

pub async fn remove(id: i64) -> ApiResult<()> {
    delete(&format!("/api/characters/{id}")).await
}

/// The first 100 characters the caller can see, for a picker.
pub async fn choices() -> ApiResult<CharacterList> {
    get("/api/characters?limit=100").await
}

pub async fn models() -> ApiResult<ModelList> {
    get("/api/models").await
}

/// Imports card files (PNG, JSON, CHARX) in one request; one result per file, in order.
pub async fn import(files: &[web_sys::File]) -> ApiResult<Vec<CardImport>> {
    let form = web_sys::FormData::new().map_err(|_| ApiError::network("FormData"))?;
    for file in files {
        form.append_with_blob_and_filename("file", file, &file.name()).map_err(|_| ApiError::network("FormData"))?;
    }
    let request = Request::post("/api/characters/import").body(form).map_err(ApiError::network)?;
    Ok(json::<CardImports>(send(request).await?).await?.items)
}

/// Where the browser downloads the character as a card: `png` or `json`.
pub fn export_url(id: i64, format: &str) -> String {
    format!("/api/characters/{id}/export?format={format}")
}

/// Uploads `image` as the character's avatar (the server checks and re-encodes it).
pub async fn set_avatar(id: i64, image: web_sys::File) -> ApiResult<Character> {
    let request = Request::put(&format!("/api/characters/{id}/avatar"))
        .header("Content-Type", "application/octet-stream")
        .body(image)
        .map_err(ApiError::network)?;
    json(send(request).await?).await
}

pub async fn remove_avatar(id: i64) -> ApiResult<()> {
    delete(&format!("/api/characters/{id}/avatar")).await
}
