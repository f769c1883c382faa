//! `/api/rooms`: live rooms, their history, moderation, and the WebSocket (`room_socket`).

mod socket;

use poem::{
    IntoResponse,
    web::{Data, websocket::WebSocket},
};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_types::{CreateRoom, MuteUser, Room, RoomList, RoomMessageList, UpdateRoom};

use super::{
    ApiTags,
    credentials::{AdminOnly, Authenticated},
    error::ApiError,
    payload::{JsonBody, Upgrade},
};
use crate::{
    domain::{RoomId, RoomMessageId, UserId},
    services::live::Audience,
    state::AppState,
};

/// Messages a history page holds unless `limit` says otherwise.
const DEFAULT_PAGE: i64 = 50;

#[derive(Default)]
pub struct RoomsApi;

#[derive(ApiResponse)]
enum ListResponse {
    /// Every room, oldest first, with the people connected now.
    #[oai(status = 200)]
    Rooms(Json<RoomList>),
}

#[derive(ApiResponse)]
enum CreatedResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Room>),
}

#[derive(ApiResponse)]
enum RoomResponse {
    #[oai(status = 200)]
    Room(Json<Room>),
}

#[derive(ApiResponse)]
enum MessagesResponse {
    /// Oldest first.
    #[oai(status = 200)]
    Messages(Json<RoomMessageList>),
}

#[derive(ApiResponse)]
enum DoneResponse {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[OpenApi(tag = "ApiTags::Rooms")]
impl RoomsApi {
    /// List rooms
    #[oai(path = "/api/rooms", method = "get", operation_id = "list_rooms")]
    async fn list(&self, _auth: Authenticated, state: Data<&AppState>) -> Result<ListResponse, ApiError> {
        Ok(ListResponse::Rooms(Json(RoomList { items: state.rooms.list().await? })))
    }

    /// Create a room (admins)
    ///
    /// Name 1–80 characters; `slow_mode_secs` 0–3600; the character must exist
    /// (`unknown_character` otherwise).
    #[oai(path = "/api/rooms", method = "post", operation_id = "create_room")]
    async fn create(
        &self,
        admin: AdminOnly,
        state: Data<&AppState>,
        body: JsonBody<CreateRoom>,
    ) -> Result<CreatedResponse, ApiError> {
        let room = state.rooms.create(&admin.0.user, body.0).await?;
        Ok(CreatedResponse::Created(Json(state.rooms.to_wire(&room).await)))
    }

    /// One room
    #[oai(path = "/api/rooms/:id", method = "get", operation_id = "get_room")]
    async fn get(
        &self,
        _auth: Authenticated,
        state: Data<&AppState>,
        id: Path<RoomId>,
    ) -> Result<RoomResponse, ApiError> {
        let room = state.rooms.get(id.0).await?;
        Ok(RoomResponse::Room(Json(state.rooms.to_wire(&room).await)))
    }

    /// Change a room (admins)
    ///
    /// Absent fields stay. A new slow mode or reply mode holds from the next message.
    #[oai(path = "/api/rooms/:id", method = "patch", operation_id = "update_room")]
    async fn update(
        &self,
        admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<RoomId>,
        body: JsonBody<UpdateRoom>,
    ) -> Result<RoomResponse, ApiError> {
        let room = state.rooms.update(&admin.0.user, id.0, body.0).await?;
        Ok(RoomResponse::Room(Json(state.rooms.to_wire(&room).await)))
    }

    /// Delete a room (admins)
    ///
    /// Its messages go with it, and its WebSockets close (1001).
    #[oai(path = "/api/rooms/:id", method = "delete", operation_id = "delete_room")]
    async fn delete(
        &self,
        admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<RoomId>,
    ) -> Result<DoneResponse, ApiError> {
        state.rooms.delete(&admin.0.user, id.0).await?;
        Ok(DoneResponse::Done)
    }

