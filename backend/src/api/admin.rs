//! `/api/admin`: users, conversations, statistics, announcements and the live feed. Every
//! operation requires an admin (401 without a session, 403 for other users).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use poem::{
    IntoResponse, Response,
    web::{
        Data,
        websocket::{Message as WsMessage, WebSocket},
    },
};
use poem_openapi::{
    ApiResponse, Enum, OpenApi,
    param::{Path, Query},
    payload::{Json, PlainText},
    registry::{MetaResponse, MetaResponses, Registry},
};
use troupe_types::{
    AdminChatList, AdminUserList, Announcement, DailyUsageList, MessageList, NewAnnouncement, Overview, UpdateUser,
    User,
};

use super::{ApiTags, credentials::AdminOnly, error::ApiError, payload::JsonBody};
use crate::{
    domain::Page,
    error::AppError,
    services::{
        Admin,
        admin::DayRange,
        live::{Audience, LiveConnections},
    },
    storage::admin::{ChatFilter, UserOrder},
};

/// How often the live feed pushes.
const LIVE_INTERVAL: Duration = Duration::from_secs(2);
/// WebSocket close code for "the session behind this socket has ended" (RFC 6455 1008).
const CLOSE_POLICY_VIOLATION: u16 = 1008;

#[derive(Default)]
pub struct AdminApi;

/// Sort order of the user list.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
enum UserSort {
    /// Newest accounts first (default).
    Newest,
    Username,
    /// Most tokens ever first.
    Tokens,
    LastActive,
}

impl From<UserSort> for UserOrder {
    fn from(s: UserSort) -> Self {
        match s {
            UserSort::Newest => Self::Newest,
            UserSort::Username => Self::Username,
            UserSort::Tokens => Self::Tokens,
            UserSort::LastActive => Self::LastActive,
        }
    }
}

#[derive(ApiResponse)]
enum UsersResponse {
    /// Users with their totals.
    #[oai(status = 200)]
    Users(Json<AdminUserList>),
}

#[derive(ApiResponse)]
enum UserResponse {
    /// The user after the change.
    #[oai(status = 200)]
    User(Json<User>),
}

#[derive(ApiResponse)]
enum ChatsResponse {
    /// Chats with message and token counts, latest activity first.
    #[oai(status = 200)]
    Chats(Json<AdminChatList>),
}

#[derive(ApiResponse)]
enum UsageResponse {
    /// Usage per day with activity, oldest first.
    #[oai(status = 200)]
    Usage(Json<DailyUsageList>),
}

#[derive(ApiResponse)]
enum MessagesResponse {
    /// A page of the chat's messages, oldest first.
    #[oai(status = 200)]
    Messages(Json<MessageList>),
}

#[derive(ApiResponse)]
enum OverviewResponse {
    /// Figures for the range.
    #[oai(status = 200)]
    Overview(Json<Box<Overview>>),
}

#[derive(ApiResponse)]
enum CsvResponse {
    /// `day,user_id,username,messages,chats,prompt_tokens,completion_tokens,total_tokens`, one row
    /// per user per day with usage, RFC 4180 quoting.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>, #[oai(header = "Content-Disposition")] String),
}

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

/// The WebSocket handshake's answer.
pub struct Upgrade(Response);

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

fn paging(limit: Option<i64>, page: Option<i64>) -> Result<Page, ApiError> {
    Ok(Page::parse(limit, page).map_err(AppError::from)?)
}

