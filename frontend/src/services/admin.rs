use troupe_types::{
    AdminChatList, AdminUser, AdminUserList, Announcement, MessageList, NewAnnouncement, Overview, UpdateUser,
};

use super::{ApiResult, delete, get, patch, post, query};

pub async fn overview(from: &str, to: &str) -> ApiResult<Overview> {
    get(&format!("/api/admin/stats/overview{}", range(from, to))).await
}

/// The address of the CSV export; the browser downloads it with the session cookie.
pub fn export_url(from: &str, to: &str) -> String {
    format!("/api/admin/stats/export.csv{}", range(from, to))
}

fn range(from: &str, to: &str) -> String {
    query(&[("from", Some(from.to_owned())), ("to", Some(to.to_owned()))])
}

pub const USER_PAGE: i64 = 25;

pub async fn users(q: &str, sort: &str, page: i64) -> ApiResult<AdminUserList> {
    let q = query(&[
        ("q", Some(q.trim().to_owned()).filter(|q| !q.is_empty())),
        ("sort", Some(sort.to_owned())),
        ("limit", Some(USER_PAGE.to_string())),
        ("page", Some(page.to_string())),
    ]);
    get(&format!("/api/admin/users{q}")).await
}

pub async fn update_user(id: i64, change: &UpdateUser) -> ApiResult<AdminUser> {
    patch(&format!("/api/admin/users/{id}"), change).await
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConversationFilter {
    pub user_id: Option<i64>,
    pub q: String,
    pub from: String,
    pub to: String,
    pub page: i64,
}

pub async fn conversations(filter: &ConversationFilter) -> ApiResult<AdminChatList> {
    let non_empty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let q = query(&[
        ("user_id", filter.user_id.map(|id| id.to_string())),
        ("q", non_empty(&filter.q)),
        ("from", non_empty(&filter.from)),
        ("to", non_empty(&filter.to)),
        ("limit", Some(USER_PAGE.to_string())),
        ("page", Some(filter.page.max(1).to_string())),
    ]);
    get(&format!("/api/admin/conversations{q}")).await
}

/// A page of any chat's messages, oldest first: the newest 200 before `before_id`.
pub async fn chat_messages(chat_id: i64, before_id: Option<i64>) -> ApiResult<MessageList> {
    let q = query(&[("before_id", before_id.map(|id| id.to_string())), ("limit", Some("200".to_owned()))]);
    get(&format!("/api/admin/chats/{chat_id}/messages{q}")).await
}

pub async fn announce(announcement: &NewAnnouncement) -> ApiResult<Announcement> {
    post("/api/admin/announcements", announcement).await
}

pub async fn end_announcement(id: i64) -> ApiResult<()> {
    delete(&format!("/api/admin/announcements/{id}")).await
}
