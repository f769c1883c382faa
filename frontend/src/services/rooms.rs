//! Live rooms: listing and entering them (anyone signed in), making, changing and deleting them
//! and their messages (admins), and the live socket of one room (`/api/rooms/{id}/ws`).

use futures::{SinkExt, StreamExt};
use gloo_net::{
    http::Request,
    websocket::{Message, State, futures::WebSocket},
};
use troupe_types::{ClientFrame, CreateRoom, MuteUser, Room, RoomList, RoomMessageList, ServerFrame, UpdateRoom};

use super::{ApiResult, delete, get, patch, post, send, socket_url, with_body};

pub async fn list() -> ApiResult<RoomList> {
    get("/api/rooms").await
}

pub async fn fetch(id: i64) -> ApiResult<Room> {
    get(&format!("/api/rooms/{id}")).await
}

pub async fn create(body: &CreateRoom) -> ApiResult<Room> {
    post("/api/rooms", body).await
}

pub async fn update(id: i64, body: &UpdateRoom) -> ApiResult<Room> {
    patch(&format!("/api/rooms/{id}"), body).await
}

pub async fn remove(id: i64) -> ApiResult<()> {
    delete(&format!("/api/rooms/{id}")).await
}

/// The latest page of the room's messages, oldest first.
pub async fn latest_messages(id: i64) -> ApiResult<RoomMessageList> {
    get(&format!("/api/rooms/{id}/messages")).await
}

pub async fn delete_message(room_id: i64, message_id: i64) -> ApiResult<()> {
    delete(&format!("/api/rooms/{room_id}/messages/{message_id}")).await
}

/// Mutes `user_id` in the room for `minutes` (0 lifts the mute).
pub async fn mute(room_id: i64, user_id: i64, minutes: i64) -> ApiResult<()> {
    // 204: no body to read.
    let request = with_body(Request::post(&format!("/api/rooms/{room_id}/mutes")), &MuteUser { user_id, minutes })?;
    send(request).await.map(drop)
}

/// One connection to a room's live feed, on the session cookie; dropping it closes it.
pub struct RoomSocket(WebSocket);

impl RoomSocket {
    /// Connects to room `id`. The server first replays every message after `after_id` (the
    /// newest one the page holds), so a reconnection misses nothing and repeats nothing.
    /// `None` if the browser refused to even try.
    pub fn open(id: i64, after_id: i64) -> Option<Self> {
        let url = socket_url(&format!("/api/rooms/{id}/ws?after_id={after_id}"))?;
        WebSocket::open(&url).ok().map(Self)
    }

    /// Waits until the connection is up (`true`) or has failed (`false`).
    pub async fn opened(&mut self) -> bool {
        // gloo's socket is "ready" once it is no longer connecting, whether it opened or not.
        let ready = futures::future::poll_fn(|cx| self.0.poll_ready_unpin(cx)).await;
        ready.is_ok() && matches!(self.0.state(), State::Open)
    }

    /// The next frame; `None` once the connection is gone. Frames it cannot read are skipped.
    pub async fn frame(&mut self) -> Option<ServerFrame> {
        loop {
            match self.0.next().await? {
                Ok(Message::Text(text)) => {
                    if let Ok(frame) = serde_json::from_str(&text) {
                        return Some(frame);
                    }
                }
                Ok(Message::Bytes(_)) => {}
                Err(_) => return None,
            }
        }
    }

    /// Says `content` in the room; `false` if the connection is gone.
    pub async fn say(&mut self, content: String) -> bool {
        let Ok(frame) = serde_json::to_string(&ClientFrame::Message { content }) else { return false };
        self.0.send(Message::Text(frame)).await.is_ok()
    }
}
