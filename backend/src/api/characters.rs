//! `/api/characters`.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_types::{Character, CharacterInput, CharacterList};

use super::{ApiTags, credentials::Authenticated, error::ApiError, payload::JsonBody};
use crate::{
    domain::{CharacterFilter, CharacterId, Page},
    state::AppState,
};

#[derive(Default)]
pub struct CharactersApi;

#[derive(ApiResponse)]
enum ListResponse {
    /// The caller's own characters and the public ones, newest first.
    #[oai(status = 200)]
    Characters(Json<CharacterList>),
}

#[derive(ApiResponse)]
enum CreatedResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Character>),
}

#[derive(ApiResponse)]
enum CharacterResponse {
    /// The character.
    #[oai(status = 200)]
    Character(Json<Character>),
}

#[derive(ApiResponse)]
enum DeletedResponse {
    /// Deleted; chats that used it keep their history and can go on.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(tag = "ApiTags::Characters")]
impl CharactersApi {
    /// List characters
    ///
    /// Own and public characters. `q` searches name and description, `tag` filters by tag,
    /// `mine=true` keeps only the caller's. Paged with `limit` (1–200, default 50) and `page`.
    #[oai(path = "/api/characters", method = "get", operation_id = "list_characters")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        q: Query<Option<String>>,
        tag: Query<Option<String>>,
        mine: Query<Option<bool>>,
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<ListResponse, ApiError> {
        let page = Page::parse(limit.0, page.0).map_err(crate::error::AppError::from)?;
        let filter = CharacterFilter::new(q.0, tag.0, mine.0);
        let (items, total) = state.characters.list(&auth.0.user, &filter, page).await?;
        Ok(ListResponse::Characters(Json(CharacterList { items: items.into_iter().map(Into::into).collect(), total })))
    }

    /// Create a character
    ///
    /// Name 1–128 characters; every text ≤ 32,000 characters (not bytes); up to 50 tags of
    /// 1–64 characters, kept in their case, duplicates (ignoring case) dropped; a lorebook ≤
    /// 2,000 entries. Violations answer 422 with `field`.
    #[oai(path = "/api/characters", method = "post", operation_id = "create_character")]
    async fn create(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        body: JsonBody<CharacterInput>,
    ) -> Result<CreatedResponse, ApiError> {
        let character = state.characters.create(&auth.0.user, body.0).await?;
        Ok(CreatedResponse::Created(Json(character.into())))
    }

    /// Get a character
    ///
    /// The owner's, an admin's, or anyone's if public; otherwise 404.
    #[oai(path = "/api/characters/:id", method = "get", operation_id = "get_character")]
    async fn get(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<CharacterId>,
    ) -> Result<CharacterResponse, ApiError> {
        let character = state.characters.get(&auth.0.user, id.0).await?;
        Ok(CharacterResponse::Character(Json(character.into())))
    }

    /// Replace a character
    ///
    /// Owner or admin only: others get 403 for a public character, 404 for a private one.
    #[oai(path = "/api/characters/:id", method = "put", operation_id = "update_character")]
    async fn update(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<CharacterId>,
        body: JsonBody<CharacterInput>,
    ) -> Result<CharacterResponse, ApiError> {
        let character = state.characters.update(&auth.0.user, id.0, body.0).await?;
        Ok(CharacterResponse::Character(Json(character.into())))
    }

    /// Delete a character
    #[oai(path = "/api/characters/:id", method = "delete", operation_id = "delete_character")]
    async fn delete(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<CharacterId>,
    ) -> Result<DeletedResponse, ApiError> {
        state.characters.delete(&auth.0.user, id.0).await?;
        Ok(DeletedResponse::Deleted)
    }
}
