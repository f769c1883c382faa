//! Shared prompts: everyone reads the enabled ones; admins read all and write.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use troupe_types::PromptInput;

use crate::{
    domain::{PromptDraft, PromptId, SharedPrompt, User},
    error::AppError,
    storage::{Db, prompts},
};

#[derive(Clone)]
pub struct Prompts {
    db: Db,
    /// The enabled texts, read on every turn; dropped on every change made here, and
    /// re-read after `CACHE_TTL` to see changes made through other server instances.
    cache: Arc<Mutex<Option<CachedTexts>>>,
}

/// When the enabled texts were read, and the texts.
type CachedTexts = (Instant, Arc<Vec<String>>);

const CACHE_TTL: Duration = Duration::from_secs(5);

impl Prompts {
    pub fn new(db: Db) -> Self {
        Self { db, cache: Arc::default() }
    }

    pub async fn list(&self, viewer: &User) -> Result<Vec<SharedPrompt>, AppError> {
        Ok(prompts::list(&self.db, viewer.is_admin).await?)
    }

    /// The enabled prompts' texts in order, for prompt assembly.
    pub async fn enabled_texts(&self) -> Result<Arc<Vec<String>>, AppError> {
        if let Some((at, texts)) = self.cache.lock().expect("prompt cache lock").as_ref()
            && at.elapsed() < CACHE_TTL
        {
            return Ok(Arc::clone(texts));
        }
        let texts: Arc<Vec<String>> =
            Arc::new(prompts::list(&self.db, false).await?.into_iter().map(|p| p.fields.content).collect());
        *self.cache.lock().expect("prompt cache lock") = Some((Instant::now(), Arc::clone(&texts)));
        Ok(texts)
    }

    fn forget_cache(&self) {
        *self.cache.lock().expect("prompt cache lock") = None;
    }

    pub async fn create(&self, admin: &User, input: PromptInput) -> Result<SharedPrompt, AppError> {
        admin.require_admin()?;
        let prompt = prompts::insert(&self.db, &PromptDraft::parse(input)?).await?;
        self.forget_cache();
        Ok(prompt)
    }

    pub async fn update(&self, admin: &User, id: PromptId, input: PromptInput) -> Result<SharedPrompt, AppError> {
        admin.require_admin()?;
        let prompt = prompts::update(&self.db, id, &PromptDraft::parse(input)?).await?;
        self.forget_cache();
        Ok(prompt)
    }

    pub async fn delete(&self, admin: &User, id: PromptId) -> Result<(), AppError> {
        admin.require_admin()?;
        prompts::delete(&self.db, id).await?;
        self.forget_cache();
        Ok(())
    }
}