fn range(from: Option<String>, to: Option<String>) -> Result<DayRange, ApiError> {
    Ok(DayRange::parse(from.as_deref(), to.as_deref()).map_err(AppError::from)?)
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// List users
    ///
    /// `q` matches username or email; `sort` orders; paged by `limit` (≤ 200) and `page`.
    #[oai(path = "/api/admin/users", method = "get", operation_id = "admin_list_users")]
    async fn users(
        &self,
        _admin: AdminOnly,
        service: Data<&Admin>,
        q: Query<Option<String>>,
        sort: Query<Option<UserSort>>,
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<UsersResponse, ApiError> {
        let order = sort.0.unwrap_or(UserSort::Newest).into();
        let (items, total) = service.users(q.0.as_deref().unwrap_or(""), order, paging(limit.0, page.0)?).await?;
        Ok(UsersResponse::Users(Json(AdminUserList { items, total })))
    }

    /// Change a user's role, access or quota
    ///
    /// `daily_token_quota: null` means unlimited. Disabling takes effect on the user's next
    /// request. The last active admin cannot demote or disable itself (409 `last_admin`).
    #[oai(path = "/api/admin/users/:id", method = "patch", operation_id = "admin_update_user")]
    async fn update_user(
        &self,
        admin: AdminOnly,
        service: Data<&Admin>,
        id: Path<i64>,
        body: JsonBody<UpdateUser>,
    ) -> Result<UserResponse, ApiError> {
        let user = service.update_user(&admin.0.user, id.0, body.0).await?;
        Ok(UserResponse::User(Json(user.into())))
    }

    /// A user's chats
    #[oai(path = "/api/admin/users/:id/chats", method = "get", operation_id = "admin_user_chats")]
    async fn user_chats(
        &self,
        _admin: AdminOnly,
        service: Data<&Admin>,
        id: Path<i64>,
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<ChatsResponse, ApiError> {
        let (items, total) = service.user_chats(id.0, paging(limit.0, page.0)?).await?;
        Ok(ChatsResponse::Chats(Json(AdminChatList { items, total })))
    }

    /// A user's usage per day
    ///
    /// `from` and `to` are UTC days (`YYYY-MM-DD`, inclusive; default the last 30 days).
    #[oai(path = "/api/admin/users/:id/usage", method = "get", operation_id = "admin_user_usage")]
    async fn user_usage(
        &self,
        _admin: AdminOnly,
        service: Data<&Admin>,
        id: Path<i64>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
    ) -> Result<UsageResponse, ApiError> {
        let items = service.user_usage(id.0, range(from.0, to.0)?).await?;
        Ok(UsageResponse::Usage(Json(DailyUsageList { items })))
    }

    /// Browse conversations across users
    ///
    /// Filters: `user_id`, `character_id`, activity between the days `from` and `to`, and `q`
    /// (title, character name or message text).
    #[oai(path = "/api/admin/conversations", method = "get", operation_id = "admin_conversations")]
    #[allow(clippy::too_many_arguments)]
    async fn conversations(
        &self,
        _admin: AdminOnly,
        service: Data<&Admin>,
        user_id: Query<Option<i64>>,
        character_id: Query<Option<i64>>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
        q: Query<Option<String>>,
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<ChatsResponse, ApiError> {
        let span = if from.0.is_some() || to.0.is_some() { Some(range(from.0, to.0)?) } else { None };
        let filter = ChatFilter {
            user_id: user_id.0,
            character_id: character_id.0,
            from: span.map(|r| r.start_millis()),
            to: span.map(|r| r.end_millis()),
            text: q.0.filter(|t| !t.trim().is_empty()),
        };
        let (items, total) = service.conversations(&filter, paging(limit.0, page.0)?).await?;
        Ok(ChatsResponse::Chats(Json(AdminChatList { items, total })))
    }

    /// Any chat's messages
    #[oai(path = "/api/admin/chats/:id/messages", method = "get", operation_id = "admin_chat_messages")]
    async fn chat_messages(
        &self,
        _admin: AdminOnly,
        service: Data<&Admin>,
        id: Path<i64>,
        before_id: Query<Option<i64>>,
        limit: Query<Option<i64>>,
    ) -> Result<MessagesResponse, ApiError> {
        let page = paging(limit.0, None)?;
        let items = service.chat_messages(id.0, before_id.0, page).await?;
        let next_before_id = items.first().filter(|_| items.len() as i64 == page.limit).map(|m| m.id);
        Ok(MessagesResponse::Messages(Json(MessageList {
            items: items.into_iter().map(Into::into).collect(),
            next_before_id,
        })))
    }

    /// Statistics for a range of days
    ///
    /// Totals, a daily series (every day of the range), the top 10 users and characters by
    /// tokens, and usage per model with its estimated cost from the catalogue's prices. Days are
    /// UTC; `from`/`to` inclusive, default the last 30 days, at most 366.
    #[oai(path = "/api/admin/stats/overview", method = "get", operation_id = "admin_overview")]
    async fn overview(
        &self,
        _admin: AdminOnly,
        service: Data<&Admin>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
    ) -> Result<OverviewResponse, ApiError> {
        Ok(OverviewResponse::Overview(Json(Box::new(service.overview(range(from.0, to.0)?).await?))))
    }

    /// Usage per user per day, as CSV
    #[oai(path = "/api/admin/stats/export.csv", method = "get", operation_id = "admin_export_csv")]
    async fn export_csv(
        &self,
        _admin: AdminOnly,
        service: Data<&Admin>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
    ) -> Result<CsvResponse, ApiError> {
        let range = range(from.0, to.0)?;
        let csv = service.export_csv(range).await?;
        let disposition =
            format!("attachment; filename=\"troupe-usage-{}-to-{}.csv\"", range.from_key(), range.to_key());
        Ok(CsvResponse::Csv(PlainText(csv), disposition))
    }

    /// Post an announcement
    ///
    /// `text` 1–500 characters, `level` `info` or `warning`, active for `duration_hours`
    /// (default 24). Connected users receive it at once on `/api/events`.
    #[oai(path = "/api/admin/announcements", method = "post", operation_id = "admin_announce")]
    async fn announce(
        &self,
        admin: AdminOnly,
        service: Data<&Admin>,
        body: JsonBody<NewAnnouncement>,
    ) -> Result<AnnouncedResponse, ApiError> {
        Ok(AnnouncedResponse::Announced(Json(service.announce(&admin.0.user, body.0).await?)))
    }

    /// End an announcement early
    #[oai(path = "/api/admin/announcements/:id", method = "delete", operation_id = "admin_end_announcement")]
    async fn end_announcement(
        &self,
        _admin: AdminOnly,
        service: Data<&Admin>,
        id: Path<i64>,
    ) -> Result<EndedResponse, ApiError> {
        service.end_announcement(id.0).await?;
        Ok(EndedResponse::Ended)
    }

    /// Live feed (WebSocket)
    ///
    /// Every ~2 s a text message `{online_users, active_streams, messages_last_minute,
    /// tokens_last_minute}` (see `LiveStats`). Online means a request in the last 5 minutes.
    /// The socket closes when the session ends or its admin is demoted; it counts toward
    /// `MAX_LIVE_CONNECTIONS_PER_USER`.
    #[oai(path = "/api/admin/live", method = "get", operation_id = "admin_live")]
    async fn live(
        &self,
        admin: AdminOnly,
        service: Data<&Admin>,
        live: Data<&LiveConnections>,
        ws: WebSocket,
    ) -> Result<Upgrade, ApiError> {
        let ticket = live.open(&admin.0, Audience::Admins)?;
        let service = service.clone();
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
                        let stats = match service.live().await {
                            Ok(stats) => stats,
                            Err(e) => {
                                tracing::warn!(error = ?e, "live feed could not read its figures");
                                continue;
                            }
                        };
                        let text = serde_json::to_string(&stats).expect("stats serialise");
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
