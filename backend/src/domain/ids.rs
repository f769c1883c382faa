//! Typed ids: a `ChatId` cannot be passed where a `UserId` is wanted. Each is an `i64` on the
//! wire (serde-transparent, documented as an integer) and in the database (sqlx-transparent).

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, sqlx::Type, poem_openapi::NewType,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

ids! {
    /// User id
    UserId;
    /// Character id
    CharacterId;
    /// Chat id
    ChatId;
    /// Message id
    MessageId;
    /// Shared prompt id
    PromptId;
    /// Announcement id
    AnnouncementId;
    /// Persona id
    PersonaId;
    /// Lorebook id
    LorebookId;
    /// API key id
    ApiKeyId;
    /// Room id
    RoomId;
    /// Room message id
    RoomMessageId;
}
