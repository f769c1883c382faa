//! A fake model provider that speaks the streaming wire formats of OpenAI chat completions,
//! Anthropic Messages and Dify chat apps, as their API references show them, with
//! configurable latency, token cadence, usage reporting and failure modes. Tests and
//! benchmarks point Troupe's `*_BASE_URL`s at it.
//!
//! - OpenAI: `POST /v1/chat/completions` (base URL `…/v1`)
//! - Anthropic: `POST /v1/messages` (base URL without `/v1`)
//! - Dify: `POST /v1/chat-messages` (base URL `…/v1`)
#![forbid(unsafe_code)]

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{StreamExt, stream};
use poem::{
    Body, EndpointExt, IntoResponse, Request, Response, Route, Server, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Json},
};
use serde_json::{Value, json};

/// How a normal reply looks.
#[derive(Clone, Debug)]
pub struct Script {
    /// The pieces of the reply, one per streamed chunk.
    pub tokens: Vec<String>,
    pub first_token_delay: Duration,
    pub token_interval: Duration,
    /// Whether usage is reported (OpenAI only when the request asks for it).
    pub usage: bool,
    /// The prompt tokens reported; completion tokens are the number of pieces.
    pub prompt_tokens: i64,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            tokens: ["Hello", " from", " the", " fake", " upstream", "."].map(String::from).to_vec(),
            first_token_delay: Duration::ZERO,
            token_interval: Duration::ZERO,
            usage: true,
            prompt_tokens: 42,
        }
    }
}

/// What the next request gets; `Normal` unless something was queued with `FakeUpstream::push`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behavior {
    Normal,
    /// An HTTP error status with a JSON error body, before any streaming.
    Status(u16),
    /// 429 with `Retry-After` in seconds.
    RateLimited {
        retry_after_secs: u64,
    },
    /// Accepts the request and never answers.
    Hang,
    /// Streams this many pieces, then cuts the connection.
    DropMidStream {
        after_tokens: usize,
    },
    /// Streams this many pieces, then an event that is not valid JSON.
    Malformed {
        after_tokens: usize,
    },
}

/// A request as the fake received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// `authorization` or `x-api-key`, whichever came.
    pub credential: Option<String>,
    pub anthropic_version: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    script: Script,
    queue: VecDeque<Behavior>,
    received: Vec<Received>,
    conversations: u64,
}

/// A running fake provider on a free local port.
#[derive(Clone)]
pub struct FakeUpstream {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeUpstream {
    /// Starts the fake on `127.0.0.1` with a free port, in the current tokio runtime.
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let app = Route::new()
            .at("/v1/chat/completions", post(openai))
            .at("/v1/messages", post(anthropic))
            .at("/v1/chat-messages", post(dify))
            .data(state.clone());
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await.expect("bind a local port");
        let address = *acceptor.local_addr()[0].as_socket_addr().expect("a TCP address");
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        Self { address, state }
    }

    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn dify_base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    pub fn set_script(&self, script: Script) {
        self.state.lock().unwrap().script = script;
    }

    pub fn script(&self) -> Script {
        self.state.lock().unwrap().script.clone()
    }

    /// Queues what the next request gets (then the next, and so on).
    pub fn push(&self, behavior: Behavior) {
        self.state.lock().unwrap().queue.push_back(behavior);
    }

    /// Every request so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

/// The three wire formats.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    OpenAi,
    Anthropic,
    Dify,
}

#[handler]
async fn openai(req: &Request, body: Json<Value>, state: Data<&Arc<Mutex<State>>>) -> Response {
    answer(Format::OpenAi, req, body.0, &state).await
}

#[handler]
async fn anthropic(req: &Request, body: Json<Value>, state: Data<&Arc<Mutex<State>>>) -> Response {
    answer(Format::Anthropic, req, body.0, &state).await
}

#[handler]
async fn dify(req: &Request, body: Json<Value>, state: Data<&Arc<Mutex<State>>>) -> Response {
    answer(Format::Dify, req, body.0, &state).await
}

async fn answer(format: Format, req: &Request, body: Value, state: &Arc<Mutex<State>>) -> Response {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (script, behavior, conversation) = {
        let mut state = state.lock().unwrap();
        state.received.push(Received {
            path: req.uri().path().to_owned(),
            credential: header("authorization").or_else(|| header("x-api-key")),
            anthropic_version: header("anthropic-version"),
            body: body.clone(),
        });
        let conversation = match body["conversation_id"].as_str().filter(|c| !c.is_empty()) {
            Some(existing) => existing.to_owned(),
            None => {
                state.conversations += 1;
                format!("conv-{}", state.conversations)
            }
        };
        (state.script.clone(), state.queue.pop_front().unwrap_or(Behavior::Normal), conversation)
    };
    match behavior {
        Behavior::Status(status) => error_response(format, status),
        Behavior::RateLimited { retry_after_secs } => {
            let mut resp = error_response(format, 429);
            resp.headers_mut().insert("retry-after", retry_after_secs.into());
            resp
        }
        Behavior::Hang => {
            futures::future::pending::<()>().await;
            unreachable!()
        }
        behavior => {
            let wants_usage = format != Format::OpenAi || body["stream_options"]["include_usage"] == json!(true);
            let frames = frames(format, &script, script.usage && wants_usage, &body, &conversation);
            sse_response(frames, &script, behavior)
        }
    }
}

