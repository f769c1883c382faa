//! The user's personas: who they are in a chat.

use troupe_types::{Persona, PersonaInput, PersonaList};

use super::{ApiResult, delete, get, post, put};

pub async fn list() -> ApiResult<Vec<Persona>> {
    Ok(get::<PersonaList>("/api/personas").await?.items)
}

pub async fn create(input: &PersonaInput) -> ApiResult<Persona> {
    post("/api/personas", input).await
}

pub async fn update(id: i64, input: &PersonaInput) -> ApiResult<Persona> {
    put(&format!("/api/personas/{id}"), input).await
}

pub async fn remove(id: i64) -> ApiResult<()> {
    delete(&format!("/api/personas/{id}")).await
}
