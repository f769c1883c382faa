//! `/api/auth`: accounts and sessions.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, payload::Json};
use troupe_types::{AuthResponse, LoginRequest, RegisterRequest, RegistrationInfo, User};

use super::{
    ApiTags,
    client_ip::ClientIp,
    credentials::{Authenticated, SessionCookie},
    error::ApiError,
    payload::JsonBody,
};
use crate::{
    services::{Accounts, SignedIn},
    state::AppState,
};

#[derive(Default)]
pub struct AuthApi;

#[derive(ApiResponse)]
enum RegisterResponse {
    /// The account exists and is signed in; the session cookie is set.
    #[oai(status = 201)]
    Created(Json<AuthResponse>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
enum RegistrationResponse {
    /// What registering will do.
    #[oai(status = 200)]
    Info(Json<RegistrationInfo>),
}

#[derive(ApiResponse)]
enum LoginResponse {
    /// Signed in; the session cookie is set.
    #[oai(status = 200)]
    SignedIn(Json<AuthResponse>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
enum LogoutResponse {
    /// The token is revoked and the cookie cleared.
    #[oai(status = 204)]
    SignedOut(#[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
enum MeResponse {
    /// The signed-in user.
    #[oai(status = 200)]
    Me(Json<User>),
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AuthApi {
    /// Create an account
    ///
    /// Limited with sign-in to `RATE_LIMIT_AUTH_PER_MINUTE` attempts per client address
    /// (429 `rate_limited` with `Retry-After`). The first account on a server with none becomes
    /// its admin (`FIRST_ACCOUNT_ADMIN`; see `GET /api/auth/registration`).
    /// Username: 3–32 characters of `[A-Za-z0-9_]`, unique ignoring case (409 `username_taken`).
    /// Password: 8–128 characters with a letter and a digit. Email optional; blank counts as
    /// absent. Rule violations answer 422 with `field` set. Unknown fields are ignored.
    #[oai(path = "/api/auth/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        client: ClientIp,
        state: Data<&AppState>,
        body: JsonBody<RegisterRequest>,
    ) -> Result<RegisterResponse, ApiError> {
        state.auth_attempts.check(client.0).await?;
        let signed_in = state.accounts.register(body.0).await?;
        let (body, set_cookie) = session_answer(signed_in, &state.accounts, &state.session_cookie);
        Ok(RegisterResponse::Created(body, set_cookie))
    }

    /// Before registering
    ///
    /// Whether the account about to be created will be the server's admin: on a server with no
    /// accounts yet the first one is (unless `FIRST_ACCOUNT_ADMIN=false`). No session needed.
    #[oai(path = "/api/auth/registration", method = "get", operation_id = "registration_info")]
    async fn registration(&self, state: Data<&AppState>) -> Result<RegistrationResponse, ApiError> {
        let first_account_is_admin = state.accounts.next_account_is_admin().await?;
        Ok(RegistrationResponse::Info(Json(RegistrationInfo { first_account_is_admin })))
    }

    /// Sign in
    ///
    /// Unknown usernames and wrong passwords both answer 401 `invalid_credentials`, after the
    /// same work. A disabled account answers 403 `account_disabled` (only to its own password).
    #[oai(path = "/api/auth/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        client: ClientIp,
        state: Data<&AppState>,
        body: JsonBody<LoginRequest>,
    ) -> Result<LoginResponse, ApiError> {
        state.auth_attempts.check(client.0).await?;
        let signed_in = state.accounts.login(body.0).await?;
        let (body, set_cookie) = session_answer(signed_in, &state.accounts, &state.session_cookie);
        Ok(LoginResponse::SignedIn(body, set_cookie))
    }

    /// Sign out
    ///
    /// Revokes the token server-side (its next use answers 401 `session_revoked`) and clears
    /// the cookie.
    #[oai(path = "/api/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, auth: Authenticated, state: Data<&AppState>) -> Result<LogoutResponse, ApiError> {
        state.accounts.logout(&auth.0).await?;
        Ok(LogoutResponse::SignedOut(state.session_cookie.clear()))
    }

    /// The signed-in user
    #[oai(path = "/api/auth/me", method = "get", operation_id = "me")]
    async fn me(&self, auth: Authenticated) -> Result<MeResponse, ApiError> {
        Ok(MeResponse::Me(Json(auth.0.user.into())))
    }
}

fn session_answer(signed_in: SignedIn, accounts: &Accounts, cookie: &SessionCookie) -> (Json<AuthResponse>, String) {
    let set_cookie = cookie.issue(&signed_in.token, accounts.token_ttl());
    (Json(AuthResponse { user: signed_in.user.into(), token: signed_in.token }), set_cookie)
}
