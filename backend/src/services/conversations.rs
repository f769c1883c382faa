//! The admins' history browser: chats across users, and any chat's messages.

use troupe_types::{AdminChat, ConversationExport, ExportedConversation, ExportedMessage};

use super::csv_document::csv_document;
use crate::{
    clock::rfc3339,
    domain::{ChatId, ConversationFilter, MessageId, MessagePage, Page},
    error::AppError,
    storage::{
        Db,
        conversations::{self, ConversationRow, ExportRow},
        messages,
    },
};

/// The most chats one export holds (narrow the filters for others).
pub const MAX_EXPORTED_CHATS: i64 = 1000;

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

    /// The messages of the latest `MAX_EXPORTED_CHATS` chats matching `filter`, one CSV row
    /// each.
    pub async fn export_csv(&self, filter: &ConversationFilter) -> Result<String, AppError> {
        export_csv(conversations::export(&self.db, filter, MAX_EXPORTED_CHATS).await?)
    }

    /// The latest `MAX_EXPORTED_CHATS` chats matching `filter` with their messages.
    pub async fn export_json(&self, filter: &ConversationFilter) -> Result<ConversationExport, AppError> {
        let rows = conversations::export(&self.db, filter, MAX_EXPORTED_CHATS).await?;
        Ok(ConversationExport { items: group_by_chat(rows) })
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
        system_id: r.system_id,
        external_user_id: r.external_id,
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

const CSV_HEADER: [&str; 15] = [
    "chat_id",
    "chat_title",
    "user_id",
    "username",
    "system_id",
    "external_user_id",
    "character",
    "model",
    "message_id",
    "role",
    "status",
    "content",
    "prompt_tokens",
    "completion_tokens",
    "created_at",
];

fn export_csv(rows: Vec<ExportRow>) -> Result<String, AppError> {
    let records = rows.into_iter().map(|r| {
        [
            r.chat_id.to_string(),
            r.chat_title,
            r.user_id.to_string(),
            r.username,
            r.system_id.unwrap_or_default(),
            r.external_id.unwrap_or_default(),
            r.character_name,
            r.model,
            r.message_id.to_string(),
            r.role,
            r.status,
            r.content,
            r.prompt_tokens.to_string(),
            r.completion_tokens.to_string(),
            rfc3339(r.created_at),
        ]
    });
    csv_document(CSV_HEADER, records)
}

/// Rows (grouped by chat already, in order) as conversations.
fn group_by_chat(rows: Vec<ExportRow>) -> Vec<ExportedConversation> {
    let mut conversations: Vec<ExportedConversation> = Vec::new();
    for r in rows {
        let message = ExportedMessage {
            id: r.message_id,
            role: r.role,
            content: r.content,
            status: r.status,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            created_at: rfc3339(r.created_at),
        };
        match conversations.last_mut() {
            Some(last) if last.chat_id == r.chat_id.get() => last.messages.push(message),
            _ => conversations.push(ExportedConversation {
                chat_id: r.chat_id.get(),
                title: r.chat_title,
                user_id: r.user_id.get(),
                username: r.username,
                system_id: r.system_id,
                external_user_id: r.external_id,
                character_name: r.character_name,
                model: r.model,
                messages: vec![message],
            }),
        }
    }
    conversations
}
