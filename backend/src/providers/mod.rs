//! Model providers, one module per wire format, behind one streaming interface.
//!
//! A provider turns a `ChatRequest` into a stream of `StreamEvent`s. Connection problems, 429
//! and 5xx are retried (see `http`) only before the first byte of the answer; after that,
//! whatever goes wrong ends the stream with an error.

pub mod anthropic;
pub mod demo;
pub mod dify;
pub mod openai;
pub mod transport;

use std::sync::Arc;

use std::{collections::HashMap, time::Duration};

use futures::stream::BoxStream;
use troupe_types::Role;

use serde::Deserialize;

use crate::{config::Providers as ProviderConfig, domain::TokenUsage, services::catalog::ModelSpec};

/// Which wire format serves a model (the catalogue's `provider`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Openai,
    Anthropic,
    Dify,
    Demo,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Dify => "dify",
            Self::Demo => "demo",
        }
    }
}

/// One prior or new message of the conversation. Its text is shared: a chat's history is
/// kept between turns and handed to each prompt without copying (see `services::history`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub content: Arc<str>,
}

/// What the demo model builds its reply from.
#[derive(Clone, Debug, Default)]
pub struct CharacterSketch {
    pub name: String,
    pub description: String,
    pub personality: String,
    pub scenario: String,
}

impl From<&crate::domain::Character> for CharacterSketch {
    fn from(character: &crate::domain::Character) -> Self {
        let c = &character.fields;
        Self {
            name: c.name.clone(),
            description: c.description.clone(),
            personality: c.personality.clone(),
            scenario: c.scenario.clone(),
        }
    }
}

/// Everything a provider needs for one reply.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    pub upstream_model: String,
    /// Shared prompts and the character, assembled.
    pub system: String,
    /// Example turns and history that fit, then the new user message (last).
    pub messages: Vec<Turn>,
    /// The character's post-history instructions, to follow the new message.
    pub post_history: Option<String>,
    pub max_output_tokens: u32,
    /// Dify's server-side conversation, when the chat has one.
    pub conversation_id: Option<String>,
    /// A stable pseudonymous id of the end user (Dify requires one).
    pub end_user: String,
    pub character: CharacterSketch,
    pub sampling: Sampling,
}

/// A client's sampling choices (`/v1`); each unset leaves the provider's default. OpenAI-
/// compatible and Anthropic models take them; Dify apps and the demo model ignore them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sampling {
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
}

impl ChatRequest {
    pub fn latest_user_message(&self) -> &str {
        self.messages.last().map(|t| &*t.content).unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    /// The next piece of the reply.
    Delta(String),
    /// Usage as the provider reports it.
    Usage(TokenUsage),
    /// Dify's conversation id, to continue the conversation next turn.
    ConversationId(String),
}

pub type EventStream = BoxStream<'static, Result<StreamEvent, ProviderError>>;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the model provider did not answer in time")]
    Timeout,
    #[error("could not reach the model provider")]
    Connect(#[source] reqwest::Error),
    #[error("the model provider answered HTTP {status}")]
    Status { status: u16, retry_after: Option<Duration>, detail: String },
    #[error("the model provider reported an error: {0}")]
    Upstream(String),
    #[error("the model provider sent a malformed stream: {0}")]
    Malformed(String),
    #[error("the model provider's stream ended before the reply was complete")]
    Dropped,
}

impl ProviderError {
    /// A bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect(_) => "connect",
            Self::Status { status: 429, .. } => "rate_limited",
            Self::Status { status, .. } if *status >= 500 => "server_error",
            Self::Status { .. } => "client_error",
            Self::Upstream(_) => "upstream_error",
            Self::Malformed(_) => "malformed",
            Self::Dropped => "dropped",
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }
}

/// The configured providers, `demo` always among them, and the catalogue's models that have an
/// endpoint of their own (`base_url`, `api_key_env`).
pub struct ProviderSet {
    /// The providers' global endpoints (`*_BASE_URL`, `*_API_KEY`), by kind.
    global: HashMap<ProviderKind, Endpoint>,
    /// Endpoints of their own, by model id.
    own: HashMap<String, Endpoint>,
    demo: demo::Demo,
}

/// One endpoint speaking one wire format.
enum Endpoint {
    Openai(openai::OpenAi),
    Anthropic(anthropic::Anthropic),
    Dify(dify::Dify),
}

impl Endpoint {
    async fn stream(&self, request: ChatRequest) -> Result<EventStream, ProviderError> {
        match self {
            Self::Openai(p) => p.stream(request).await,
            Self::Anthropic(p) => p.stream(request).await,
            Self::Dify(p) => p.stream(request).await,
        }
    }
}

impl ProviderSet {
    pub fn new(config: &ProviderConfig) -> anyhow::Result<Self> {
        let client = transport::client(config)?;
        let endpoint = |kind: ProviderKind, u: &crate::config::Upstream| {
            let upstream = transport::Upstream::new(client.clone(), u, config.upstream_timeout);
            match kind {
                ProviderKind::Openai => Some(Endpoint::Openai(openai::OpenAi::new(upstream))),
                ProviderKind::Anthropic => {
                    Some(Endpoint::Anthropic(anthropic::Anthropic::new(upstream, &config.anthropic_version)))
                }
                ProviderKind::Dify => Some(Endpoint::Dify(dify::Dify::new(upstream))),
                ProviderKind::Demo => None,
            }
        };
        let global = [ProviderKind::Openai, ProviderKind::Anthropic, ProviderKind::Dify]
            .into_iter()
            .filter_map(|kind| Some((kind, endpoint(kind, config.upstream(kind)?)?)))
            .collect();
        let own = config
            .models
            .iter()
            .filter_map(|spec| Some((spec.id.clone(), endpoint(spec.provider, &spec.own_endpoint(config)?)?)))
            .collect();
        Ok(Self { global, own, demo: demo::Demo::new(config.demo_delay) })
    }

    /// Starts a reply from `model`: at its own endpoint if it has one, else at its provider's.
    /// Errors here happened before any of the reply arrived.
    pub async fn stream(&self, model: &ModelSpec, request: ChatRequest) -> Result<EventStream, ProviderError> {
        if model.provider == ProviderKind::Demo {
            return Ok(self.demo.stream(request));
        }
        let endpoint = self.own.get(&model.id).or_else(|| self.global.get(&model.provider)).ok_or_else(|| {
            ProviderError::Upstream(format!("provider {} is not configured", model.provider.as_str()))
        })?;
        endpoint.stream(request).await
    }
}
