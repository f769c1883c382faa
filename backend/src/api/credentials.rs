//! How a request proves who it is: `Authorization: Bearer <jwt>` or the `troupe_session`
//! cookie, documented in the spec as two alternative security schemes. A system's chat token
//! (a bearer JWT) reaches only the chat routes (`CHAT_TOKEN_ROUTES`).

use std::time::Duration;

use poem::{Request, RequestBody};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme,
    auth::{ApiKey, Bearer},
    registry::Registry,
};

use super::error::ApiError;
use crate::{
    error::{AppError, SessionProblem},
    services::{Session, accounts::Credential},
    state::AppState,
};

/// What a system's chat token may reach (each path and what is under it); elsewhere it gets 403.
const CHAT_TOKEN_ROUTES: [&str; 4] = ["/api/chats", "/api/models", "/api/limits", "/api/auth/me"];

fn chat_token_reaches(path: &str) -> bool {
    CHAT_TOKEN_ROUTES
        .iter()
        .any(|route| path.strip_prefix(route).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

pub const SESSION_COOKIE: &str = "troupe_session";

/// A JWT from `POST /api/auth/login` or `/register`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
#[allow(dead_code)] // documents the scheme; `Authenticated` does the checking
struct BearerAuth(Bearer);

/// The HttpOnly session cookie set by login and register. Unsafe methods carrying it are
/// refused with 403 `csrf_rejected` when their `Origin` is foreign.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "troupe_session", key_in = "cookie")]
#[allow(dead_code)]
struct CookieAuth(ApiKey);

/// The signed-in user of a request. Either credential is accepted (Bearer first); failures
/// answer 401 with a code saying why (`unauthenticated`, `session_expired`, `session_revoked`,
/// `account_disabled`, `invalid_token`).
pub struct Authenticated(pub Session);

impl<'a> ApiExtractor<'a> for Authenticated {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerAuth::register(registry);
        CookieAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        [BearerAuth::security_schemes(), CookieAuth::security_schemes()].concat()
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let state = req.data::<AppState>().expect("startup installs the AppState");
        let token = session_token(req).ok_or(AppError::Unauthenticated(SessionProblem::Missing));
        let session = match token {
            Ok(token) => state.accounts.authenticate(&token).await,
            Err(e) => Err(e),
        };
        let session = session.map_err(ApiError::from)?;
        if matches!(session.credential, Credential::Chat(_)) && !chat_token_reaches(req.uri().path()) {
            let refused = AppError::Forbidden("a chat token opens only the chat routes");
            return Err(ApiError::from(refused).into());
        }
        state.presence.touch(session.user.id);
        Ok(Self(session))
    }
}

/// A signed-in admin: 401 without a session, 403 `forbidden` for other users.
pub struct AdminOnly(pub Session);

impl<'a> ApiExtractor<'a> for AdminOnly {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        Authenticated::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        Authenticated::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let Authenticated(session) = Authenticated::from_request(req, body, param_opts).await?;
        session.user.require_admin().map_err(ApiError::from)?;
        Ok(Self(session))
    }
}

/// The bearer token if there is one, else the session cookie.
pub fn session_token(req: &Request) -> Option<String> {
    bearer_token(req).or_else(|| session_cookie(req))
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(req: &Request) -> Option<String> {
    req.headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
}

pub fn session_cookie(req: &Request) -> Option<String> {
    req.cookie().get(SESSION_COOKIE).map(|c| c.value_str().to_owned()).filter(|v| !v.is_empty())
}

/// Builds the `Set-Cookie` values of the session cookie.
#[derive(Clone, Copy, Debug)]
pub struct SessionCookie {
    /// `Secure` attribute: on in production, where Troupe is served over https.
    pub secure: bool,
}

impl SessionCookie {
    pub fn issue(&self, token: &str, ttl: Duration) -> String {
        format!("{SESSION_COOKIE}={token}; Max-Age={}; {}", ttl.as_secs(), self.attributes())
    }

    pub fn clear(&self) -> String {
        format!("{SESSION_COOKIE}=; Max-Age=0; {}", self.attributes())
    }

    fn attributes(&self) -> &'static str {
        if self.secure { "Path=/; HttpOnly; SameSite=Lax; Secure" } else { "Path=/; HttpOnly; SameSite=Lax" }
    }
}
