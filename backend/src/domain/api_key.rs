//! Personal API keys: a name, a secret shown once, an optional expiry.

use troupe_types::CreateApiKey;

use super::{ApiKeyId, RuleViolation, UserId};
use crate::clock::{Millis, rfc3339};

/// The longest a key may be made to last, in days (ten years).
pub const MAX_EXPIRY_DAYS: i64 = 3650;
const MAX_NAME_CHARS: usize = 64;
const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub expires_at: Option<Millis>,
}

impl From<ApiKey> for troupe_types::ApiKey {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.get(),
            name: k.name,
            prefix: k.prefix,
            created_at: rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(rfc3339),
            expires_at: k.expires_at.map(rfc3339),
        }
    }
}

/// A key about to be created: its name, and how long it lasts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyDraft {
    pub name: String,
    pub lifetime_days: Option<i64>,
}

impl ApiKeyDraft {
    pub fn parse(input: CreateApiKey) -> Result<Self, RuleViolation> {
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(RuleViolation::new("name", "invalid_name", format!("1–{MAX_NAME_CHARS} characters")));
        }
        if let Some(days) = input.expires_in_days
            && !(1..=MAX_EXPIRY_DAYS).contains(&days)
        {
            let message = format!("between 1 and {MAX_EXPIRY_DAYS} days, or null for a key that never expires");
            return Err(RuleViolation::new("expires_in_days", "invalid_expiry", message));
        }
        Ok(Self { name, lifetime_days: input.expires_in_days })
    }

    /// When a key created at `now` expires.
    pub fn expires_at(&self, now: Millis) -> Option<Millis> {
        self.lifetime_days.map(|days| now + days * DAY_MILLIS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str, days: Option<i64>) -> Result<ApiKeyDraft, RuleViolation> {
        ApiKeyDraft::parse(CreateApiKey { name: name.into(), expires_in_days: days })
    }

    #[test]
    fn names_and_lifetimes_are_bounded() {
        assert_eq!(draft("  laptop ", Some(30)).unwrap().name, "laptop");
        assert_eq!(draft("", None).unwrap_err().field, "name");
        assert_eq!(draft(&"x".repeat(65), None).unwrap_err().field, "name");
        assert_eq!(draft("ok", Some(0)).unwrap_err().field, "expires_in_days");
        assert_eq!(draft("ok", Some(3651)).unwrap_err().field, "expires_in_days");
        assert_eq!(draft("ok", Some(1)).unwrap().expires_at(1000), Some(1000 + DAY_MILLIS));
        assert_eq!(draft("ok", None).unwrap().expires_at(1000), None);
    }
}
