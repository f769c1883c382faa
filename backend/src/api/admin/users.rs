//! `/api/admin/users`: the user list, roles, access, quotas, and each user's chats and usage.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_types::{AdminChatList, AdminUserList, DailyUsageList, UpdateUser, User};

use crate::{
    api::{ApiTags, credentials::AdminOnly, error::ApiError, payload::JsonBody},
    domain::{DayRange, Page, UserId, UserOrder},
    state::AppState,
};

#[derive(Default)]
pub struct UsersApi;

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

#[OpenApi(tag = "ApiTags::Admin")]
impl UsersApi {
    /// List users
    ///
    /// `q` matches username or email; `sort` orders; paged by `limit` (≤ 200) and `page`.
    #[oai(path = "/api/admin/users", method = "get", operation_id = "admin_list_users")]
    async fn list(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        q: Query<Option<String>>,
        sort: Query<Option<UserOrder>>,
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<UsersResponse, ApiError> {
        let page = Page::parse(limit.0, page.0)?;
        let (items, total) = state.users.list(q.0.as_deref().unwrap_or(""), sort.0.unwrap_or_default(), page).await?;
        Ok(UsersResponse::Users(Json(AdminUserList { items, total })))
    }

    /// Change a user's role, access or quota
    ///
    /// `daily_token_quota: null` means unlimited; `storage_quota_mb: null` follows the server's
    /// `STORAGE_QUOTA_MB` and 0 is unlimited. Disabling takes effect on the user's next
    /// request and ends their live connections. No change may leave the server without an
    /// active admin (409 `last_admin`).
    #[oai(path = "/api/admin/users/:id", method = "patch", operation_id = "admin_update_user")]
    async fn update(
        &self,
        admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<UserId>,
        body: JsonBody<UpdateUser>,
    ) -> Result<UserResponse, ApiError> {
        let user = state.users.update(&admin.0.user, id.0, body.0).await?;
        Ok(UserResponse::User(Json(user.into())))
    }

    /// A user's chats
    #[oai(path = "/api/admin/users/:id/chats", method = "get", operation_id = "admin_user_chats")]
    async fn chats(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<UserId>,
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<ChatsResponse, ApiError> {
        let (items, total) = state.users.chats(id.0, Page::parse(limit.0, page.0)?).await?;
        Ok(ChatsResponse::Chats(Json(AdminChatList { items, total })))
    }

    /// A user's usage per day
    ///
    /// `from` and `to` are UTC days (`YYYY-MM-DD`, inclusive; default the last 30 days).
    #[oai(path = "/api/admin/users/:id/usage", method = "get", operation_id = "admin_user_usage")]
    async fn usage(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<UserId>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
    ) -> Result<UsageResponse, ApiError> {
        let range = DayRange::parse(from.0.as_deref(), to.0.as_deref())?;
        let items = state.users.usage(id.0, range).await?;
        Ok(UsageResponse::Usage(Json(DailyUsageList { items })))
    }
}
