//! OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp server, LiteLLM):
//! `POST {base}/chat/completions` with `stream: true` and `stream_options.include_usage`, so the
//! last chunk before `[DONE]` carries `usage`.

use eventsource_stream::Event;
use serde::Serialize;
use troupe_types::Role;

use super::{
    ChatRequest, EventStream, ProviderError, StreamEvent,
    transport::{Step, Upstream, WireFormat, json_data, sse_stream, tokens},
};
use crate::domain::TokenUsage;

pub struct OpenAi {
    upstream: Upstream,
}

impl OpenAi {
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }

    pub async fn stream(&self, request: ChatRequest) -> Result<EventStream, ProviderError> {
        let body = request_body(&request);
        let resp = self.upstream.post_streaming("/chat/completions", &body, |b| self.upstream.bearer(b)).await?;
        Ok(sse_stream(resp, ChunkReader))
    }
}

/// The request as OpenAI's API reads it, borrowing the prompt's texts (long chats carry
/// hundreds of messages: they are written straight into the body, not copied first).
#[derive(Serialize)]
struct RequestBody<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    max_tokens: u32,
    stream: bool,
    stream_options: StreamOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

fn request_body(request: &ChatRequest) -> RequestBody<'_> {
    let system = |content| WireMessage { role: "system", content };
    let said = request.messages.iter().map(|t| {
        let role = if t.role == Role::User { "user" } else { "assistant" };
        WireMessage { role, content: &t.content }
    });
    // Post-history instructions as a last system message, as the card spec's tools send them.
    let messages = Some(request.system.as_str())
        .filter(|s| !s.is_empty())
        .map(system)
        .into_iter()
        .chain(said)
        .chain(request.post_history.as_deref().map(system))
        .collect();
    let sampling = &request.sampling;
    RequestBody {
        model: &request.upstream_model,
        messages,
        max_tokens: request.max_output_tokens,
        stream: true,
        stream_options: StreamOptions { include_usage: true },
        temperature: sampling.temperature,
        top_p: sampling.top_p,
        stop: &sampling.stop,
    }
}

struct ChunkReader;

impl WireFormat for ChunkReader {
    fn on_event(&mut self, event: &Event) -> Result<Step, ProviderError> {
        if event.data.trim() == "[DONE]" {
            return Ok(Step::Finished);
        }
        let chunk = json_data(event)?;
        if let Some(error) = chunk.get("error") {
            let message = error["message"].as_str().unwrap_or("unknown error");
            return Err(ProviderError::Upstream(message.to_owned()));
        }
        let mut out = Vec::new();
        if let Some(text) = chunk["choices"][0]["delta"]["content"].as_str().filter(|t| !t.is_empty()) {
            out.push(StreamEvent::Delta(text.to_owned()));
        }
        let usage = &chunk["usage"];
        if let (Some(prompt_tokens), Some(completion_tokens)) =
            (tokens(&usage["prompt_tokens"]), tokens(&usage["completion_tokens"]))
        {
            out.push(StreamEvent::Usage(TokenUsage { prompt_tokens, completion_tokens }));
        }
        Ok(if out.is_empty() { Step::Skip } else { Step::Emit(out) })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(data: &str) -> Event {
        Event { data: data.into(), ..Default::default() }
    }

    #[test]
    fn reads_deltas_usage_and_done() {
        let mut r = ChunkReader;
        let delta = r.on_event(&event(r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#)).unwrap();
        assert!(matches!(delta, Step::Emit(ref e) if e == &[StreamEvent::Delta("Hi".into())]));
        let role_only = r.on_event(&event(r#"{"choices":[{"index":0,"delta":{"role":"assistant"}}]}"#)).unwrap();
        assert!(matches!(role_only, Step::Skip));
        let usage = r
            .on_event(&event(r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#))
            .unwrap();
        let expected = StreamEvent::Usage(TokenUsage { prompt_tokens: 12, completion_tokens: 3 });
        assert!(matches!(usage, Step::Emit(ref e) if e == &[expected]));
        assert!(matches!(r.on_event(&event("[DONE]")).unwrap(), Step::Finished));
        assert!(r.on_event(&event("{not json")).is_err());
        assert!(r.on_event(&event(r#"{"error":{"message":"overloaded"}}"#)).is_err());
    }

    #[test]
    fn body_puts_the_system_prompt_first_and_asks_for_usage() {
        let request = ChatRequest {
            upstream_model: "m".into(),
            system: "be kind".into(),
            messages: vec![super::super::Turn { role: Role::User, content: "hello".into() }],
            post_history: None,
            max_output_tokens: 50,
            conversation_id: None,
            end_user: "u1".into(),
            character: Default::default(),
            sampling: Default::default(),
        };
        let body = serde_json::to_value(request_body(&request)).unwrap();
        assert_eq!(body["messages"][0], json!({"role": "system", "content": "be kind"}));
        assert_eq!(body["messages"][1], json!({"role": "user", "content": "hello"}));
        assert_eq!(body["stream_options"]["include_usage"], true);
    }
}