fn error_response(format: Format, status: u16) -> Response {
    let body = match format {
        Format::OpenAi => {
            json!({"error": {"message": "fake failure", "type": "server_error", "code": null}})
        }
        Format::Anthropic => {
            json!({"type": "error", "error": {"type": "api_error", "message": "fake failure"}})
        }
        Format::Dify => {
            json!({"status": status, "code": "internal_server_error", "message": "fake failure"})
        }
    };
    Json(body).with_status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)).into_response()
}

/// One SSE frame, and whether it carries a piece of the reply.
struct Frame {
    text: String,
    is_token: bool,
}

fn frame(event: Option<&str>, data: &Value) -> Frame {
    let text = match event {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    };
    Frame { text, is_token: false }
}

fn token_frame(event: Option<&str>, data: &Value) -> Frame {
    Frame { is_token: true, ..frame(event, data) }
}

/// The whole stream of a normal reply in `format`.
fn frames(format: Format, script: &Script, usage: bool, request: &Value, conversation: &str) -> Vec<Frame> {
    let model = request["model"].as_str().unwrap_or("fake-model");
    let completion = script.tokens.len() as i64;
    let total = script.prompt_tokens + completion;
    let mut out = Vec::new();
    match format {
        Format::OpenAi => {
            let chunk = |delta: Value, finish: Value| {
                json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000,
                       "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            };
            out.push(frame(None, &chunk(json!({"role": "assistant", "content": ""}), Value::Null)));
            for t in &script.tokens {
                out.push(token_frame(None, &chunk(json!({"content": t}), Value::Null)));
            }
            out.push(frame(None, &chunk(json!({}), json!("stop"))));
            if usage {
                out.push(frame(None, &json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                    "created": 1_700_000_000, "model": model, "choices": [],
                    "usage": {"prompt_tokens": script.prompt_tokens, "completion_tokens": completion, "total_tokens": total}})));
            }
            out.push(Frame { text: "data: [DONE]\n\n".into(), is_token: false });
        }
        Format::Anthropic => {
            let mut start_message = json!({"id": "msg_fake", "type": "message", "role": "assistant", "content": [],
                "model": model, "stop_reason": null, "stop_sequence": null});
            if usage {
                start_message["usage"] = json!({"input_tokens": script.prompt_tokens, "output_tokens": 1});
            }
            out.push(frame(Some("message_start"), &json!({"type": "message_start", "message": start_message})));
            out.push(frame(
                Some("content_block_start"),
                &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ));
            out.push(frame(Some("ping"), &json!({"type": "ping"})));
            for t in &script.tokens {
                out.push(token_frame(
                    Some("content_block_delta"),
                    &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}),
                ));
            }
            out.push(frame(Some("content_block_stop"), &json!({"type": "content_block_stop", "index": 0})));
            let mut delta =
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}});
            if usage {
                delta["usage"] = json!({"output_tokens": completion});
            }
            out.push(frame(Some("message_delta"), &delta));
            out.push(frame(Some("message_stop"), &json!({"type": "message_stop"})));
        }
        Format::Dify => {
            for t in &script.tokens {
                out.push(token_frame(None, &json!({"event": "message", "task_id": "task-fake", "id": "msg-fake",
                    "message_id": "msg-fake", "conversation_id": conversation, "answer": t, "created_at": 1_700_000_000})));
            }
            let mut metadata = json!({"retriever_resources": []});
            if usage {
                metadata["usage"] = json!({"prompt_tokens": script.prompt_tokens, "prompt_unit_price": "0.001",
                    "prompt_price_unit": "0.001", "prompt_price": "0.0000420", "completion_tokens": completion,
                    "completion_unit_price": "0.002", "completion_price_unit": "0.001", "completion_price": "0.0000120",
                    "total_tokens": total, "total_price": "0.0000540", "currency": "USD", "latency": 0.5});
            }
            out.push(frame(
                None,
                &json!({"event": "message_end", "task_id": "task-fake", "id": "msg-fake",
                "message_id": "msg-fake", "conversation_id": conversation, "metadata": metadata}),
            ));
        }
    }
    out
}

/// Streams `frames` at the script's cadence, cut short as `behavior` says.
fn sse_response(frames: Vec<Frame>, script: &Script, behavior: Behavior) -> Response {
    let (first_delay, interval) = (script.first_token_delay, script.token_interval);
    let cut_after = match behavior {
        Behavior::DropMidStream { after_tokens } | Behavior::Malformed { after_tokens } => Some(after_tokens),
        _ => None,
    };
    let mut tokens_sent = 0usize;
    let mut items: Vec<(Frame, Duration)> = Vec::new();
    for f in frames {
        if f.is_token {
            if cut_after == Some(tokens_sent) {
                break;
            }
            let pause = if tokens_sent == 0 { first_delay } else { interval };
            tokens_sent += 1;
            items.push((f, pause));
        } else {
            items.push((f, Duration::ZERO));
        }
    }
    let ending: Vec<Result<String, std::io::Error>> = match behavior {
        Behavior::DropMidStream { .. } => {
            vec![Err(std::io::Error::other("connection dropped by the fake"))]
        }
        Behavior::Malformed { .. } => vec![Ok("data: {this is not json\n\n".into())],
        _ => vec![],
    };
    let truncated = cut_after.is_some();
    let body = stream::iter(items)
        .then(|(f, pause)| async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            Ok::<_, std::io::Error>(f.text)
        })
        .chain(stream::iter(if truncated { ending } else { vec![] }));
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_bytes_stream(body))
}
