//! Dify chat apps: `POST {base}/chat-messages` (the base URL includes `/v1`, as Dify's API
//! page shows it) in `streaming` mode. Dify keeps the history itself under a
//! `conversation_id`, which Troupe stores per chat; so only the new message is sent, with the
//! assembled character prompt as the input `system_prompt` for apps that use it.

use eventsource_stream::Event;
use serde_json::{Value, json};

use super::{
    ChatRequest, EventStream, ProviderError, StreamEvent,
    transport::{Step, Upstream, WireFormat, json_data, sse_stream, tokens},
};
use crate::domain::TokenUsage;

pub struct Dify {
    upstream: Upstream,
}

impl Dify {
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }

    pub async fn stream(&self, request: ChatRequest) -> Result<EventStream, ProviderError> {
        let body = request_body(&request);
        let resp = self.upstream.post_streaming("/chat-messages", &body, |b| self.upstream.bearer(b)).await?;
        Ok(sse_stream(resp, EventReader { conversation_id_sent: request.conversation_id.is_some() }))
    }
}

fn request_body(request: &ChatRequest) -> Value {
    // Dify keeps the history itself and takes one prompt input: post-history instructions end it.
    let system = match &request.post_history {
        Some(text) => format!("{}\n\n{text}", request.system),
        None => request.system.clone(),
    };
    json!({
        "inputs": {"system_prompt": system, "character": request.character.name},
        "query": request.latest_user_message(),
        "response_mode": "streaming",
        "conversation_id": request.conversation_id.clone().unwrap_or_default(),
        "user": request.end_user,
    })
}

struct EventReader {
    conversation_id_sent: bool,
}

impl WireFormat for EventReader {
    fn on_event(&mut self, event: &Event) -> Result<Step, ProviderError> {
        let data = json_data(event)?;
        let mut out = Vec::new();
        if !self.conversation_id_sent
            && let Some(id) = data["conversation_id"].as_str().filter(|id| !id.is_empty())
        {
            self.conversation_id_sent = true;
            out.push(StreamEvent::ConversationId(id.to_owned()));
        }
        match data["event"].as_str().unwrap_or_default() {
            "message" | "agent_message" => {
                if let Some(text) = data["answer"].as_str().filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::Delta(text.to_owned()));
                }
            }
            "message_end" => {
                let usage = &data["metadata"]["usage"];
                if let (Some(prompt_tokens), Some(completion_tokens)) =
                    (tokens(&usage["prompt_tokens"]), tokens(&usage["completion_tokens"]))
                {
                    out.push(StreamEvent::Usage(TokenUsage { prompt_tokens, completion_tokens }));
                }
                return Ok(Step::Last(out));
            }
            "error" => {
                let message = data["message"].as_str().unwrap_or("unknown error");
                return Err(ProviderError::Upstream(message.to_owned()));
            }
            _ => {}
        }
        Ok(if out.is_empty() { Step::Skip } else { Step::Emit(out) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str) -> Event {
        Event { data: data.into(), ..Default::default() }
    }

    #[test]
    fn reads_answer_conversation_and_usage() {
        let mut r = EventReader { conversation_id_sent: false };
        let first = r#"{"event":"message","message_id":"m1","conversation_id":"c-42","answer":"Hel"}"#;
        let step = r.on_event(&event(first)).unwrap();
        let expected = [StreamEvent::ConversationId("c-42".into()), StreamEvent::Delta("Hel".into())];
        assert!(matches!(step, Step::Emit(ref e) if e == &expected));
        let second = r#"{"event":"message","conversation_id":"c-42","answer":"lo"}"#;
        assert!(
            matches!(r.on_event(&event(second)).unwrap(), Step::Emit(ref e) if e == &[StreamEvent::Delta("lo".into())])
        );
        assert!(matches!(r.on_event(&event(r#"{"event":"ping"}"#)).unwrap(), Step::Skip));
        let end = r#"{"event":"message_end","conversation_id":"c-42","metadata":{"usage":{"prompt_tokens":30,"completion_tokens":2,"total_tokens":32}}}"#;
        let usage = StreamEvent::Usage(TokenUsage { prompt_tokens: 30, completion_tokens: 2 });
        assert!(matches!(r.on_event(&event(end)).unwrap(), Step::Last(ref e) if e == &[usage]));
        assert!(
            r.on_event(&event(r#"{"event":"error","status":400,"code":"invalid_param","message":"bad"}"#)).is_err()
        );
    }
}
