//! `/api/prompts`: shared prompts, written by admins.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use troupe_types::{Prompt, PromptInput, PromptList};

use super::{ApiTags, credentials::Authenticated, error::ApiError, payload::JsonBody};
use crate::{domain::PromptId, state::AppState};

#[derive(Default)]
pub struct PromptsApi;

#[derive(ApiResponse)]
enum ListResponse {
    /// In `position` order: the enabled ones, or all of them for admins.
    #[oai(status = 200)]
    Prompts(Json<PromptList>),
}

#[derive(ApiResponse)]
enum CreatedResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Prompt>),
}

#[derive(ApiResponse)]
enum PromptResponse {
    /// The updated prompt.
    #[oai(status = 200)]
    Prompt(Json<Prompt>),
}

#[derive(ApiResponse)]
enum DeletedResponse {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(tag = "ApiTags::Prompts")]
impl PromptsApi {
    /// List shared prompts
    #[oai(path = "/api/prompts", method = "get", operation_id = "list_prompts")]
    async fn list(&self, auth: Authenticated, state: Data<&AppState>) -> Result<ListResponse, ApiError> {
        let items = state.prompts.list(&auth.0.user).await?.into_iter().map(Into::into).collect();
        Ok(ListResponse::Prompts(Json(PromptList { items })))
    }

    /// Create a shared prompt (admins)
    ///
    /// Name 1–64 characters, content 1–8000. Non-admins get 403.
    #[oai(path = "/api/prompts", method = "post", operation_id = "create_prompt")]
    async fn create(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        body: JsonBody<PromptInput>,
    ) -> Result<CreatedResponse, ApiError> {
        let prompt = state.prompts.create(&auth.0.user, body.0).await?;
        Ok(CreatedResponse::Created(Json(prompt.into())))
    }

    /// Replace a shared prompt (admins)
    #[oai(path = "/api/prompts/:id", method = "put", operation_id = "update_prompt")]
    async fn update(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<PromptId>,
        body: JsonBody<PromptInput>,
    ) -> Result<PromptResponse, ApiError> {
        let prompt = state.prompts.update(&auth.0.user, id.0, body.0).await?;
        Ok(PromptResponse::Prompt(Json(prompt.into())))
    }

    /// Delete a shared prompt (admins)
    #[oai(path = "/api/prompts/:id", method = "delete", operation_id = "delete_prompt")]
    async fn delete(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<PromptId>,
    ) -> Result<DeletedResponse, ApiError> {
        state.prompts.delete(&auth.0.user, id.0).await?;
        Ok(DeletedResponse::Deleted)
    }
}
