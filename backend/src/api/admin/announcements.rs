//! `/api/admin/announcements`: posting and ending announcements (everyone reads them at
//! `/api/announcements`).

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use troupe_types::{Announcement, NewAnnouncement};

use crate::{
    api::{ApiTags, credentials::AdminOnly, error::ApiError, payload::JsonBody},
    domain::AnnouncementId,
    state::AppState,
};

#[derive(Default)]
pub struct AnnouncementsApi;

#[derive(ApiResponse)]
enum AnnouncedResponse {
    /// Posted, and pushed to every connected user.
    #[oai(status = 201)]
    Announced(Json<Announcement>),
}

#[derive(ApiResponse)]
enum EndedResponse {
    /// The announcement is no longer active.
    #[oai(status = 204)]
    Ended,
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AnnouncementsApi {
    /// Post an announcement
    ///
    /// `text` 1–500 characters, `level` `info` or `warning`, active for `duration_hours`
    /// (1–720, default 24). Connected users receive it at once on `/api/events`.
    #[oai(path = "/api/admin/announcements", method = "post", operation_id = "admin_announce")]
    async fn post(
        &self,
        admin: AdminOnly,
        state: Data<&AppState>,
        body: JsonBody<NewAnnouncement>,
    ) -> Result<AnnouncedResponse, ApiError> {
        Ok(AnnouncedResponse::Announced(Json(state.announcements.post(&admin.0.user, body.0).await?)))
    }

    /// End an announcement early
    #[oai(path = "/api/admin/announcements/:id", method = "delete", operation_id = "admin_end_announcement")]
    async fn end(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<AnnouncementId>,
    ) -> Result<EndedResponse, ApiError> {
        state.announcements.end(id.0).await?;
        Ok(EndedResponse::Ended)
    }
}
