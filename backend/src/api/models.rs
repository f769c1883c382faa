//! `/api/models`: the catalogue.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, payload::Json};
use troupe_types::{Model, ModelList};

use super::{ApiTags, credentials::Authenticated, error::ApiError};
use crate::state::AppState;

#[derive(Default)]
pub struct ModelsApi;

#[derive(ApiResponse)]
enum ModelsResponse {
    /// The models a chat may use, in catalogue order; `demo` is always among them.
    #[oai(status = 200)]
    Models(Json<ModelList>),
}

#[OpenApi(tag = "ApiTags::Models")]
impl ModelsApi {
    /// List the models on offer
    #[oai(path = "/api/models", method = "get", operation_id = "list_models")]
    async fn list(&self, _auth: Authenticated, state: Data<&AppState>) -> Result<ModelsResponse, ApiError> {
        let default = &state.catalog.default_model().id;
        let items = state
            .catalog
            .all()
            .iter()
            .map(|m| Model {
                id: m.id.clone(),
                provider: m.provider.as_str().to_owned(),
                display_name: m.display_name().to_owned(),
                context_window: i64::from(m.context_window),
                max_output_tokens: i64::from(m.max_output_tokens),
                input_price_per_mtok: m.input_price_per_mtok,
                output_price_per_mtok: m.output_price_per_mtok,
                is_default: &m.id == default,
            })
            .collect();
        Ok(ModelsResponse::Models(Json(ModelList { items })))
    }
}
