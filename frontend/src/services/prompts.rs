use troupe_types::{Prompt, PromptInput, PromptList};

use super::{ApiResult, delete, get, post, put};

pub async fn list() -> ApiResult<PromptList> {
    get("/api/prompts").await
}

pub async fn create(input: &PromptInput) -> ApiResult<Prompt> {
    post("/api/prompts", input).await
}

pub async fn update(id: i64, input: &PromptInput) -> ApiResult<Prompt> {
    put(&format!("/api/prompts/{id}"), input).await
}

pub async fn remove(id: i64) -> ApiResult<()> {
    delete(&format!("/api/prompts/{id}")).await
}
