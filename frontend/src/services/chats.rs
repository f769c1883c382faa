use futures::{Stream, StreamExt};
use gloo_net::http::Request;
use troupe_types::{
    BranchChat, Chat, ChatList, CreateChat, EditMessage, Message, MessageLimits, MessageList, SelectAlternative,
    SendMessage, TurnEvent, UpdateChat,
};
use web_sys::AbortSignal;

use super::{ApiError, ApiResult, delete, get, json, patch, post, put, query, send};

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
    post("/api/chats", &CreateChat { character_id, model: None, persona_id: None }).await
}

pub async fn set_model(id: i64, model: String) -> ApiResult<Chat> {
    patch(&format!("/api/chats/{id}"), &UpdateChat { model: Some(model), ..UpdateChat::default() }).await
}

/// The persona the user is in chat `id`; `None`: their default persona.
pub async fn set_persona(id: i64, persona_id: Option<i64>) -> ApiResult<Chat> {
    patch(&format!("/api/chats/{id}"), &UpdateChat { persona_id: Some(persona_id), ..UpdateChat::default() }).await
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

/// Shows alternative `index` of a message (and uses it in later prompts).
pub async fn choose_alternative(chat_id: i64, message_id: i64, index: i64) -> ApiResult<Message> {
    put(&format!("/api/chats/{chat_id}/messages/{message_id}/alternative"), &SelectAlternative { index }).await
}

pub async fn edit_message(chat_id: i64, message_id: i64, content: String) -> ApiResult<Message> {
    patch(&format!("/api/chats/{chat_id}/messages/{message_id}"), &EditMessage { content }).await
}

/// Deletes a message, and with `and_after` every later one too (a rewind).
pub async fn delete_message(chat_id: i64, message_id: i64, and_after: bool) -> ApiResult<()> {
    delete(&format!("/api/chats/{chat_id}/messages/{message_id}?and_after={and_after}")).await
}

/// A new chat holding copies of the messages up to `message_id`.
pub async fn branch(chat_id: i64, message_id: i64) -> ApiResult<Chat> {
    post(&format!("/api/chats/{chat_id}/branch"), &BranchChat { message_id }).await
}

/// Where the browser downloads the chat as a file: `jsonl` (SillyTavern), `json` or `txt`.
pub fn export_url(chat_id: i64, format: &str) -> String {
    format!("/api/chats/{chat_id}/export?format={format}")
}

/// A new chat with `character_id` from a SillyTavern or Troupe chat file, sent as it is.
pub async fn import(character_id: i64, file: web_sys::File) -> ApiResult<Chat> {
    let request = Request::post(&format!("/api/chats/import?character_id={character_id}"))
        .header("Content-Type", "application/octet-stream")
        .body(file)
        .map_err(ApiError::network)?;
    json(send(request).await?).await
}

/// Sends a message and reads the reply as it streams (SSE over the POST, read with fetch and
/// a ReadableStream), calling `on_event` for each event. Aborting `signal` ends the stream;
/// the server then keeps the partial reply as `incomplete`.
pub async fn send_streaming(
    chat_id: i64,
    content: String,
    signal: &AbortSignal,
    on_event: impl FnMut(TurnEvent),
) -> ApiResult<()> {
    let request = streaming(&format!("/api/chats/{chat_id}/messages"), signal)
        .json(&SendMessage { content })
        .map_err(ApiError::network)?;
    read_turn(request, on_event).await
}

/// Writes the last reply again, as a new alternative, streamed as `send_streaming` does.
pub async fn regenerate_streaming(
    chat_id: i64,
    message_id: i64,
    signal: &AbortSignal,
    on_event: impl FnMut(TurnEvent),
) -> ApiResult<()> {
    let request = streaming(&format!("/api/chats/{chat_id}/messages/{message_id}/regenerate"), signal)
        .build()
        .map_err(ApiError::network)?;
    read_turn(request, on_event).await
}

fn streaming(url: &str, signal: &AbortSignal) -> gloo_net::http::RequestBuilder {
    Request::post(url).header("Accept", "text/event-stream").abort_signal(Some(signal))
}

async fn read_turn(request: Request, mut on_event: impl FnMut(TurnEvent)) -> ApiResult<()> {
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
