//! What admins see and do: users, conversations, statistics, announcements, the live feed.

use std::{collections::HashMap, sync::Arc};

use chrono::{Duration as Days, NaiveDate, Utc};
use troupe_types::{
    AdminChat, AdminUser, Announcement, AnnouncementLevel, DailyUsage, LiveStats, ModelUsage, NewAnnouncement,
    Overview, OverviewDay, OverviewTotals, TopCharacter, TopUser, UpdateUser, rules::RuleViolation,
};

use super::{
    Chats, ModelCatalog,
    live::{SessionChange, SessionChanges},
    presence::{AnnouncementHub, Presence},
};
use crate::{
    clock::{Millis, day, now_millis, rfc3339},
    domain::{Message, Page, User, UserId},
    error::AppError,
    storage::{
        Db, StorageError,
        admin::{self, AdminChatRow, ChatFilter, DayFigures, GroupFigures, UserChange, UserOrder, UserStatsRow},
        chats,
    },
};

/// Longest range the statistics accept, in days.
pub const MAX_RANGE_DAYS: i64 = 366;
/// Range when none is given: the last 30 days, today included.
pub const DEFAULT_RANGE_DAYS: i64 = 30;
const TOP: i64 = 10;
const DAY_MS: i64 = 86_400_000;

/// An inclusive range of UTC days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// `from`/`to` as `YYYY-MM-DD`; either may be absent (defaults: the last 30 days to today).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Self, RuleViolation> {
        let parse = |field: &'static str, value: &str| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| RuleViolation {
                field,
                code: "invalid_parameter",
                message: format!("{field} must be a day like 2026-11-21"),
            })
        };
        let today = Utc::now().date_naive();
        let to = to.map(|t| parse("to", t)).transpose()?.unwrap_or(today);
        let from = from.map(|f| parse("from", f)).transpose()?.unwrap_or(to - Days::days(DEFAULT_RANGE_DAYS - 1));
        let violation = |message: String| RuleViolation { field: "from", code: "invalid_parameter", message };
        if from > to {
            return Err(violation("from must not be after to".into()));
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err(violation(format!("the range may span at most {MAX_RANGE_DAYS} days")));
        }
        Ok(Self { from, to })
    }

    pub fn from_key(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }

    pub fn to_key(&self) -> String {
        self.to.format("%Y-%m-%d").to_string()
    }

    /// Epoch ms of the first instant of `from`.
    pub fn start_millis(&self) -> Millis {
        self.from.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis()
    }

    /// Epoch ms just after the last day.
    pub fn end_millis(&self) -> Millis {
        self.start_millis() + ((self.to - self.from).num_days() + 1) * DAY_MS
    }

    pub fn days(&self) -> impl Iterator<Item = String> {
        let from = self.from;
        (0..=(self.to - self.from).num_days()).map(move |i| (from + Days::days(i)).format("%Y-%m-%d").to_string())
    }
}

#[derive(Clone)]
pub struct Admin {
    db: Db,
    catalog: Arc<ModelCatalog>,
    chats: Chats,
    presence: Presence,
    hub: AnnouncementHub,
    changes: SessionChanges,
}

impl Admin {
    pub fn new(
        db: Db,
        catalog: Arc<ModelCatalog>,
        chats: Chats,
        presence: Presence,
        hub: AnnouncementHub,
        changes: SessionChanges,
    ) -> Self {
        Self { db, catalog, chats, presence, hub, changes }
    }

    pub async fn users(&self, query: &str, order: UserOrder, page: Page) -> Result<(Vec<AdminUser>, i64), AppError> {
        let today = day(now_millis());
        let (rows, total) = admin::list_users(&self.db, query, order, &today, page.limit, page.offset).await?;
        Ok((rows.into_iter().map(admin_user).collect(), total))
    }

    /// Changes roles, access or quota. No change may leave the server without an active admin.
    /// The user's live connections re-check their session at once.
    #[tracing::instrument(skip_all, fields(user.id = actor.id, target.id = id), err(level = "info"))]
    pub async fn update_user(&self, actor: &User, id: UserId, change: UpdateUser) -> Result<User, AppError> {
        let target = admin::find_user(&self.db, id).await?.ok_or(AppError::NotFound)?;
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
        let storage_change = UserChange {
            is_admin: change.is_admin,
            disabled: change.disabled,
            daily_token_quota: change.daily_token_quota,
        };
        admin::change_user(&self.db, target.id, &storage_change).await.map_err(|e| match e {
            StorageError::Conflict => {
                AppError::Conflict("last_admin", "the last active admin cannot be demoted or disabled")
            }
            other => other.into(),
        })?;
        self.changes.publish(SessionChange::AccountChanged { user_id: target.id });
        admin::find_user(&self.db, id).await?.ok_or(AppError::NotFound)
    }