    /// A room's messages
    ///
    /// Up to `limit` (1–200, default 50) messages before `before_id` (the latest without it),
    /// oldest first.
    #[oai(path = "/api/rooms/:id/messages", method = "get", operation_id = "list_room_messages")]
    async fn messages(
        &self,
        _auth: Authenticated,
        state: Data<&AppState>,
        id: Path<RoomId>,
        before_id: Query<Option<RoomMessageId>>,
        limit: Query<Option<i64>>,
    ) -> Result<MessagesResponse, ApiError> {
        let messages = state.rooms.messages(id.0, before_id.0, limit.0.unwrap_or(DEFAULT_PAGE)).await?;
        let items = messages.iter().map(Into::into).collect();
        Ok(MessagesResponse::Messages(Json(RoomMessageList { items })))
    }

    /// Delete a room message (admins)
    ///
    /// Everyone in the room is told (`deleted`).
    #[oai(path = "/api/rooms/:id/messages/:message_id", method = "delete", operation_id = "delete_room_message")]
    async fn delete_message(
        &self,
        admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<RoomId>,
        message_id: Path<RoomMessageId>,
    ) -> Result<DoneResponse, ApiError> {
        state.rooms.delete_message(&admin.0.user, id.0, message_id.0).await?;
        Ok(DoneResponse::Done)
    }

    /// Mute a user in a room (admins)
    ///
    /// For `minutes` (1–10080; 0 lifts the mute). Their messages there are refused (`muted`)
    /// meanwhile; they still read along.
    #[oai(path = "/api/rooms/:id/mutes", method = "post", operation_id = "mute_room_user")]
    async fn mute(
        &self,
        admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<RoomId>,
        body: JsonBody<MuteUser>,
    ) -> Result<DoneResponse, ApiError> {
        let MuteUser { user_id, minutes } = body.0;
        state.rooms.mute(&admin.0.user, id.0, UserId::new(user_id), minutes).await?;
        Ok(DoneResponse::Done)
    }

    /// A room, live (WebSocket)
    ///
    /// Send `{"type":"message","content":"…"}`; receive JSON frames with a `type`: `message`
    /// (`{message}`: new, or a newer version of one you have — same `id`, replace it; the
    /// character's reply comes first empty, then whole when done), `delta`
    /// (`{message_id, text}`: the next piece of the character's reply), `presence`
    /// (`{participants}`, sent on connect and when people come or go), `deleted`
    /// (`{message_id}`), `error` (`{code, message, retry_after_secs?}`: what you sent was refused
    /// — `message_too_long`, `message_empty`, `muted`, `slow_mode`, `rate_limited`,
    /// `invalid_frame` — or the character could not answer your message: `quota_exceeded`,
    /// `too_many_streams`, `upstream_error`; only you are told).
    ///
    /// `after_id`: first replays every message after it, so a client that reconnects with the
    /// last id it holds misses nothing and gets nothing twice. Without it, only what comes from
    /// now on. Joins and leaves are `system` messages (`content` `joined` or `left`, `author` the
    /// names), one line per second at most, and a person counts as gone only after 10 s away.
    ///
    /// Frames over 16 KiB close the socket with 1009. The server pings every 20 s and closes
    /// a connection it has not heard from in 60 s; one that falls 1024 frames behind is closed
    /// with 1013 (reconnect with `after_id`). 1008: the session ended; 1001: the room was
    /// deleted. Counts toward `MAX_LIVE_CONNECTIONS_PER_USER`; at most `MAX_ROOMS_PER_USER`
    /// (default 5) rooms at once (429 `too_many_rooms`).
    #[oai(path = "/api/rooms/:id/ws", method = "get", operation_id = "room_socket")]
    async fn socket(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<RoomId>,
        after_id: Query<Option<RoomMessageId>>,
        ws: WebSocket,
    ) -> Result<Upgrade, ApiError> {
        let room = state.rooms.get(id.0).await?;
        let ticket = state.live.open(&auth.0, Audience::AnyUser)?;
        let membership = state.rooms.join(&room, &auth.0.user)?;
        let connection = socket::RoomConnection {
            rooms: state.rooms.clone(),
            user: auth.0.user,
            membership,
            replay_after: after_id.0,
        };
        let upgraded = ws.config(socket::config()).on_upgrade(move |socket| connection.run(socket, ticket));
        Ok(Upgrade(upgraded.into_response()))
    }
}
