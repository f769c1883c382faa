//! `/api/admin`: users, conversations, statistics, announcements and the live feed, one module
//! each. Every operation requires an admin (401 without a session, 403 for other users).

pub mod announcements;
pub mod conversations;
pub mod live;
pub mod stats;
pub mod systems;
pub mod users;

/// Every admin API, one per subject.
pub type AdminApis = (
    users::UsersApi,
    conversations::ConversationsApi,
    stats::StatsApi,
    announcements::AnnouncementsApi,
    live::LiveApi,
    systems::SystemsApi,
);
