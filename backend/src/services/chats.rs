//! Chats and their messages, as their owner sees them.

use std::sync::Arc;

use troupe_types::{CreateChat, UpdateChat, rules};

use super::{
    Characters, Turns, catalog::ModelCatalog, characters::known_model, limits::CreateLimit,
    prompt_assembly::fill_names, tokens, turns::StartedTurn,
};
use crate::{
    domain::{CharacterId, Chat, ChatId, MessageId, MessagePage, Page, User},
    error::AppError,
    storage::{Db, chats},
};

#[derive(Clone)]
pub struct Chats {
    db: Db,
    catalog: Arc<ModelCatalog>,
    characters: Characters,
    create_limit: CreateLimit,
    turns: Turns,
}

impl Chats {
    pub fn new(
        db: Db,
        catalog: Arc<ModelCatalog>,
        characters: Characters,
        create_limit: CreateLimit,
        turns: Turns,
    ) -> Self {
        Self { db, catalog, characters, create_limit, turns }
    }

    /// Starts a chat with a character the user can see; its greeting becomes the first
    /// message (not charged).
    #[tracing::instrument(skip_all, fields(user.id = %user.id), err(level = "info"))]
    pub async fn create(&self, user: &User, request: CreateChat) -> Result<Chat, AppError> {
        let character = self.characters.get(user, CharacterId::new(request.character_id)).await?;
        self.create_limit.check(user.id)?;
        let model = match request.model.or_else(|| character.fields.model.clone()) {
            Some(model) => {
                known_model(&self.catalog, &model)?;
                model
            }
            None => self.catalog.default_model().id.clone(),
        };
        let greeting = fill_names(&character.fields.greeting, character.name(), &user.username);
        let greeting = greeting.trim().to_owned();
        let greeting_tokens = tokens::count_off_executor(greeting.clone()).await as i64;
        let greeting = Some(greeting.as_str()).filter(|g| !g.is_empty()).map(|g| (g, greeting_tokens));
        Ok(chats::create(&self.db, user.id, character.id, character.name(), &model, greeting).await?)
    }

    pub async fn list(&self, user: &User, page: Page) -> Result<(Vec<Chat>, i64), AppError> {
        Ok(chats::list_owned(&self.db, user.id, page.limit, page.offset).await?)
    }

    /// The user's own chat; anyone else's is `NotFound`.
    pub async fn get(&self, user: &User, id: ChatId) -> Result<Chat, AppError> {
        chats::find_owned(&self.db, id, user.id).await?.ok_or(AppError::NotFound)
    }

    pub async fn update(&self, user: &User, id: ChatId, change: UpdateChat) -> Result<Chat, AppError> {
        self.get(user, id).await?;
        let title = change.title.map(|t| t.trim().to_owned());
        if let Some(title) = &title {
            rules::check_text("title", title, rules::CHAT_TITLE_MAX_CHARS, true)?;
        }
        if let Some(model) = &change.model {
            known_model(&self.catalog, model)?;
        }
        chats::update(&self.db, id, title.as_deref(), change.model.as_deref()).await?;
        self.get(user, id).await
    }

    /// Deletes the chat and stops its replies under way (each is charged for what it generated).
    pub async fn delete(&self, user: &User, id: ChatId) -> Result<(), AppError> {
        self.get(user, id).await?;
        chats::delete(&self.db, id).await?;
        self.turns.stop(id);
        Ok(())
    }

    pub async fn messages(
        &self,
        user: &User,
        id: ChatId,
        before_id: Option<MessageId>,
        page: Page,
    ) -> Result<MessagePage, AppError> {
        self.get(user, id).await?;
        let items = chats::messages_page(&self.db, id, before_id, page.limit).await?;
        Ok(MessagePage::new(items, page.limit))
    }

    /// Sends a message in the user's own chat (see `Turns::send`).
    pub async fn send(&self, user: &User, chat_id: ChatId, content: &str) -> Result<StartedTurn, AppError> {
        let chat = self.get(user, chat_id).await?;
        self.turns.send(user, chat, content).await
    }
}
