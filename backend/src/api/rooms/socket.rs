//! One connection to a room: replay what the client missed, then pass the room's frames out
//! and the client's messages in, until either side goes or the session ends.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt, stream::SplitSink};
use poem::web::websocket::{CloseCode, Message as WsMessage, WebSocketConfig, WebSocketStream};
use tokio::sync::broadcast::error::RecvError;
use troupe_types::{ClientFrame, ServerFrame};

use crate::{
    domain::{RoomMessageId, User},
    error::AppError,
    services::{
        Rooms,
        live::LiveTicket,
        rooms::{Membership, Outgoing},
    },
};

/// The largest frame a client may send (a message is at most a few thousand characters).
const MAX_FRAME_BYTES: usize = 16 * 1024;
/// How often the server pings.
const PING_EVERY: Duration = Duration::from_secs(20);
/// A connection not heard from (not even a pong) this long is dead.
const SILENT_LIMIT: Duration = Duration::from_secs(60);
/// How long one frame may take to go out before the client counts as stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages read from the database per replay batch.
const REPLAY_BATCH: i64 = 200;

/// RFC 6455 close codes this connection ends with.
const GOING_AWAY: u16 = 1001;
const POLICY_VIOLATION: u16 = 1008;
const TOO_BIG: u16 = 1009;
const TRY_AGAIN_LATER: u16 = 1013;

/// The read buffer a connection starts with; it grows for a bigger frame. tungstenite's 128 KiB
/// default, zero-filled on every read, cost 64 MB and half the CPU for 500 idle clients
/// (`benches/rooms.rs`).
const READ_BUFFER_BYTES: usize = 4 * 1024;

pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

type Sink = SplitSink<WebSocketStream, WsMessage>;

/// Why a connection ends (`None`: the client went, nothing to tell it).
type Ending = Option<(u16, &'static str)>;

pub struct RoomConnection {
    pub rooms: Rooms,
    pub user: User,
    pub membership: Membership,
    pub replay_after: Option<RoomMessageId>,
}

impl RoomConnection {
    pub async fn run(mut self, socket: WebSocketStream, ticket: LiveTicket) {
        let (mut sink, mut incoming) = socket.split();
        let ending = match self.catch_up(&mut sink).await {
            Ok(replayed) => self.live(&mut sink, &mut incoming, ticket, replayed).await,
            Err(_) => None,
        };
        if let Some((code, reason)) = ending {
            let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(WsMessage::close_with(CloseCode::from(code), reason)))
                .await;
        }
    }

    /// Sends the participant count, then every message after `replay_after`. Returns the last id
    /// replayed: live frames of messages up to it are duplicates.
    async fn catch_up(&self, sink: &mut Sink) -> Result<Option<RoomMessageId>, ()> {
        let room = &self.membership.room;
        let presence = ServerFrame::Presence { participants: room.participants().await as i64 };
        send(sink, serde_json::to_string(&presence).expect("frames serialise")).await?;
        let Some(mut cursor) = self.replay_after else { return Ok(None) };
        loop {
            let batch = match self.rooms.missed(room.id, cursor, REPLAY_BATCH).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = ?e, room.id = %room.id, "could not replay a room's messages");
                    return Err(());
                }
            };
            for message in &batch {
                send(sink, Outgoing::message(message).json.to_string()).await?;
                cursor = message.id;
            }
            if (batch.len() as i64) < REPLAY_BATCH {
                return Ok(Some(cursor));
            }
        }
    }

    async fn live(
        &mut self,
        sink: &mut Sink,
        incoming: &mut futures::stream::SplitStream<WebSocketStream>,
        ticket: LiveTicket,
        replayed: Option<RoomMessageId>,
    ) -> Ending {
        let ended = ticket.ended();
        tokio::pin!(ended);
        let closed = self.membership.room.closed.clone();
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                () = &mut ended => return Some((POLICY_VIOLATION, "the session has ended")),
                () = closed.cancelled() => return Some((GOING_AWAY, "the room was deleted")),
                _ = ping.tick() => {
                    if last_heard.elapsed() > SILENT_LIMIT {
                        return None;
                    }
                    if send_message(sink, WsMessage::Ping(Vec::new())).await.is_err() {
                        return None;
                    }
                }
                frame = self.membership.receiver.recv() => match frame {
                    Ok(outgoing) => {
                        let for_someone_else = outgoing.only.is_some_and(|user| user != self.user.id);
                        let replayed_already = outgoing.new_message.is_some_and(|id| Some(id) <= replayed);
                        if !for_someone_else && !replayed_already && send(sink, outgoing.json.to_string()).await.is_err() {
                            return None;
                        }
                    }
                    Err(RecvError::Lagged(_)) => return Some((TRY_AGAIN_LATER, "too far behind; reconnect with after_id")),
                    Err(RecvError::Closed) => return Some((GOING_AWAY, "the room was deleted")),
                },
                message = incoming.next() => {
                    last_heard = Instant::now();
                    match message {
                        Some(Ok(WsMessage::Text(text))) => {
                            if let Err(error) = self.receive(&text).await
                                && send(sink, Outgoing::error(error).json.to_string()).await.is_err()
                            {
                                return None;
                            }
                        }
                        Some(Ok(WsMessage::Binary(_))) => {
                            let refused = Outgoing::error(invalid_frame("frames are JSON text"));
                            if send(sink, refused.json.to_string()).await.is_err() {
                                return None;
                            }
                        }
                        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                        Some(Ok(WsMessage::Close(_))) | None => return None,
                        Some(Err(e)) if is_too_big(&e) => return Some((TOO_BIG, "frames are at most 16 KiB")),
                        Some(Err(_)) => return None,
                    }
                }
            }
        }
    }

    /// A frame from the client.
    async fn receive(&self, text: &str) -> Result<(), AppError> {
        let frame: ClientFrame = serde_json::from_str(text)
            .map_err(|_| invalid_frame("expected {\"type\":\"message\",\"content\":\"…\"}"))?;
        match frame {
            ClientFrame::Message { content } => self.rooms.post(&self.membership.room, self.user.id, &content).await,
        }
    }
}

fn invalid_frame(message: &'static str) -> AppError {
    troupe_types::rules::RuleViolation::new("frame", "invalid_frame", message).into()
}

/// Whether the socket failed on a frame over `MAX_FRAME_BYTES` (poem hands tungstenite's
/// capacity error over as text).
fn is_too_big(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::Other && error.to_string().contains("too long")
}

async fn send(sink: &mut Sink, json: String) -> Result<(), ()> {
    send_message(sink, WsMessage::Text(json)).await
}

/// Sends one frame, giving up on a client that takes longer than `SEND_TIMEOUT` to take it.
async fn send_message(sink: &mut Sink, message: WsMessage) -> Result<(), ()> {
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}
