//! `/api/announcements` and `/api/events`: what every signed-in user hears from the admins.

use std::time::Duration;

use futures::{StreamExt, stream::BoxStream};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    payload::{EventStream, Json},
};
use tokio::sync::broadcast::error::RecvError;
use troupe_types::{Announcement, AnnouncementList};

use super::{ApiTags, credentials::Authenticated, error::ApiError};
use crate::{services::live::Audience, state::AppState};

/// How often an idle event stream sends a comment. The server learns that a client has gone
/// only when a write to it fails (the second after it left), so this also bounds how long a
/// closed connection keeps its place under `MAX_LIVE_CONNECTIONS_PER_USER`: about 10 s.
const KEEP_ALIVE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct EventsApi;

#[derive(ApiResponse)]
enum AnnouncementsResponse {
    /// Active announcements, newest first.
    #[oai(status = 200)]
    Announcements(Json<AnnouncementList>),
}

#[derive(ApiResponse)]
enum EventsResponse {
    /// Server-sent events: `announcement` with an `Announcement` each time an admin posts one.
    #[oai(status = 200)]
    Events(EventStream<BoxStream<'static, Announcement>>),
}

#[OpenApi(tag = "ApiTags::Announcements")]
impl EventsApi {
    /// Active announcements
    #[oai(path = "/api/announcements", method = "get", operation_id = "list_announcements")]
    async fn announcements(
        &self,
        _auth: Authenticated,
        state: Data<&AppState>,
    ) -> Result<AnnouncementsResponse, ApiError> {
        let items = state.announcements.active().await?;
        Ok(AnnouncementsResponse::Announcements(Json(AnnouncementList { items })))
    }

    /// Live events (SSE)
    ///
    /// New announcements as they are posted, as `announcement` events; a keep-alive comment
    /// every 5 s. Reconnect and read `/api/announcements` to catch up after a break. The
    /// stream ends with the session (signed out, expired, account disabled). At most
    /// `MAX_LIVE_CONNECTIONS_PER_USER` (default 10) live connections per user (429
    /// `too_many_connections`).
    #[oai(path = "/api/events", method = "get", operation_id = "events")]
    async fn events(&self, auth: Authenticated, state: Data<&AppState>) -> Result<EventsResponse, ApiError> {
        let ticket = state.live.open(&auth.0, Audience::AnyUser)?;
        let receiver = state.announcements.subscribe();
        let stream = futures::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(announcement) => return Some((announcement, receiver)),
                    // A slow client missed some; it can catch up from /api/announcements.
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        });
        let events = EventStream::new(stream.take_until(ticket.ended()).boxed()).keep_alive(KEEP_ALIVE).to_event(|a| {
            poem::web::sse::Event::message(poem_openapi::types::ToJSON::to_json_string(&a)).event_type("announcement")
        });
        Ok(EventsResponse::Events(events))
    }
}
