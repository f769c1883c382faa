//! Accounts as admins manage them: the user list with totals, roles, access and quotas, and
//! each user's usage.

use troupe_types::{AdminUser, DailyUsage, UpdateUser, rules::RuleViolation};

use super::{
    Conversations,
    live::{SessionChange, SessionChanges},
};
use crate::{
    clock::{day, now_millis, rfc3339},
    domain::{ConversationFilter, DayRange, Page, User, UserId, UserOrder},
    error::AppError,
    storage::{
        Db, StorageError, stats,
        users::{self, UserChange, UserStatsRow},
    },
};

#[derive(Clone)]
pub struct Users {
    db: Db,
    conversations: Conversations,
    changes: SessionChanges,
}

impl Users {
    pub fn new(db: Db, conversations: Conversations, changes: SessionChanges) -> Self {
        Self { db, conversations, changes }
    }

    /// Users whose username or email holds `query`, with lifetime totals and today's tokens.
    pub async fn list(&self, query: &str, order: UserOrder, page: Page) -> Result<(Vec<AdminUser>, i64), AppError> {
        let today = day(now_millis());
        let (rows, total) = users::list_with_totals(&self.db, query, order, &today, page.limit, page.offset).await?;
        Ok((rows.into_iter().map(admin_user).collect(), total))
    }

    /// Changes roles, access or quota. No change may leave the server without an active admin.
    /// The user's live connections re-check their session at once.
    #[tracing::instrument(skip_all, fields(user.id = %actor.id, target.id = %id), err(level = "info"))]
    pub async fn update(&self, actor: &User, id: UserId, change: UpdateUser) -> Result<User, AppError> {
        let target = self.find(id).await?;
        if let Some(Some(quota)) = change.daily_token_quota
            && quota < 0
        {
            return Err(RuleViolation {
                field: "daily_token_quota",
                code: "invalid_quota",
                message: "the quota must be 0 or more tokens, or null for unlimited".into(),
            }
            .into());
        }
        if let Some(Some(quota)) = change.storage_quota_mb
            && quota < 0
        {
            return Err(RuleViolation {
                field: "storage_quota_mb",
                code: "invalid_quota",
                message: "the storage quota must be 0 (unlimited) or more MB, or null for the server's default".into(),
            }
            .into());
        }
        let change = UserChange {
            is_admin: change.is_admin,
            disabled: change.disabled,
            daily_token_quota: change.daily_token_quota,
            storage_quota_mb: change.storage_quota_mb,
        };
        users::change(&self.db, target.id, &change).await.map_err(|e| match e {
            StorageError::Conflict => {
                AppError::Conflict("last_admin", "the last active admin cannot be demoted or disabled")
            }
            other => other.into(),
        })?;
        self.changes.publish(SessionChange::AccountChanged { user_id: target.id });
        self.find(id).await
    }

    /// A user's chats, for the history browser.
    pub async fn chats(&self, id: UserId, page: Page) -> Result<(Vec<troupe_types::AdminChat>, i64), AppError> {
        self.find(id).await?;
        self.conversations.list(&ConversationFilter { user_id: Some(id), ..Default::default() }, page).await
    }

    /// A user's usage per day in `range`; days without usage are left out.
    pub async fn usage(&self, id: UserId, range: DayRange) -> Result<Vec<DailyUsage>, AppError> {
        self.find(id).await?;
        let days = stats::user_days(&self.db, id, &range.from_key(), &range.to_key()).await?;
        Ok(days
            .into_iter()
            .map(|d| DailyUsage {
                total_tokens: d.prompt_tokens + d.completion_tokens,
                day: d.day,
                messages: d.messages,
                prompt_tokens: d.prompt_tokens,
                completion_tokens: d.completion_tokens,
            })
            .collect())
    }

    async fn find(&self, id: UserId) -> Result<User, AppError> {
        users::find_by_id(&self.db, id).await?.ok_or(AppError::NotFound)
    }
}

fn admin_user(r: UserStatsRow) -> AdminUser {
    AdminUser {
        is_admin: r.is_admin(),
        disabled: r.disabled(),
        id: r.id.get(),
        username: r.username,
        email: r.email,
        daily_token_quota: r.daily_token_quota,
        created_at: rfc3339(r.created_at),
        last_active_at: r.last_active_at.map(rfc3339),
        chats: r.chats,
        messages: r.messages,
        total_tokens: r.total_tokens,
        tokens_today: r.tokens_today,
        api_keys: r.api_keys,
        storage_used_bytes: r.storage_used_bytes,
        storage_quota_mb: r.storage_quota_mb,
    }
}
