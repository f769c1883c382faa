//! Accounts.

use secrecy::{ExposeSecret, SecretString};
use troupe_types::rules::{self, RuleViolation};

use super::{SystemId, UserId};
use crate::{
    clock::{Millis, rfc3339},
    error::AppError,
};

/// A stored account (without its password hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    pub daily_token_quota: Option<i64>,
    pub created_at: Millis,
    /// For a system's external user (no password; signs in only through the system).
    pub system_id: Option<SystemId>,
    /// That system's quota per user, which holds when the user has none of their own.
    pub system_quota: Option<i64>,
}

impl User {
    /// `Forbidden` unless this user is an admin: the one check behind every admin-only action.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin { Ok(()) } else { Err(AppError::Forbidden("this is for admins only")) }
    }
}

impl From<User> for troupe_types::User {
    fn from(u: User) -> Self {
        Self {
            id: u.id.get(),
            username: u.username,
            email: u.email,
            is_admin: u.is_admin,
            disabled: u.disabled,
            daily_token_quota: u.daily_token_quota,
            created_at: rfc3339(u.created_at),
        }
    }
}

/// Sort orders of the admin user list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename = "UserSort", rename_all = "snake_case")]
pub enum UserOrder {
    /// Newest accounts first (default).
    #[default]
    Newest,
    Username,
    /// Most tokens ever first.
    Tokens,
    LastActive,
    /// Most storage used first.
    Storage,
}

/// A username that follows the rules; unique ignoring case is the database's job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: String) -> Result<Self, RuleViolation> {
        rules::check_username(&raw)?;
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that follows the rules. Never printed.
#[derive(Debug)]
pub struct Password(SecretString);

impl Password {
    pub fn parse(raw: String) -> Result<Self, RuleViolation> {
        rules::check_password(&raw)?;
        Ok(Self(raw.into()))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A well-formed email address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses an optional address; blank counts as absent, as forms send empty fields.
    pub fn parse_optional(raw: Option<String>) -> Result<Option<Self>, RuleViolation> {
        match raw.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()) {
            None => Ok(None),
            Some(email) => {
                rules::check_email(&email)?;
                Ok(Some(Self(email)))
            }
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_enforces_the_shared_rules() {
        assert!(Username::parse("good_name".into()).is_ok());
        assert_eq!(Username::parse("no way".into()).unwrap_err().field, "username");
        assert_eq!(Password::parse("short1".into()).unwrap_err().field, "password");
        assert!(Password::parse("longenough1".into()).is_ok());
    }

    #[test]
    fn blank_email_is_absent() {
        assert_eq!(Email::parse_optional(Some("  ".into())).unwrap(), None);
        assert_eq!(Email::parse_optional(None).unwrap(), None);
        assert!(Email::parse_optional(Some("not-an-email".into())).is_err());
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::parse("topsecret99".into()).unwrap();
        assert!(!format!("{p:?}").contains("topsecret99"));
    }
}
