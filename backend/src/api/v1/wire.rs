//! OpenAI's chat-completions wire format, as far as `/v1` speaks it. These shapes are
//! OpenAI's, not Troupe's vocabulary, so they live here rather than in `troupe-types` (the web
//! app never uses them). Requests are read with serde (unknown fields ignored, a wrong type
//! names its `param`); answers are written with serde too.

use poem_openapi::{Enum, Object, Union};
use serde::{Deserialize, Serialize};

/// Body of `POST /v1/chat/completions`. Fields OpenAI defines that are not listed here (tools,
/// `n`, `logprobs`, …) are ignored.
#[derive(Debug, Deserialize, Object)]
pub struct ChatCompletionRequest {
    /// A catalogue model id, or `character-<id>` for a character the key's user can read.
    pub model: String,
    /// `system` (or `developer`), `user` and `assistant` messages, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Stream the answer as server-sent `chat.completion.chunk`s, ending with `data: [DONE]`.
    #[serde(default)]
    #[oai(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    #[oai(default)]
    pub stream_options: Option<StreamOptions>,
    /// The most tokens to generate (capped at the model's `max_output_tokens`).
    #[serde(default)]
    #[oai(default)]
    pub max_tokens: Option<i64>,
    /// Same as `max_tokens` (OpenAI's newer name); wins when both are given.
    #[serde(default)]
    #[oai(default)]
    pub max_completion_tokens: Option<i64>,
    /// 0–2. Passed to OpenAI-compatible and Anthropic models (Anthropic takes 0–1).
    #[serde(default)]
    #[oai(default)]
    pub temperature: Option<f64>,
    /// 0–1. Passed to OpenAI-compatible and Anthropic models.
    #[serde(default)]
    #[oai(default)]
    pub top_p: Option<f64>,
    /// Up to 4 sequences where the model stops. Passed to OpenAI-compatible and Anthropic models.
    #[serde(default)]
    #[oai(default)]
    pub stop: Option<Stop>,
    /// Accepted and ignored: usage is charged to the key's user.
    #[serde(default)]
    #[oai(default)]
    pub user: Option<String>,
}

#[derive(Debug, Deserialize, Object)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` (and `choices: []`) before `[DONE]`.
    #[serde(default)]
    #[oai(default)]
    pub include_usage: Option<bool>,
}

#[derive(Debug, Deserialize, Union)]
#[serde(untagged)]
#[oai(one_of)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize, Object)]
pub struct ChatMessage {
    pub role: MessageRole,
    /// Text, or an array of parts of which the `text` ones are read.
    #[serde(default)]
    #[oai(default)]
    pub content: Option<Content>,
    /// Accepted and ignored.
    #[serde(default)]
    #[oai(default)]
    pub name: Option<String>,
}

/// Who says a message. `developer` is read as `system`; tool messages are not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Enum)]
#[serde(rename_all = "lowercase")]
#[oai(rename_all = "lowercase")]
pub enum MessageRole {
    System,
    Developer,
    User,
    Assistant,
}

#[derive(Debug, Deserialize, Union)]
#[serde(untagged)]
#[oai(one_of)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize, Object)]
pub struct ContentPart {
    /// `text` (other kinds, such as images, are refused).
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub kind: String,
    #[serde(default)]
    #[oai(default)]
    pub text: Option<String>,
}

/// The answer of a non-streaming completion.
#[derive(Debug, Serialize, Object)]
pub struct ChatCompletion {
    /// `chatcmpl-…`
    pub id: String,
    /// `chat.completion`
    pub object: String,
    /// Seconds since the epoch.
    pub created: i64,
    /// The model as requested.
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: CompletionUsage,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
}

#[derive(Debug, Serialize, Object)]
pub struct Choice {
    pub index: i64,
    pub message: AssistantMessage,
    /// `stop`, or `length` when the reply reached the token limit.
    pub finish_reason: String,
    /// Always `null`.
    #[oai(nullable)]
    pub logprobs: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Object)]
pub struct AssistantMessage {
    /// `assistant`
    pub role: String,
    pub content: String,
    /// Always `null`.
    #[oai(nullable)]
    pub refusal: Option<String>,
}

/// What a completion was charged (the same as the usage ledger booked).
#[derive(Debug, Clone, Copy, Serialize, Object)]
pub struct CompletionUsage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

/// One server-sent event of a streaming completion (`data: {…}`); the stream ends with
/// `data: [DONE]`. A failure after the stream started is sent as `data: {"error": {…}}`.
#[derive(Debug, Serialize, Object)]
pub struct ChatCompletionChunk {
    pub id: String,
    /// `chat.completion.chunk`
    pub object: String,
    pub created: i64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    /// With `stream_options.include_usage`: `null` on every chunk but the last, which has
    /// `choices: []`. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none, nullable)]
    pub usage: Option<Option<CompletionUsage>>,
}

#[derive(Debug, Serialize, Object)]
pub struct ChunkChoice {
    pub index: i64,
    pub delta: Delta,
    /// `null` until the last chunk with choices: `stop` or `length`.
    #[oai(nullable)]
    pub finish_reason: Option<String>,
    /// Always `null`.
    #[oai(nullable)]
    pub logprobs: Option<serde_json::Value>,
}

#[derive(Debug, Default, Serialize, Object)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub content: Option<String>,
}

/// `GET /v1/models`.
#[derive(Debug, Serialize, Object)]
pub struct OpenAiModelList {
    /// `list`
    pub object: String,
    pub data: Vec<OpenAiModel>,
}

#[derive(Debug, Serialize, Object)]
pub struct OpenAiModel {
    /// A catalogue id, or `character-<id>`.
    pub id: String,
    /// `model`
    pub object: String,
    /// Seconds since the epoch: the character's creation, or the server's start for the
    /// catalogue's models.
    pub created: i64,
    /// `troupe` for catalogue models; the character's creator's username for characters.
    pub owned_by: String,
}

/// `/v1`'s error shape (OpenAI's).
#[derive(Debug, Serialize, Deserialize, Object)]
pub struct OpenAiError {
    pub error: OpenAiErrorDetail,
}

#[derive(Debug, Serialize, Deserialize, Object)]
pub struct OpenAiErrorDetail {
    pub message: String,
    /// `invalid_request_error`, `authentication_error`, `permission_error`, `not_found_error`,
    /// `rate_limit_error`, `insufficient_quota`, `server_error`.
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub kind: String,
    /// The request field at fault, if one is.
    #[oai(nullable)]
    pub param: Option<String>,
    #[oai(nullable)]
    pub code: Option<String>,
}
