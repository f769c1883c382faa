//! Anthropic Messages API: `POST {base}/v1/messages` with `stream: true`. Events:
//! `message_start` (input tokens), `content_block_delta` (text), `message_delta` (output
//! tokens), `message_stop`, `ping`, `error`.

use eventsource_stream::Event;
use serde_json::{Value, json};
use troupe_types::Role;

use super::{
    ChatRequest, EventStream, ProviderError, StreamEvent, Turn,
    transport::{Step, Upstream, WireFormat, json_data, sse_stream, tokens},
};
use crate::domain::TokenUsage;

pub struct Anthropic {
    upstream: Upstream,
    version: String,
}

impl Anthropic {
    pub fn new(upstream: Upstream, version: &str) -> Self {
        Self { upstream, version: version.to_owned() }
    }

    pub async fn stream(&self, request: ChatRequest) -> Result<EventStream, ProviderError> {
        let body = request_body(&request);
        let key = self.upstream.api_key().unwrap_or_default().to_owned();
        let version = self.version.clone();
        let resp = self
            .upstream
            .post_streaming("/v1/messages", &body, |b| {
                b.header("x-api-key", &key).header("anthropic-version", &version)
            })
            .await?;
        Ok(sse_stream(resp, EventReader::default()))
    }
}

fn request_body(request: &ChatRequest) -> Value {
    let mut turns = alternating(&request.messages);
    // The Messages API has one system text, before everything: post-history instructions end
    // the last user turn instead.
    if let (Some(text), Some(last)) = (&request.post_history, turns.last_mut()) {
        last.content = format!("{}\n\n{text}", last.content).into();
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|t| json!({"role": if t.role == Role::User { "user" } else { "assistant" }, "content": t.content}))
        .collect();
    let mut body = json!({
        "model": request.upstream_model,
        "messages": messages,
        "max_tokens": request.max_output_tokens,
        "stream": true,
    });
    if !request.system.is_empty() {
        body["system"] = json!(request.system);
    }
    let sampling = &request.sampling;
    if let Some(t) = sampling.temperature {
        // The Messages API takes 0–1 where OpenAI's clients send 0–2.
        body["temperature"] = json!(t.min(1.0));
    }
    if let Some(p) = sampling.top_p {
        body["top_p"] = json!(p);
    }
    if !sampling.stop.is_empty() {
        body["stop_sequences"] = json!(sampling.stop);
    }
    body
}

/// The Messages API wants the first message from the user and roles alternating: leading
/// assistant turns (a greeting) are dropped and neighbours of the same role are joined.
fn alternating(turns: &[Turn]) -> Vec<Turn> {
    let mut out: Vec<Turn> = Vec::new();
    for turn in turns.iter().skip_while(|t| t.role == Role::Assistant) {
        match out.last_mut() {
            Some(last) if last.role == turn.role => {
                last.content = format!("{}\n\n{}", last.content, turn.content).into();
            }
            _ => out.push(turn.clone()),
        }
    }
    out
}

#[derive(Default)]
struct EventReader {
    input_tokens: i64,
}

impl WireFormat for EventReader {
    fn on_event(&mut self, event: &Event) -> Result<Step, ProviderError> {
        let data = json_data(event)?;
        let kind = data["type"].as_str().unwrap_or(event.event.as_str());
        match kind {
            "message_start" => {
                self.input_tokens = tokens(&data["message"]["usage"]["input_tokens"]).unwrap_or(0);
                Ok(Step::Skip)
            }
            "content_block_delta" => match data["delta"]["text"].as_str() {
                Some(text) if !text.is_empty() => Ok(Step::Emit(vec![StreamEvent::Delta(text.to_owned())])),
                _ => Ok(Step::Skip),
            },
            "message_delta" => {
                let usage = &data["usage"];
                let Some(output_tokens) = tokens(&usage["output_tokens"]) else {
                    return Ok(Step::Skip);
                };
                // Newer API versions repeat the input count here.
                let input_tokens = tokens(&usage["input_tokens"]).unwrap_or(self.input_tokens);
                Ok(Step::Emit(vec![StreamEvent::Usage(TokenUsage {
                    prompt_tokens: input_tokens,
                    completion_tokens: output_tokens,
                })]))
            }
            "message_stop" => Ok(Step::Finished),
            "error" => {
                let message = data["error"]["message"].as_str().unwrap_or("unknown error");
                Err(ProviderError::Upstream(message.to_owned()))
            }
            _ => Ok(Step::Skip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: &str) -> Event {
        Event { event: kind.into(), data: data.into(), ..Default::default() }
    }

    #[test]
    fn reads_text_and_usage() {
        let mut r = EventReader::default();
        let start = r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":25,"output_tokens":1}}}"#;
        assert!(matches!(r.on_event(&event("message_start", start)).unwrap(), Step::Skip));
        let delta = r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#;
        assert!(matches!(r.on_event(&event("content_block_delta", delta)).unwrap(),
            Step::Emit(ref e) if e == &[StreamEvent::Delta("Hello".into())]));
        let end = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}"#;
        let usage = StreamEvent::Usage(TokenUsage { prompt_tokens: 25, completion_tokens: 15 });
        assert!(matches!(r.on_event(&event("message_delta", end)).unwrap(), Step::Emit(ref e) if e == &[usage]));
        assert!(matches!(r.on_event(&event("message_stop", r#"{"type":"message_stop"}"#)).unwrap(), Step::Finished));
        let error = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert!(r.on_event(&event("error", error)).is_err());
    }

    #[test]
    fn conversation_starts_with_the_user_and_alternates() {
        let t = |role, c: &str| Turn { role, content: c.into() };
        let turns = [t(Role::Assistant, "greeting"), t(Role::User, "a"), t(Role::User, "b"), t(Role::Assistant, "c")];
        assert_eq!(alternating(&turns), [t(Role::User, "a\n\nb"), t(Role::Assistant, "c")]);
    }
}
