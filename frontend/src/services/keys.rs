//! The user's API keys, for programs that call Troupe.

use troupe_types::{ApiKey, ApiKeyList, CreateApiKey, CreatedApiKey};

use super::{ApiResult, delete, get, post};

pub async fn list() -> ApiResult<Vec<ApiKey>> {
    Ok(get::<ApiKeyList>("/api/keys").await?.items)
}

pub async fn create(input: &CreateApiKey) -> ApiResult<CreatedApiKey> {
    post("/api/keys", input).await
}

pub async fn revoke(id: i64) -> ApiResult<()> {
    delete(&format!("/api/keys/{id}")).await
}
