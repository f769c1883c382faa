//! Shared prompts: everyone reads the enabled ones; admins read all and write.

use std::sync::Arc;

use troupe_types::PromptInput;

use super::revisions::RevisionCache;
use crate::{
    domain::{PromptDraft, PromptId, SharedPrompt, User},
    error::AppError,
    storage::{Db, prompts},
};

#[derive(Clone)]
pub struct Prompts {
    db: Db,
    /// The enabled texts, read on every turn, kept while their revision is current.
    cache: Arc<RevisionCache<(), Vec<String>>>,
}

impl Prompts {
    pub fn new(db: Db) -> Self {
        // One value: its size does not matter.
        Self { db, cache: Arc::new(RevisionCache::new(usize::MAX)) }
    }

    pub async fn list(&self, viewer: &User) -> Result<Vec<SharedPrompt>, AppError> {
        Ok(prompts::list(&self.db, viewer.is_admin).await?)
    }

    /// The enabled prompts' texts in order, for prompt assembly, as of `revision` (which a
    /// chat turn reads with its chat).
    pub async fn enabled_texts_at(&self, revision: i64) -> Result<Arc<Vec<String>>, AppError> {
        let read = async { Ok(prompts::list(&self.db, false).await?.into_iter().map(|p| p.fields.content).collect()) };
        self.cache.get_or_load((), revision, read).await
    }

    /// The enabled prompts' texts in order, their revision read first.
    pub async fn enabled_texts(&self) -> Result<Arc<Vec<String>>, AppError> {
        self.enabled_texts_at(prompts::revision(&self.db).await?).await
    }

    pub async fn create(&self, admin: &User, input: PromptInput) -> Result<SharedPrompt, AppError> {
        admin.require_admin()?;
        Ok(prompts::insert(&self.db, &PromptDraft::parse(input)?).await?)
    }

    pub async fn update(&self, admin: &User, id: PromptId, input: PromptInput) -> Result<SharedPrompt, AppError> {
        admin.require_admin()?;
        Ok(prompts::update(&self.db, id, &PromptDraft::parse(input)?).await?)
    }

    pub async fn delete(&self, admin: &User, id: PromptId) -> Result<(), AppError> {
        admin.require_admin()?;
        Ok(prompts::delete(&self.db, id).await?)
    }
}
