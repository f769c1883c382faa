//! `/api/admin/live`: the dashboard's live counters over a WebSocket.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use poem::{
    IntoResponse,
    web::{
        Data,
        websocket::{Message as WsMessage, WebSocket},
    },
};
use poem_openapi::OpenApi;

use crate::{
    api::{ApiTags, credentials::AdminOnly, error::ApiError, payload::Upgrade},
    services::live::Audience,
    state::AppState,
};

/// How often the live feed pushes.
const LIVE_INTERVAL: Duration = Duration::from_secs(2);
/// WebSocket close code for "the session behind this socket has ended" (RFC 6455 1008).
const CLOSE_POLICY_VIOLATION: u16 = 1008;

#[derive(Default)]
pub struct LiveApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl LiveApi {
    /// Live feed (WebSocket)
    ///
    /// Every ~2 s a text message `{online_users, active_streams, messages_last_minute,
    /// tokens_last_minute}` (see `LiveStats`). Online means a request in the last 5 minutes.
    /// The socket closes when the session ends or its admin is demoted; it counts toward
    /// `MAX_LIVE_CONNECTIONS_PER_USER`.
    #[oai(path = "/api/admin/live", method = "get", operation_id = "admin_live")]
    async fn live(&self, admin: AdminOnly, state: Data<&AppState>, ws: WebSocket) -> Result<Upgrade, ApiError> {
        let ticket = state.live.open(&admin.0, Audience::Admins)?;
        let stats = state.stats.clone();
        let upgraded = ws.on_upgrade(move |socket| async move {
            let (mut sink, mut incoming) = socket.split();
            let mut tick = tokio::time::interval(LIVE_INTERVAL);
            let ended = ticket.ended();
            tokio::pin!(ended);
            loop {
                tokio::select! {
                    () = &mut ended => {
                        let _ = sink.send(WsMessage::close_with(CLOSE_POLICY_VIOLATION, "the session has ended")).await;
                        break;
                    }
                    _ = tick.tick() => {
                        let figures = match stats.live().await {
                            Ok(figures) => figures,
                            Err(e) => {
                                tracing::warn!(error = ?e, "live feed could not read its figures");
                                continue;
                            }
                        };
                        let text = serde_json::to_string(&figures).expect("figures serialise");
                        if sink.send(WsMessage::Text(text)).await.is_err() {
                            break;
                        }
                    }
                    message = incoming.next() => match message {
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
        });
        Ok(Upgrade(upgraded.into_response()))
    }
}
