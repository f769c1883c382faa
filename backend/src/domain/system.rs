//! Systems: other products whose users chat through Troupe (the service gateway).

use troupe_types::{CreateSystem, UpdateSystem};

use super::{CharacterId, RuleViolation};
use crate::clock::{Millis, rfc3339};

const MAX_NAME_CHARS: usize = 100;
const MAX_ORIGINS: usize = 20;
const MAX_EXTERNAL_ID_CHARS: usize = 128;

/// A system's id: `[a-z0-9_-]{2,32}`, chosen by the admin, fixed for good.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SystemId(String);

impl SystemId {
    pub fn parse(raw: &str) -> Result<Self, RuleViolation> {
        let valid = (2..=32).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid {
            return Err(RuleViolation::new("id", "invalid_system_id", "2–32 characters of a–z, 0–9, _ and -"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// An id read back from storage (valid when it was written).
    pub fn trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SystemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A system's id for one of its users: 1–128 printable characters, compared exactly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExternalUserId(String);

impl ExternalUserId {
    pub fn parse(raw: &str) -> Result<Self, RuleViolation> {
        let chars = raw.chars().count();
        if !(1..=MAX_EXTERNAL_ID_CHARS).contains(&chars) || raw.chars().any(char::is_control) {
            let message = format!("1–{MAX_EXTERNAL_ID_CHARS} printable characters");
            return Err(RuleViolation::new("user_id", "invalid_user_id", message));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct System {
    pub id: SystemId,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub default_character_id: Option<CharacterId>,
    pub model: Option<String>,
    pub daily_token_quota_per_user: Option<i64>,
    pub disabled: bool,
    pub key_prefix: String,
    /// With the server's secret, this makes the system's JWT secret (`services::systems`).
    pub jwt_salt: String,
    pub created_at: Millis,
}

impl System {
    /// Whether a page at `origin` may frame the chat or mint tokens from a browser.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        self.allowed_origins.contains(&origin)
    }
}

/// A system's usage totals, beside it in the admin list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemTotals {
    pub users: i64,
    pub messages: i64,
    pub total_tokens: i64,
    pub tokens_today: i64,
}

pub fn wire_system(system: System, totals: SystemTotals) -> troupe_types::System {
    troupe_types::System {
        id: system.id.0,
        name: system.name,
        allowed_origins: system.allowed_origins,
        default_character_id: system.default_character_id.map(CharacterId::get),
        model: system.model,
        daily_token_quota_per_user: system.daily_token_quota_per_user,
        disabled: system.disabled,
        key_prefix: system.key_prefix,
        created_at: rfc3339(system.created_at),
        users: totals.users,
        messages: totals.messages,
        total_tokens: totals.total_tokens,
        tokens_today: totals.tokens_today,
    }
}

/// What a system is created with, checked. (Whether the character and model exist is the
/// service's business.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemDraft {
    pub id: SystemId,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub default_character_id: Option<CharacterId>,
    pub model: Option<String>,
    pub daily_token_quota_per_user: Option<i64>,
}

impl SystemDraft {
    pub fn parse(input: CreateSystem) -> Result<Self, RuleViolation> {
        Ok(Self {
            id: SystemId::parse(&input.id)?,
            name: parse_name(&input.name)?,
            allowed_origins: parse_origins(&input.allowed_origins)?,
            default_character_id: input.default_character_id.map(CharacterId::new),
            model: input.model.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()),
            daily_token_quota_per_user: parse_quota(input.daily_token_quota_per_user)?,
        })
    }
}

/// A change to a system; `None` leaves a field alone, `Some(None)` clears an optional one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemChange {
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub default_character_id: Option<Option<CharacterId>>,
    pub model: Option<Option<String>>,
    pub daily_token_quota_per_user: Option<Option<i64>>,
    pub disabled: Option<bool>,
}

impl SystemChange {
    pub fn parse(input: UpdateSystem) -> Result<Self, RuleViolation> {
        Ok(Self {
            name: input.name.as_deref().map(parse_name).transpose()?,
            allowed_origins: input.allowed_origins.as_deref().map(parse_origins).transpose()?,
            default_character_id: input.default_character_id.map(|id| id.map(CharacterId::new)),
            model: input.model.map(|m| m.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty())),
            daily_token_quota_per_user: input.daily_token_quota_per_user.map(parse_quota).transpose()?,
            disabled: input.disabled,
        })
    }

    /// `system` with the change applied.
    pub fn apply(self, mut system: System) -> System {
        if let Some(name) = self.name {
            system.name = name;
        }
        if let Some(origins) = self.allowed_origins {
            system.allowed_origins = origins;
        }
        if let Some(character) = self.default_character_id {
            system.default_character_id = character;
        }
        if let Some(model) = self.model {
            system.model = model;
        }
        if let Some(quota) = self.daily_token_quota_per_user {
            system.daily_token_quota_per_user = quota;
        }
        if let Some(disabled) = self.disabled {
            system.disabled = disabled;
        }
        system
    }
}

fn parse_name(raw: &str) -> Result<String, RuleViolation> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(RuleViolation::new("name", "invalid_name", format!("1–{MAX_NAME_CHARS} characters")));
    }
    Ok(name.to_owned())
}

fn parse_quota(quota: Option<i64>) -> Result<Option<i64>, RuleViolation> {
    match quota {
        Some(q) if q < 0 => Err(RuleViolation::new(
            "daily_token_quota_per_user",
            "invalid_quota",
            "0 or more tokens, or null for the server default",
        )),
        other => Ok(other),
    }
}

fn parse_origins(raw: &[String]) -> Result<Vec<String>, RuleViolation> {
    if raw.len() > MAX_ORIGINS {
        let message = format!("at most {MAX_ORIGINS} origins");
        return Err(RuleViolation::new("allowed_origins", "invalid_origin", message));
    }
    let mut origins: Vec<String> = Vec::with_capacity(raw.len());
    for origin in raw {
        let origin = parse_origin(origin).ok_or_else(|| {
            let message = format!("`{origin}` is not an origin such as https://quiz.example or http://localhost:8080");
            RuleViolation::new("allowed_origins", "invalid_origin", message)
        })?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

/// `scheme://host[:port]` (http or https, no path, user or query), lowercased; a trailing `/`
/// is dropped.
fn parse_origin(raw: &str) -> Option<String> {
    let origin = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok =
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    (matches!(scheme, "http" | "https") && host_ok && port_ok).then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_ids_are_short_slugs() {
        assert!(SystemId::parse("drillquiz").is_ok());
        assert!(SystemId::parse("a_b-9").is_ok());
        for bad in ["a", "Quiz", "quiz site", "quiz:1", &"x".repeat(33)] {
            assert!(SystemId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn external_ids_are_printable_and_bounded() {
        assert!(ExternalUserId::parse("Bob 42 · 학생").is_ok());
        assert!(ExternalUserId::parse(&"é".repeat(128)).is_ok());
        for bad in ["", "a\nb", "tab\t", &"x".repeat(129)] {
            assert!(ExternalUserId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        let ok = ["https://Quiz.Example/", "http://localhost:8080", "http://127.0.0.1:3000", "http://[::1]:8080"];
        let parsed = parse_origins(&ok.map(String::from)).unwrap();
        assert_eq!(parsed[0], "https://quiz.example");
        for bad in ["quiz.example", "ftp://x", "https://x/path", "https://x:99999", "https://", "https://a b"] {
            assert!(parse_origin(bad).is_none(), "{bad}");
        }
    }
}