    pub async fn user_chats(&self, user_id: UserId, page: Page) -> Result<(Vec<AdminChat>, i64), AppError> {
        admin::find_user(&self.db, user_id).await?.ok_or(AppError::NotFound)?;
        self.conversations(&ChatFilter { user_id: Some(user_id), ..Default::default() }, page).await
    }

    pub async fn user_usage(&self, user_id: UserId, range: DayRange) -> Result<Vec<DailyUsage>, AppError> {
        admin::find_user(&self.db, user_id).await?.ok_or(AppError::NotFound)?;
        let days = admin::user_days(&self.db, user_id, &range.from_key(), &range.to_key()).await?;
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

    pub async fn conversations(&self, filter: &ChatFilter, page: Page) -> Result<(Vec<AdminChat>, i64), AppError> {
        let (rows, total) = admin::list_chats(&self.db, filter, page.limit, page.offset).await?;
        Ok((rows.into_iter().map(admin_chat).collect(), total))
    }

    pub async fn chat_messages(
        &self,
        chat_id: i64,
        before_id: Option<i64>,
        page: Page,
    ) -> Result<Vec<Message>, AppError> {
        if !admin::chat_exists(&self.db, chat_id).await? {
            return Err(AppError::NotFound);
        }
        Ok(chats::messages_page(&self.db, chat_id, before_id, page.limit).await?)
    }

    /// Totals, the day series, the top users and characters, and usage per model with cost.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn overview(&self, range: DayRange) -> Result<Overview, AppError> {
        let (from, to) = (range.from_key(), range.to_key());
        let db = &self.db;
        let (days, mut active, signups, top_characters, models) = tokio::try_join!(
            admin::days(db, &from, &to),
            admin::users_in_range(db, &from, &to),
            admin::signups(db, range.start_millis(), range.end_millis()),
            admin::top_characters(db, &from, &to, TOP),
            admin::by_model(db, &from, &to),
        )?;
        let active_users = active.len() as i64;
        active.sort_by_key(|u| (std::cmp::Reverse(tokens(u)), u.id));
        active.truncate(TOP as usize);
        let names = admin::usernames(db, &active.iter().map(|u| u.id).collect::<Vec<_>>()).await?;
        let (signups_per_day, all_users) = signups;
        let created: HashMap<String, i64> =
            signups_per_day.into_iter().map(|(epoch_day, count)| (day(epoch_day * DAY_MS), count)).collect();
        let by_model: Vec<ModelUsage> = models.into_iter().map(|m| self.model_usage(m)).collect();
        let sum = |f: fn(&DayFigures) -> i64| days.iter().map(f).sum::<i64>();
        let (prompt_tokens, completion_tokens) = (sum(|d| d.prompt_tokens), sum(|d| d.completion_tokens));
        let totals = OverviewTotals {
            users: all_users,
            new_users: created.values().sum(),
            active_users,
            chats: sum(|d| d.chats),
            messages: sum(|d| d.messages),
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            estimated_cost_usd: by_model.iter().map(|m| m.estimated_cost_usd).sum(),
        };
        Ok(Overview {
            from,
            to,
            totals,
            daily: day_series(&range, &days, &created),
            top_users: active
                .into_iter()
                .map(|g| TopUser {
                    user_id: g.id,
                    total_tokens: tokens(&g),
                    username: names.get(&g.id).cloned().unwrap_or_default(),
                    messages: g.messages,
                })
                .collect(),
            top_characters: top_characters
                .into_iter()
                .map(|g| TopCharacter {
                    character_id: g.id,
                    total_tokens: tokens(&g),
                    name: g.name,
                    messages: g.messages,
                })
                .collect(),
            by_model,
        })
    }

    fn model_usage(&self, g: GroupFigures) -> ModelUsage {
        let cost = self.catalog.get(&g.name).map_or(0.0, |m| m.cost_usd(g.prompt_tokens, g.completion_tokens));
        ModelUsage {
            total_tokens: tokens(&g),
            model: g.name,
            messages: g.messages,
            prompt_tokens: g.prompt_tokens,
            completion_tokens: g.completion_tokens,
            estimated_cost_usd: cost,
        }
    }

    /// One row per user per day, RFC 4180 CSV with a header row.
    pub async fn export_csv(&self, range: DayRange) -> Result<String, AppError> {
        let rows = admin::user_day_rows(&self.db, &range.from_key(), &range.to_key()).await?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let header =
            ["day", "user_id", "username", "messages", "chats", "prompt_tokens", "completion_tokens", "total_tokens"];
        let write = |out: &mut csv::Writer<Vec<u8>>| -> csv::Result<()> {
            out.write_record(header)?;
            for r in &rows {
                out.write_record([
                    r.day.clone(),
                    r.user_id.to_string(),
                    r.username.clone(),
                    r.messages.to_string(),
                    r.chats.to_string(),
                    r.prompt_tokens.to_string(),
                    r.completion_tokens.to_string(),
                    (r.prompt_tokens + r.completion_tokens).to_string(),
                ])?;
            }
            out.flush()?;
            Ok(())
        };
        write(&mut out).map_err(|e| AppError::Internal(e.into()))?;
        let bytes = out.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
        String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
    }

