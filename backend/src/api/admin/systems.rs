//! `/api/admin/systems`: the service gateway's systems — create (secrets shown once), change,
//! rotate, disable — with their usage.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use troupe_types::{CreateSystem, CreatedSystem, SystemList, SystemSecrets, UpdateSystem};

use crate::{
    api::{ApiTags, credentials::AdminOnly, error::ApiError, payload::JsonBody},
    domain::{SystemChange, SystemDraft, SystemId, SystemTotals, system::wire_system},
    state::AppState,
};

#[derive(Default)]
pub struct SystemsApi;

#[derive(ApiResponse)]
enum ListResponse {
    /// Every system, oldest first, with its users and usage.
    #[oai(status = 200)]
    Systems(Json<SystemList>),
}

#[derive(ApiResponse)]
enum CreatedResponse {
    /// Created: `service_key` and `jwt_secret` are shown this once.
    #[oai(status = 201)]
    Created(Json<CreatedSystem>),
}

#[derive(ApiResponse)]
enum SystemResponse {
    /// The system as it is now.
    #[oai(status = 200)]
    System(Json<troupe_types::System>),
}

#[derive(ApiResponse)]
enum SecretsResponse {
    /// The new secrets, shown this once; the old key and every token signed before fail from
    /// now on.
    #[oai(status = 200)]
    Secrets(Json<SystemSecrets>),
}

#[derive(ApiResponse)]
enum DisabledResponse {
    /// Disabled: its key, secret and tokens fail from now on (its users' history stays;
    /// `PATCH {"disabled": false}` brings it back).
    #[oai(status = 204)]
    Disabled,
}

/// An unknown system is 404; a malformed id too (no system can have it).
fn system_id(raw: &str) -> Result<SystemId, ApiError> {
    SystemId::parse(raw).map_err(|_| crate::error::AppError::NotFound.into())
}

#[OpenApi(tag = "ApiTags::Admin")]
impl SystemsApi {
    /// List systems
    #[oai(path = "/api/admin/systems", method = "get", operation_id = "admin_list_systems")]
    async fn list(&self, _admin: AdminOnly, state: Data<&AppState>) -> Result<ListResponse, ApiError> {
        let systems = state.systems.list().await?;
        let items = systems.into_iter().map(|(system, totals)| wire_system(system, totals)).collect();
        Ok(ListResponse::Systems(Json(SystemList { items })))
    }

    /// Create a system
    ///
    /// `id` `[a-z0-9_-]{2,32}` (409 `system_exists` if taken); `name` 1–100 characters;
    /// `allowed_origins` up to 20 `scheme://host[:port]`; `default_character_id` a public
    /// character; `model` from the catalogue; `daily_token_quota_per_user` ≥ 0 (`null`: the
    /// server default). The answer carries `service_key` (`trs_…`, sent as `X-API-Key`) and
    /// `jwt_secret` (signs the system's own chat tokens), shown only here.
    #[oai(path = "/api/admin/systems", method = "post", operation_id = "admin_create_system")]
    async fn create(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        body: JsonBody<CreateSystem>,
    ) -> Result<CreatedResponse, ApiError> {
        let (system, secrets) = state.systems.create(SystemDraft::parse(body.0)?).await?;
        Ok(CreatedResponse::Created(Json(CreatedSystem {
            system: wire_system(system, SystemTotals::default()),
            service_key: secrets.service_key,
            jwt_secret: secrets.jwt_secret,
        })))
    }

    /// Change a system
    ///
    /// Absent fields stay; `null` clears `default_character_id`, `model` and
    /// `daily_token_quota_per_user`; `disabled` turns it off or back on.
    #[oai(path = "/api/admin/systems/:id", method = "patch", operation_id = "admin_update_system")]
    async fn update(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<String>,
        body: JsonBody<UpdateSystem>,
    ) -> Result<SystemResponse, ApiError> {
        let id = system_id(&id.0)?;
        let change = SystemChange::parse(body.0)?;
        let system = state.systems.update(&id, change).await?;
        let totals = state.systems.totals_of(&system).await?;
        Ok(SystemResponse::System(Json(wire_system(system, totals))))
    }

    /// Disable a system
    #[oai(path = "/api/admin/systems/:id", method = "delete", operation_id = "admin_disable_system")]
    async fn disable(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> Result<DisabledResponse, ApiError> {
        state.systems.disable(&system_id(&id.0)?).await?;
        Ok(DisabledResponse::Disabled)
    }

    /// Rotate a system's secrets
    #[oai(path = "/api/admin/systems/:id/rotate", method = "post", operation_id = "admin_rotate_system")]
    async fn rotate(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<String>,
    ) -> Result<SecretsResponse, ApiError> {
        Ok(SecretsResponse::Secrets(Json(state.systems.rotate(&system_id(&id.0)?).await?)))
    }
}
