//! `/api/lorebooks`: standalone lorebooks, each its owner's own, attached to chats with
//! `PATCH /api/chats/{id}` `{lorebook_ids}`.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_types::{Lorebook, LorebookList, SavedLorebook};

use super::{ApiTags, credentials::Authenticated, error::ApiError, payload::JsonBody, upload::Upload};
use crate::{domain::LorebookId, state::AppState};

#[derive(Default)]
pub struct LorebooksApi;

#[derive(ApiResponse)]
enum ListResponse {
    /// The caller's lorebooks, oldest first.
    #[oai(status = 200)]
    Lorebooks(Json<LorebookList>),
}

#[derive(ApiResponse)]
enum CreatedResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<SavedLorebook>),
}

#[derive(ApiResponse)]
enum LorebookResponse {
    /// The lorebook.
    #[oai(status = 200)]
    Lorebook(Json<SavedLorebook>),
}

#[derive(ApiResponse)]
enum DeletedResponse {
    /// Deleted; the chats that used it stop using it.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(tag = "ApiTags::Lorebooks")]
impl LorebooksApi {
    /// List lorebooks
    #[oai(path = "/api/lorebooks", method = "get", operation_id = "list_lorebooks")]
    async fn list(&self, auth: Authenticated, state: Data<&AppState>) -> Result<ListResponse, ApiError> {
        let items = state.lorebooks.list(&auth.0.user).await?;
        Ok(ListResponse::Lorebooks(Json(LorebookList { items: items.into_iter().map(Into::into).collect() })))
    }

    /// Create a lorebook
    ///
    /// Character Card V2's `character_book` shape: at most 2,000 entries of at most 16,000
    /// characters, 100 keys of 200 characters each; at most 100 lorebooks. 422
    /// `invalid_lorebook` otherwise.
    #[oai(path = "/api/lorebooks", method = "post", operation_id = "create_lorebook")]
    async fn create(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        body: JsonBody<Lorebook>,
    ) -> Result<CreatedResponse, ApiError> {
        let book = state.lorebooks.create(&auth.0.user, body.0).await?;
        Ok(CreatedResponse::Created(Json(book.into())))
    }

    /// Import a lorebook file
    ///
    /// SillyTavern world info (`{entries: {"0": {key, keysecondary, content, constant,
    /// selective, order, position, disable, …}}}`; what has no place in the card shape, such as
    /// `probability` or SillyTavern's other positions, is kept in each entry's `extensions`),
    /// Character Card V3 `{spec: "lorebook_v3", data}`, or a bare `character_book`. The body is
    /// the file, or a multipart `file` part. `name` names it when the file does not.
    #[oai(path = "/api/lorebooks/import", method = "post", operation_id = "import_lorebook")]
    async fn import(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        name: Query<Option<String>>,
        file: Upload,
    ) -> Result<CreatedResponse, ApiError> {
        let book = state.lorebooks.import(&auth.0.user, file.0, name.0).await?;
        Ok(CreatedResponse::Created(Json(book.into())))
    }

    /// Get a lorebook
    ///
    /// The caller's own; anyone else's is 404.
    #[oai(path = "/api/lorebooks/:id", method = "get", operation_id = "get_lorebook")]
    async fn get(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<LorebookId>,
    ) -> Result<LorebookResponse, ApiError> {
        Ok(LorebookResponse::Lorebook(Json(state.lorebooks.get(&auth.0.user, id.0).await?.into())))
    }

    /// Replace a lorebook
    #[oai(path = "/api/lorebooks/:id", method = "put", operation_id = "update_lorebook")]
    async fn update(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<LorebookId>,
        body: JsonBody<Lorebook>,
    ) -> Result<LorebookResponse, ApiError> {
        Ok(LorebookResponse::Lorebook(Json(state.lorebooks.update(&auth.0.user, id.0, body.0).await?.into())))
    }

    /// Delete a lorebook
    #[oai(path = "/api/lorebooks/:id", method = "delete", operation_id = "delete_lorebook")]
    async fn delete(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<LorebookId>,
    ) -> Result<DeletedResponse, ApiError> {
        state.lorebooks.delete(&auth.0.user, id.0).await?;
        Ok(DeletedResponse::Deleted)
    }
}
