use futures::{Stream, StreamExt};
use gloo_net::http::Request;
use troupe_types::{Chat, ChatList, CreateChat, MessageLimits, MessageList, SendMessage, TurnEvent, UpdateChat};
use web_sys::AbortSignal;

use super::{ApiError, ApiResult, delete, get, patch, post, query, send};

/// What a message must fit on this server (its length limit above all).
pub async fn limits() -> ApiResult<MessageLimits> {
    get("/api/limits").await
}

pub async fn list() -> ApiResult<ChatList> {
    get("/api/chats?limit=100").await
}

pub async fn fetch(id: i64) -> ApiResult<Chat> {
    get(&format!("/api/chats/{id}")).await
}

pub async fn create(character_id: i64) -> ApiResult<Chat> {
    post("/api/chats", &CreateChat { character_id, model: None }).await
}

pub async fn set_model(id: i64, model: String) -> ApiResult<Chat> {
    patch(&format!("/api/chats/{id}"), &UpdateChat { title: None, model: Some(model) }).await
}

pub async fn remove(id: i64) -> ApiResult<()> {
    delete(&format!("/api/chats/{id}")).await
}

pub const MESSAGE_PAGE: i64 = 30;

/// The newest messages before `before_id` (or the newest of all), oldest first.
pub async fn messages(chat_id: i64, before_id: Option<i64>) -> ApiResult<MessageList> {
    let q = query(&[("before_id", before_id.map(|id| id.to_string())), ("limit", Some(MESSAGE_PAGE.to_string()))]);
    get(&format!("/api/chats/{chat_id}/messages{q}")).await
}

/// Sends a message and reads the reply as it streams (SSE over the POST, read with fetch and
/// a ReadableStream), calling `on_event` for each event. Aborting `signal` ends the stream;
/// the server then keeps the partial reply as `incomplete`.
pub async fn send_streaming(
    chat_id: i64,
    content: String,
    signal: &AbortSignal,
    mut on_event: impl FnMut(TurnEvent),
) -> ApiResult<()> {
    let request = Request::post(&format!("/api/chats/{chat_id}/messages"))
        .header("Accept", "text/event-stream")
        .abort_signal(Some(signal))
        .json(&SendMessage { content })
        .map_err(ApiError::network)?;
    let response = send(request).await?;
    let body = response.body().ok_or_else(|| ApiError::network("the reply has no body"))?;
    let mut events = std::pin::pin!(sse_events(body));
    while let Some(event) = events.next().await {
        let event = event?;
        if let Some(turn_event) = TurnEvent::from_sse(&event.event, &event.data) {
            on_event(turn_event.map_err(ApiError::network)?);
        }
    }
    Ok(())
}

fn sse_events(body: web_sys::ReadableStream) -> impl Stream<Item = ApiResult<eventsource_stream::Event>> {
    use eventsource_stream::Eventsource;
    let chunks = wasm_streams::ReadableStream::from_raw(body)
        .into_stream()
        .map(|chunk| chunk.map(|bytes| js_sys::Uint8Array::new(&bytes).to_vec()).map_err(|e| format!("{e:?}")));
    chunks.eventsource().map(|event| event.map_err(ApiError::network))
}
