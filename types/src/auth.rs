//! Accounts and sessions (`/api/auth`).

use serde::{Deserialize, Serialize};

/// A Troupe account as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct User {
    pub id: i64,
    pub username: String,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub email: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    /// Tokens this user may spend per UTC day; `null` means the server default (unlimited if unset).
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub daily_token_quota: Option<i64>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// Body of `POST /api/auth/register`. Unknown fields are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RegisterRequest {
    /// 3–32 characters of `[A-Za-z0-9_]`, unique ignoring case.
    pub username: String,
    /// 8–128 characters with at least one letter and one digit.
    pub password: String,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub email: Option<String>,
}

/// What someone about to register should know (`GET /api/auth/registration`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct RegistrationInfo {
    /// The server has no accounts yet, and the first one becomes its admin.
    pub first_account_is_admin: bool,
}

/// Body of `POST /api/auth/login`. Unknown fields are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// A signed-in session: the user and a bearer token (also set as the `troupe_session` cookie).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct AuthResponse {
    pub user: User,
    /// JWT (HS256) for `Authorization: Bearer`.
    pub token: String,
}