    pub async fn announce(&self, author: &User, new: NewAnnouncement) -> Result<Announcement, AppError> {
        let text = new.text.trim();
        troupe_types::rules::check_text("text", text, 500, true)?;
        let hours = new.duration_hours.unwrap_or(24);
        if !(1..=720).contains(&hours) {
            return Err(RuleViolation {
                field: "duration_hours",
                code: "invalid_duration",
                message: "duration_hours must be 1 to 720".into(),
            }
            .into());
        }
        let now = now_millis();
        let level = match new.level {
            AnnouncementLevel::Info => "info",
            AnnouncementLevel::Warning => "warning",
        };
        let row = admin::insert_announcement(&self.db, author.id, text, level, now, now + hours * 3_600_000).await?;
        let announcement = announcement(row);
        self.hub.publish(announcement.clone());
        Ok(announcement)
    }

    /// Active announcements, newest first (every user may read them).
    pub async fn announcements(&self) -> Result<Vec<Announcement>, AppError> {
        Ok(admin::active_announcements(&self.db, now_millis()).await?.into_iter().map(announcement).collect())
    }

    pub async fn end_announcement(&self, id: i64) -> Result<(), AppError> {
        Ok(admin::end_announcement(&self.db, id, now_millis()).await?)
    }

    pub async fn live(&self) -> Result<LiveStats, AppError> {
        let (messages, tokens) = admin::activity_since(&self.db, now_millis() - 60_000).await?;
        Ok(LiveStats {
            online_users: self.presence.online() as i64,
            active_streams: self.chats.active_streams() as i64,
            messages_last_minute: messages,
            tokens_last_minute: tokens,
        })
    }
}

fn announcement(row: admin::AnnouncementRow) -> Announcement {
    Announcement {
        id: row.id,
        text: row.text,
        level: if row.level == "warning" { AnnouncementLevel::Warning } else { AnnouncementLevel::Info },
        created_at: rfc3339(row.created_at),
        expires_at: rfc3339(row.expires_at),
    }
}

fn tokens(g: &GroupFigures) -> i64 {
    g.prompt_tokens + g.completion_tokens
}

/// Every day of the range, with the ledger's figures and the day's sign-ups.
fn day_series(range: &DayRange, days: &[DayFigures], created: &HashMap<String, i64>) -> Vec<OverviewDay> {
    range
        .days()
        .map(|key| {
            let figures = days.iter().find(|d| d.day == key).cloned().unwrap_or_default();
            OverviewDay {
                new_users: created.get(&key).copied().unwrap_or(0),
                active_users: figures.active_users,
                chats: figures.chats,
                messages: figures.messages,
                prompt_tokens: figures.prompt_tokens,
                completion_tokens: figures.completion_tokens,
                day: key,
            }
        })
        .collect()
}

fn admin_user(r: UserStatsRow) -> AdminUser {
    AdminUser {
        is_admin: r.is_admin(),
        disabled: r.disabled(),
        id: r.id,
        username: r.username,
        email: r.email,
        daily_token_quota: r.daily_token_quota,
        created_at: rfc3339(r.created_at),
        last_active_at: r.last_active_at.map(rfc3339),
        chats: r.chats,
        messages: r.messages,
        total_tokens: r.total_tokens,
        tokens_today: r.tokens_today,
    }
}

fn admin_chat(r: AdminChatRow) -> AdminChat {
    AdminChat {
        id: r.id,
        user_id: r.user_id,
        username: r.username,
        character_id: r.character_id,
        character_name: r.character_name,
        title: r.title,
        model: r.model,
        created_at: rfc3339(r.created_at),
        last_message_at: rfc3339(r.last_message_at),
        message_count: r.message_count,
        total_tokens: r.total_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_default_to_the_last_30_days_and_are_bounded() {
        let r = DayRange::parse(Some("2026-01-01"), Some("2026-01-03")).unwrap();
        assert_eq!(r.days().collect::<Vec<_>>(), ["2026-01-01", "2026-01-02", "2026-01-03"]);
        assert_eq!(r.end_millis() - r.start_millis(), 3 * DAY_MS);
        assert_eq!(r.days().count(), 3);
        let default = DayRange::parse(None, None).unwrap();
        assert_eq!(default.days().count(), 30);
        assert!(DayRange::parse(Some("2026-01-05"), Some("2026-01-01")).is_err());
        assert!(DayRange::parse(Some("2025-01-01"), Some("2026-06-01")).is_err());
        assert_eq!(DayRange::parse(Some("yesterday"), None).unwrap_err().field, "from");
    }
}
