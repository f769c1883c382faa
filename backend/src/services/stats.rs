//! The dashboard's figures: totals and day series over a range, top users and characters,
//! usage per model with its cost, the CSV export, and the live feed's last minute. Every figure
//! comes from the usage ledger (see `storage::stats`).

use std::{collections::HashMap, sync::Arc};

use troupe_types::{
    LiveStats, ModelUsage, Overview, OverviewDay, OverviewTotals, SourceUsage, SystemUsage, TopCharacter, TopUser,
};

use super::{ModelCatalog, csv_document::csv_document, generation::GenerationLimits, presence::Presence};
use crate::{
    clock::{DAY_MS, day, now_millis},
    domain::{DayRange, UserId},
    error::AppError,
    storage::{
        Db,
        stats::{self, DayFigures, GroupFigures},
    },
};

/// How many top users and characters the overview lists.
const TOP: i64 = 10;

#[derive(Clone)]
pub struct Stats {
    db: Db,
    catalog: Arc<ModelCatalog>,
    limits: Arc<GenerationLimits>,
    presence: Presence,
}

impl Stats {
    pub fn new(db: Db, catalog: Arc<ModelCatalog>, limits: Arc<GenerationLimits>, presence: Presence) -> Self {
        Self { db, catalog, limits, presence }
    }

    /// Totals, the day series, the top users and characters, and usage per model with cost.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn overview(&self, range: DayRange) -> Result<Overview, AppError> {
        let (from, to) = (range.from_key(), range.to_key());
        let db = &self.db;
        let (days, mut active, signups, top_characters, (models, sources, systems)) = tokio::try_join!(
            stats::days(db, &from, &to),
            stats::users_in_range(db, &from, &to),
            stats::signups(db, range.start_millis(), range.end_millis()),
            stats::top_characters(db, &from, &to, TOP),
            async {
                tokio::try_join!(
                    stats::by_model(db, &from, &to),
                    stats::by_source(db, &from, &to),
                    stats::by_system(db, &from, &to)
                )
            },
        )?;
        let active_users = active.len() as i64;
        active.sort_by_key(|u| (std::cmp::Reverse(tokens(u)), u.id));
        active.truncate(TOP as usize);
        let names = stats::usernames(db, &active.iter().map(|u| UserId::new(u.id)).collect::<Vec<_>>()).await?;
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
                    username: names.get(&UserId::new(g.id)).cloned().unwrap_or_default(),
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
            by_source: sources
                .into_iter()
                .map(|g| SourceUsage {
                    total_tokens: tokens(&g),
                    source: g.name,
                    messages: g.messages,
                    prompt_tokens: g.prompt_tokens,
                    completion_tokens: g.completion_tokens,
                })
                .collect(),
            by_system: systems
                .into_iter()
                .map(|s| SystemUsage {
                    total_tokens: s.prompt_tokens + s.completion_tokens,
                    system_id: s.system_id,
                    users: s.users,
                    messages: s.messages,
                    prompt_tokens: s.prompt_tokens,
                    completion_tokens: s.completion_tokens,
                })
                .collect(),
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
        let rows = stats::user_day_rows(&self.db, &range.from_key(), &range.to_key()).await?;
        let header =
            ["day", "user_id", "username", "messages", "chats", "prompt_tokens", "completion_tokens", "total_tokens"];
        let records = rows.into_iter().map(|r| {
            [
                r.day,
                r.user_id.to_string(),
                r.username,
                r.messages.to_string(),
                r.chats.to_string(),
                r.prompt_tokens.to_string(),
                r.completion_tokens.to_string(),
                (r.prompt_tokens + r.completion_tokens).to_string(),
            ]
        });
        csv_document(header, records)
    }

    /// The live feed's figures: who is online, replies streaming, and the last minute's
    /// messages and tokens.
    pub async fn live(&self) -> Result<LiveStats, AppError> {
        let (messages, tokens) = stats::activity_since(&self.db, now_millis() - 60_000).await?;
        Ok(LiveStats {
            online_users: self.presence.online().await as i64,
            active_streams: self.limits.active_streams().await as i64,
            messages_last_minute: messages,
            tokens_last_minute: tokens,
        })
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
