//! Personal API keys (`/api/keys`): what programs use instead of signing in.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The secret's first characters (`trp_` and 8 more), to tell keys apart.
    pub prefix: String,
    pub created_at: String,
    /// When the key last authenticated a request (recorded about once a minute).
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub last_used_at: Option<String>,
    /// When the key stops working; `null`: never.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub expires_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

/// Body of `POST /api/keys`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CreateApiKey {
    /// 1–64 characters: what the key is for.
    pub name: String,
    /// 1–3650; absent or `null`: the key never expires.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub expires_in_days: Option<i64>,
}

/// Answer of `POST /api/keys`: the key, and its secret — shown this once, never again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// `trp_` and 40 random characters. Send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}
