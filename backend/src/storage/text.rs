//! The text forms the database stores the domain's enums in: one table per enum, read both
//! ways. An unknown text is an error (a row from a newer version, or edited by hand), never a
//! guess at what it meant.

use troupe_types::{AnnouncementLevel, MessageStatus, Role, UsageSource, Visibility};

use super::StorageError;

pub trait DbText: Copy + PartialEq + 'static {
    /// What the values are, for the error about an unknown one.
    const WHAT: &'static str;
    /// Every value with its text.
    const TEXTS: &'static [(Self, &'static str)];

    fn to_db(self) -> &'static str {
        Self::TEXTS.iter().find(|(value, _)| *value == self).map(|(_, text)| *text).expect("every value has a text")
    }

    fn from_db(text: &str) -> Result<Self, StorageError> {
        Self::TEXTS
            .iter()
            .find(|(_, known)| *known == text)
            .map(|(value, _)| *value)
            .ok_or_else(|| StorageError::Corrupt(format!("unknown {} `{text}`", Self::WHAT)))
    }
}

impl DbText for Role {
    const WHAT: &'static str = "message role";
    const TEXTS: &'static [(Self, &'static str)] = &[(Self::User, "user"), (Self::Assistant, "assistant")];
}

impl DbText for MessageStatus {
    const WHAT: &'static str = "message status";
    const TEXTS: &'static [(Self, &'static str)] =
        &[(Self::Complete, "complete"), (Self::Incomplete, "incomplete"), (Self::Error, "error")];
}

impl DbText for UsageSource {
    const WHAT: &'static str = "usage source";
    const TEXTS: &'static [(Self, &'static str)] = &[(Self::Provider, "provider"), (Self::Estimated, "estimated")];
}

impl DbText for Visibility {
    const WHAT: &'static str = "character visibility";
    const TEXTS: &'static [(Self, &'static str)] = &[(Self::Private, "private"), (Self::Public, "public")];
}

impl DbText for AnnouncementLevel {
    const WHAT: &'static str = "announcement level";
    const TEXTS: &'static [(Self, &'static str)] = &[(Self::Info, "info"), (Self::Warning, "warning")];
}

/// `from_db` for a nullable column.
pub fn optional<T: DbText>(text: Option<String>) -> Result<Option<T>, StorageError> {
    text.as_deref().map(T::from_db).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: DbText + std::fmt::Debug>() {
        for (value, text) in T::TEXTS {
            assert_eq!(value.to_db(), *text);
            assert_eq!(T::from_db(text).unwrap(), *value);
        }
        assert!(matches!(T::from_db("nonsense"), Err(StorageError::Corrupt(_))), "{}", T::WHAT);
    }

    #[test]
    fn every_enum_reads_back_what_it_writes_and_refuses_the_rest() {
        round_trips::<Role>();
        round_trips::<MessageStatus>();
        round_trips::<UsageSource>();
        round_trips::<Visibility>();
        round_trips::<AnnouncementLevel>();
    }
}
