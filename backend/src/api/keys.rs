//! `/api/keys`: personal API keys, for programs that call Troupe (`/api` and `/v1`).

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use troupe_types::{ApiKeyList, CreateApiKey, CreatedApiKey};

use super::{ApiTags, credentials::Authenticated, error::ApiError, payload::JsonBody};
use crate::{domain::ApiKeyId, state::AppState};

#[derive(Default)]
pub struct KeysApi;

#[derive(ApiResponse)]
enum ListResponse {
    /// The caller's keys, newest first (never their secrets).
    #[oai(status = 200)]
    Keys(Json<ApiKeyList>),
}

#[derive(ApiResponse)]
enum CreatedResponse {
    /// Created: `secret` is shown this once.
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
}

#[derive(ApiResponse)]
enum RevokedResponse {
    /// Revoked: the key fails from the next request on, and its live connections end.
    #[oai(status = 204)]
    Revoked,
}

/// Managing keys takes a signed-in session (bearer token or cookie): a request made with an
/// API key gets 403, so that a leaked key cannot mint others.
#[OpenApi(tag = "ApiTags::Keys")]
impl KeysApi {
    /// List API keys
    #[oai(path = "/api/keys", method = "get", operation_id = "list_api_keys")]
    async fn list(&self, auth: Authenticated, state: Data<&AppState>) -> Result<ListResponse, ApiError> {
        auth.0.require_signed_in()?;
        let items = state.accounts.keys().list(&auth.0.user).await?;
        Ok(ListResponse::Keys(Json(ApiKeyList { items: items.into_iter().map(Into::into).collect() })))
    }

    /// Create an API key
    ///
    /// `name` 1–64 characters; `expires_in_days` 1–3650, or absent/`null` for a key that never
    /// expires; at most 50 keys. The answer's `secret` (`trp_…`) is shown only here: only its
    /// hash is stored. Send it as `Authorization: Bearer trp_…`: it works wherever a session
    /// does (without the cookie's CSRF rule, since no cookie is involved) and on `/v1`. It
    /// stops working when revoked, when it expires, or while its owner is disabled. API keys
    /// cannot manage keys (403).
    #[oai(path = "/api/keys", method = "post", operation_id = "create_api_key")]
    async fn create(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        body: JsonBody<CreateApiKey>,
    ) -> Result<CreatedResponse, ApiError> {
        auth.0.require_signed_in()?;
        let (key, secret) = state.accounts.keys().create(&auth.0.user, body.0).await?;
        Ok(CreatedResponse::Created(Json(CreatedApiKey { key: key.into(), secret })))
    }

    /// Revoke an API key
    ///
    /// The caller's own; anyone else's is 404.
    #[oai(path = "/api/keys/:id", method = "delete", operation_id = "revoke_api_key")]
    async fn revoke(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ApiKeyId>,
    ) -> Result<RevokedResponse, ApiError> {
        auth.0.require_signed_in()?;
        state.accounts.keys().revoke(&auth.0.user, id.0).await?;
        Ok(RevokedResponse::Revoked)
    }
}
