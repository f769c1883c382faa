//! The one way the app talks to the API: typed calls over gloo-net with relative URLs, the
//! session riding in the HttpOnly cookie the server sets (the app never sees a token). The
//! embed app, framed by another product where no cookie reaches it, has a chat token instead:
//! [`use_bearer`] puts it on every request, from memory only.

pub mod admin;
pub mod auth;
pub mod characters;
pub mod chats;
pub mod events;
pub mod keys;
pub mod lorebooks;
pub mod personas;
pub mod prompts;
pub mod rooms;

use std::cell::RefCell;

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::{Serialize, de::DeserializeOwned};
use troupe_types::ErrorBody;
use yew::Callback;

/// What went wrong with a call: the contract's error body, or a network failure (status 0).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    fn network(error: impl std::fmt::Display) -> Self {
        Self { status: 0, code: "network".into(), message: error.to_string(), field: None }
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

thread_local! {
    static ON_UNAUTHORIZED: RefCell<Option<Callback<()>>> = const { RefCell::new(None) };
    /// `Bearer <token>`, the `Authorization` every request carries once set. Never written to
    /// any storage: it lives as long as the page.
    static BEARER: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// From now on every request carries `token` as `Authorization: Bearer <token>` (the server
/// reads it before any cookie). For the embed app, whose page was opened with a chat token.
pub fn use_bearer(token: String) {
    BEARER.with(|slot| *slot.borrow_mut() = Some(format!("Bearer {token}")));
}

/// Who to tell when a session turns out to be gone, so the app can send the user to sign in.
pub fn on_unauthorized(callback: Callback<()>) {
    ON_UNAUTHORIZED.with(|slot| *slot.borrow_mut() = Some(callback));
}

fn session_expired() {
    if let Some(callback) = ON_UNAUTHORIZED.with(|slot| slot.borrow().clone()) {
        callback.emit(());
    }
}

/// Sends a request and turns any non-2xx answer into an [`ApiError`]. A 401 outside
/// `/api/auth/` means the session ended, which the app hears about through [`on_unauthorized`].
/// Every request of this layer passes here, so here it gets the bearer token, if there is one.
pub(crate) async fn send(request: Request) -> ApiResult<Response> {
    BEARER.with(|slot| {
        if let Some(authorization) = &*slot.borrow() {
            request.headers().set("Authorization", authorization);
        }
    });
    let url = request.url();
    let response = request.send().await.map_err(ApiError::network)?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    if status == 401 && !url.contains("/api/auth/") {
        session_expired();
    }
    let error = match response.json::<ErrorBody>().await {
        Ok(body) => ApiError { status, code: body.error.code, message: body.error.message, field: body.error.field },
        Err(_) => ApiError { status, code: "http".into(), message: format!("HTTP {status}"), field: None },
    };
    Err(error)
}

pub(crate) async fn json<T: DeserializeOwned>(response: Response) -> ApiResult<T> {
    response.json().await.map_err(ApiError::network)
}

fn with_body(builder: RequestBuilder, body: &impl Serialize) -> ApiResult<Request> {
    builder.json(body).map_err(ApiError::network)
}

fn bare(builder: RequestBuilder) -> ApiResult<Request> {
    builder.build().map_err(ApiError::network)
}

pub(crate) async fn get<T: DeserializeOwned>(url: &str) -> ApiResult<T> {
    json(send(bare(Request::get(url))?).await?).await
}

pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> ApiResult<T> {
    json(send(with_body(Request::post(url), body)?).await?).await
}

pub(crate) async fn put<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> ApiResult<T> {
    json(send(with_body(Request::put(url), body)?).await?).await
}

pub(crate) async fn patch<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> ApiResult<T> {
    json(send(with_body(Request::patch(url), body)?).await?).await
}

/// A POST without a body, for actions such as signing out.
pub(crate) async fn post_empty(url: &str) -> ApiResult<()> {
    send(bare(Request::post(url))?).await.map(drop)
}

pub(crate) async fn delete(url: &str) -> ApiResult<()> {
    send(bare(Request::delete(url))?).await.map(drop)
}

/// The WebSocket URL of API path `path` on this page's own origin (`wss:` under https).
fn socket_url(path: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    Some(format!("{scheme}://{}{path}", location.host().ok()?))
}

/// `?a=1&b=x` from the pairs that have a value, percent-encoded.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={}", js_sys::encode_uri_component(v))))
        .collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}
