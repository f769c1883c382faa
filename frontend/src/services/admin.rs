use gloo_net::http::Request;
use serde::{Deserialize, Serialize};
use troupe_types::{
    AdminChatList, AdminUser, AdminUserList, Announcement, CreateSystem, CreatedSystem, MessageList, NewAnnouncement,
    Overview, System, SystemList, SystemSecrets, UpdateSystem, UpdateUser,
};

use super::{ApiResult, bare, delete, get, json, patch, post, query, send};

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

/// The history browser's filters; also the page's URL query (`?system_id=quiz&q=…`), so a
/// filtered list can be linked to and reloaded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// Empty: every system's users and the server's own.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub external_user_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub q: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to: String,
    #[serde(skip)]
    pub page: i64,
}

impl ConversationFilter {
    /// The filters as query pairs, without paging.
    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        let non_empty = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        vec![
            ("user_id", self.user_id.map(|id| id.to_string())),
            ("system_id", non_empty(&self.system_id)),
            ("external_user_id", non_empty(&self.external_user_id)),
            ("q", non_empty(&self.q)),
            ("from", non_empty(&self.from)),
            ("to", non_empty(&self.to)),
        ]
    }
}

pub async fn conversations(filter: &ConversationFilter) -> ApiResult<AdminChatList> {
    let mut pairs = filter.pairs();
    pairs.push(("limit", Some(USER_PAGE.to_string())));
    pairs.push(("page", Some(filter.page.max(1).to_string())));
    get(&format!("/api/admin/conversations{}", query(&pairs))).await
}

/// The address of the filtered conversations' export, `csv` or `json`; the browser downloads it
/// with the session cookie.
pub fn conversations_export_url(filter: &ConversationFilter, format: &str) -> String {
    format!("/api/admin/conversations/export.{format}{}", query(&filter.pairs()))
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

pub async fn systems() -> ApiResult<SystemList> {
    get("/api/admin/systems").await
}

/// A new system, with its secrets (shown this once).
pub async fn create_system(system: &CreateSystem) -> ApiResult<CreatedSystem> {
    post("/api/admin/systems", system).await
}

pub async fn update_system(id: &str, change: &UpdateSystem) -> ApiResult<System> {
    patch(&format!("/api/admin/systems/{id}"), change).await
}

/// New secrets for the system; the old ones stop working.
pub async fn rotate_system(id: &str) -> ApiResult<SystemSecrets> {
    json(send(bare(Request::post(&format!("/api/admin/systems/{id}/rotate")))?).await?).await
}

/// Disables the system (its secrets stay, for when it is enabled again).
pub async fn disable_system(id: &str) -> ApiResult<()> {
    delete(&format!("/api/admin/systems/{id}")).await
}
