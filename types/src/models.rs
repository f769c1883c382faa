//! The model catalogue (`/api/models`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Model {
    /// What clients send as `model`.
    pub id: String,
    /// `openai`, `anthropic`, `dify` or `demo`.
    pub provider: String,
    pub display_name: String,
    pub context_window: i64,
    pub max_output_tokens: i64,
    /// USD per million prompt tokens.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub input_price_per_mtok: Option<f64>,
    /// USD per million completion tokens.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub output_price_per_mtok: Option<f64>,
    pub is_default: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ModelList {
    pub items: Vec<Model>,
}
