//! The service API: a system acting for its users (`/api/service/…`, `X-API-Key: trs_…`).
//! Its users' chats are ordinary chats held to the ordinary rules; a system sees only its own
//! users' chats (anything else is `NotFound`).

use troupe_types::CreateChat;

use super::{
    Chats,
    systems::{self, Systems},
    turns::StartedTurn,
};
use crate::{
    domain::{
        CharacterId, Chat, ChatId, DayRange, ExternalUserId, MessageId, MessagePage, MessageText, Page, RuleViolation,
        System, User,
    },
    error::AppError,
    storage::{Db, chats, messages},
};

/// What a system asks for on behalf of one of its users.
pub struct ServiceMessage {
    pub user_id: String,
    pub message: String,
    pub chat_id: Option<ChatId>,
    pub character_id: Option<CharacterId>,
}

#[derive(Clone)]
pub struct Gateway {
    db: Db,
    systems: Systems,
    chats: Chats,
}

impl Gateway {
    pub fn new(db: Db, systems: Systems, chats: Chats) -> Self {
        Self { db, systems, chats }
    }

    /// Sends the user's message in their chat `chat_id`, or in a new chat with the character
    /// named (else the system's default). A new chat whose first message is refused (too long,
    /// rate limit, quota, streams) is deleted again: bad input leaves nothing behind.
    #[tracing::instrument(skip_all, fields(system.id = %system.id), err(level = "info"))]
    pub async fn send(&self, system: &System, request: ServiceMessage) -> Result<(ChatId, StartedTurn), AppError> {
        let external = ExternalUserId::parse(&request.user_id)?;
        MessageText::parse(&request.message, self.chats.max_message_chars()).map_err(|mut v| {
            v.field = "message";
            v
        })?;
        if let Some(id) = request.chat_id {
            // Someone never seen has no chats: 404, and no account is made for them.
            let user = self.systems.existing_external_user(system, &external).await?.ok_or(AppError::NotFound)?;
            let turn = self.chats.send(&systems::enabled(user)?, id, &request.message).await?;
            return Ok((id, turn));
        }
        let user = self.systems.external_user(system, &external).await?;
        let chat = self.new_chat(system, &user, request.character_id).await?;
        match self.chats.send(&user, chat.id, &request.message).await {
            Ok(turn) => Ok((chat.id, turn)),
            Err(refused) => {
                self.chats.delete(&user, chat.id).await?;
                Err(refused)
            }
        }
    }

    async fn new_chat(&self, system: &System, user: &User, character: Option<CharacterId>) -> Result<Chat, AppError> {
        let character = character.or(system.default_character_id).ok_or_else(|| {
            let message = "name a character_id: this system has no default character";
            RuleViolation::new("character_id", "character_required", message)
        })?;
        let request = CreateChat { character_id: character.get(), model: system.model.clone(), persona_id: None };
        self.chats.create(user, request).await
    }

    /// The user's chats active within `window`, latest first; none for a user never seen.
    pub async fn conversations(
        &self,
        system: &System,
        user_id: &str,
        window: Option<&DayRange>,
        page: Page,
    ) -> Result<(Vec<Chat>, i64), AppError> {
        let external = ExternalUserId::parse(user_id)?;
        match self.systems.existing_external_user(system, &external).await? {
            Some(user) => self.chats.list(&user, window, page).await,
            None => Ok((Vec::new(), 0)),
        }
    }

    /// A page of a chat's messages, if the chat is one of the system's users'.
    pub async fn messages(
        &self,
        system: &System,
        chat_id: ChatId,
        before_id: Option<MessageId>,
        page: Page,
    ) -> Result<MessagePage, AppError> {
        let owner = chats::owner_system(&self.db, chat_id).await?.flatten();
        if owner.as_deref() != Some(system.id.as_str()) {
            return Err(AppError::NotFound);
        }
        let items = messages::page(&self.db, chat_id, before_id, page.limit).await?;
        Ok(MessagePage::new(items, page.limit))
    }
}
