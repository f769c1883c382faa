//! Live feeds: announcements over SSE (`/api/events`) and the admin counters over a
//! WebSocket (`/api/admin/live`). Both ride on the session cookie.

use futures::{Stream, StreamExt};
use gloo_net::{eventsource::futures::EventSource, websocket::futures::WebSocket};
use troupe_types::{Announcement, AnnouncementList, LiveStats};

use super::{ApiResult, get, socket_url};

pub async fn announcements() -> ApiResult<AnnouncementList> {
    get("/api/announcements").await
}

/// The live feed of `/api/events`. The browser reconnects on its own after a drop; keep
/// `source` alive as long as the streams are read.
pub struct AnnouncementFeed<A, C> {
    pub source: EventSource,
    /// New announcements as admins post them.
    pub announcements: A,
    /// Once per (re)connection: the moment to re-read the active ones.
    pub connected: C,
}

pub fn announcement_feed() -> Option<AnnouncementFeed<impl Stream<Item = Announcement>, impl Stream<Item = ()>>> {
    let mut source = EventSource::new("/api/events").ok()?;
    let events = source.subscribe("announcement").ok()?;
    let announcements = events.filter_map(|event| async move {
        let (_, message) = event.ok()?;
        serde_json::from_str(&message.data().as_string()?).ok()
    });
    // gloo hands every listened-to event over as a message; `open` carries no data.
    let connected = source.subscribe("open").ok()?.map(drop);
    Some(AnnouncementFeed { source, announcements, connected })
}

/// The admin live counters, one snapshot every ~2 s, until the socket closes.
pub fn live_stats() -> Option<impl Stream<Item = LiveStats>> {
    let socket = WebSocket::open(&socket_url("/api/admin/live")?).ok()?;
    Some(socket.filter_map(|message| async move {
        match message.ok()? {
            gloo_net::websocket::Message::Text(text) => serde_json::from_str(&text).ok(),
            gloo_net::websocket::Message::Bytes(_) => None,
        }
    }))
}
