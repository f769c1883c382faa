//! The admins' history browser: chats across users, and any chat's messages.

use troupe_types::AdminChat;

use crate::{
    clock::rfc3339,
    domain::{ChatId, ConversationFilter, MessageId, MessagePage, Page},
    error::AppError,
    storage::{
        Db,
        conversations::{self, ConversationRow},
        messages,
    },
};

#[derive(Clone)]
pub struct Conversations {
    db: Db,
}

impl Conversations {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Chats matching `filter`, latest activity first, with their tokens.
    pub async fn list(&self, filter: &ConversationFilter, page: Page) -> Result<(Vec<AdminChat>, i64), AppError> {
        let (rows, total) = conversations::list(&self.db, filter, page.limit, page.offset).await?;
        Ok((rows.into_iter().map(admin_chat).collect(), total))
    }

    /// Any chat's messages, whoever it belongs to.
    pub async fn messages(
        &self,
        chat_id: ChatId,
        before_id: Option<MessageId>,
        page: Page,
    ) -> Result<MessagePage, AppError> {
        if !conversations::exists(&self.db, chat_id).await? {
            return Err(AppError::NotFound);
        }
        let items = messages::page(&self.db, chat_id, before_id, page.limit).await?;
        Ok(MessagePage::new(items, page.limit))
    }
}

fn admin_chat(r: ConversationRow) -> AdminChat {
    AdminChat {
        id: r.id.get(),
        user_id: r.user_id.get(),
        username: r.username,
        character_id: r.character_id.get(),
        character_name: r.character_name,
        title: r.title,
        model: r.model,
        created_at: rfc3339(r.created_at),
        last_message_at: rfc3339(r.last_message_at),
        message_count: r.message_count,
        total_tokens: r.total_tokens,
    }
}
