//! `/api/personas`: who the user is in their chats.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use troupe_types::{Persona, PersonaInput, PersonaList};

use super::{ApiTags, credentials::Authenticated, error::ApiError, payload::JsonBody};
use crate::{domain::PersonaId, state::AppState};

#[derive(Default)]
pub struct PersonasApi;

#[derive(ApiResponse)]
enum ListResponse {
    /// The caller's personas, oldest first.
    #[oai(status = 200)]
    Personas(Json<PersonaList>),
}

#[derive(ApiResponse)]
enum CreatedResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Persona>),
}

#[derive(ApiResponse)]
enum PersonaResponse {
    /// The persona.
    #[oai(status = 200)]
    Persona(Json<Persona>),
}

#[derive(ApiResponse)]
enum DeletedResponse {
    /// Deleted; chats that named it use the default persona (or the username) from now on.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(tag = "ApiTags::Personas")]
impl PersonasApi {
    /// List personas
    #[oai(path = "/api/personas", method = "get", operation_id = "list_personas")]
    async fn list(&self, auth: Authenticated, state: Data<&AppState>) -> Result<ListResponse, ApiError> {
        let items = state.personas.list(&auth.0.user).await?;
        Ok(ListResponse::Personas(Json(PersonaList { items: items.into_iter().map(Into::into).collect() })))
    }

    /// Create a persona
    ///
    /// Name 1–64 characters, description ≤ 32,000; at most 100 personas. `is_default: true`
    /// makes it the one chats use when they name none (the previous default stops being one).
    #[oai(path = "/api/personas", method = "post", operation_id = "create_persona")]
    async fn create(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        body: JsonBody<PersonaInput>,
    ) -> Result<CreatedResponse, ApiError> {
        let persona = state.personas.create(&auth.0.user, body.0).await?;
        Ok(CreatedResponse::Created(Json(persona.into())))
    }

    /// Replace a persona
    ///
    /// The caller's own; anyone else's is 404.
    #[oai(path = "/api/personas/:id", method = "put", operation_id = "update_persona")]
    async fn update(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<PersonaId>,
        body: JsonBody<PersonaInput>,
    ) -> Result<PersonaResponse, ApiError> {
        let persona = state.personas.update(&auth.0.user, id.0, body.0).await?;
        Ok(PersonaResponse::Persona(Json(persona.into())))
    }

    /// Delete a persona
    #[oai(path = "/api/personas/:id", method = "delete", operation_id = "delete_persona")]
    async fn delete(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<PersonaId>,
    ) -> Result<DeletedResponse, ApiError> {
        state.personas.delete(&auth.0.user, id.0).await?;
        Ok(DeletedResponse::Deleted)
    }
}
