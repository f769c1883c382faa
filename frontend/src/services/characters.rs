use troupe_types::{Character, CharacterInput, CharacterList, ModelList};

use super::{ApiResult, delete, get, post, put, query};

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

pub async fn models() -> ApiResult<ModelList> {
    get("/api/models").await
}
