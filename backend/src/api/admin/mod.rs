//! `/api/admin`: users, conversations, statistics, announcements and the live feed, one module
//! each. Every operation requires an admin (401 without a session, 403 for other users).

pub mod announcements;
pub mod conversations;
pub mod live;
pub mod stats;
pub mod systems;
pub mod users;

use poem::{IntoResponse, Response};

/// Every admin API, one per subject.
pub type AdminApis = (
    users::UsersApi,
    conversations::ConversationsApi,
    stats::StatsApi,
    announcements::AnnouncementsApi,
    live::LiveApi,
    systems::SystemsApi,
);
use poem_openapi::{
    ApiResponse,
    registry::{MetaResponse, MetaResponses, Registry},
};

/// The WebSocket handshake's answer.
pub struct Upgrade(pub Response);

impl IntoResponse for Upgrade {
    fn into_response(self) -> Response {
        self.0
    }
}

impl ApiResponse for Upgrade {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "Switching to the WebSocket protocol",
                status: Some(101),
                status_range: None,
                content: vec![],
                headers: vec![],
            }],
        }
    }

    fn register(_: &mut Registry) {}
}
