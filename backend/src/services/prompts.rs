//! Shared prompts: everyone reads the enabled ones; admins read all and write.

use troupe_types::PromptInput;

use crate::{
    domain::{PromptDraft, PromptId, SharedPrompt, User},
    error::AppError,
    storage::{Db, prompts},
};

#[derive(Clone)]
pub struct Prompts {
    db: Db,
}

const ADMINS_ONLY: &str = "only admins can change shared prompts";

impl Prompts {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn list(&self, viewer: &User) -> Result<Vec<SharedPrompt>, AppError> {
        Ok(prompts::list(&self.db, viewer.is_admin).await?)
    }

    /// The enabled prompts' texts in order, for prompt assembly.
    pub async fn enabled_texts(&self) -> Result<Vec<String>, AppError> {
        Ok(prompts::list(&self.db, false).await?.into_iter().map(|p| p.fields.content).collect())
    }

    pub async fn create(&self, admin: &User, input: PromptInput) -> Result<SharedPrompt, AppError> {
        require_admin(admin)?;
        Ok(prompts::insert(&self.db, &PromptDraft::parse(input)?).await?)
    }

    pub async fn update(&self, admin: &User, id: PromptId, input: PromptInput) -> Result<SharedPrompt, AppError> {
        require_admin(admin)?;
        Ok(prompts::update(&self.db, id, &PromptDraft::parse(input)?).await?)
    }

    pub async fn delete(&self, admin: &User, id: PromptId) -> Result<(), AppError> {
        require_admin(admin)?;
        Ok(prompts::delete(&self.db, id).await?)
    }
}

fn require_admin(user: &User) -> Result<(), AppError> {
    if user.is_admin { Ok(()) } else { Err(AppError::Forbidden(ADMINS_ONLY)) }
}
