//! Characters: owners edit, everyone may read public ones, admins may do anything. As cards
//! and with their pictures: `cards`.

pub mod cards;

use std::sync::Arc;

use troupe_types::{CharacterInput, rules::RuleViolation};

use super::{catalog::ModelCatalog, limits::CreateLimit};
use crate::{
    domain::{CardFields, Character, CharacterDraft, CharacterFilter, CharacterId, Page, User},
    error::AppError,
    storage::{Db, characters},
};

#[derive(Clone)]
pub struct Characters {
    db: Db,
    catalog: Arc<ModelCatalog>,
    create_limit: CreateLimit,
}

impl Characters {
    pub fn new(db: Db, catalog: Arc<ModelCatalog>, create_limit: CreateLimit) -> Self {
        Self { db, catalog, create_limit }
    }

    #[tracing::instrument(skip_all, fields(user.id = %owner.id), err(level = "info"))]
    pub async fn create(&self, owner: &User, input: CharacterInput) -> Result<Character, AppError> {
        let draft = self.parse(input, &CardFields::default())?;
        self.create_limit.check(owner.id).await?;
        Ok(characters::insert(&self.db, owner.id, &draft).await?)
    }

    /// A character the viewer may see: theirs, public, or any for an admin. Others' private
    /// characters are `NotFound`, as if they did not exist.
    pub async fn get(&self, viewer: &User, id: CharacterId) -> Result<Character, AppError> {
        let character = characters::find(&self.db, id).await?.ok_or(AppError::NotFound)?;
        if character.owner_id == viewer.id || character.is_public() || viewer.is_admin {
            Ok(character)
        } else {
            Err(AppError::NotFound)
        }
    }

    pub async fn list(
        &self,
        viewer: &User,
        filter: &CharacterFilter,
        page: Page,
    ) -> Result<(Vec<Character>, i64), AppError> {
        Ok(characters::list_visible(&self.db, viewer.id, filter, page.limit, page.offset).await?)
    }

    #[tracing::instrument(skip_all, fields(user.id = %editor.id, character.id = %id), err(level = "info"))]
    pub async fn update(&self, editor: &User, id: CharacterId, input: CharacterInput) -> Result<Character, AppError> {
        let current = self.editable(editor, id).await?;
        let draft = self.parse(input, &current.fields.card)?;
        Ok(characters::update(&self.db, id, &draft).await?)
    }

    #[tracing::instrument(skip_all, fields(user.id = %editor.id, character.id = %id), err(level = "info"))]
    pub async fn delete(&self, editor: &User, id: CharacterId) -> Result<(), AppError> {
        self.editable(editor, id).await?;
        Ok(characters::mark_deleted(&self.db, id).await?)
    }

    /// Owners and admins may change a character; others get 403 for public ones (which they
    /// can see) and 404 for private ones (which they cannot).
    async fn editable(&self, editor: &User, id: CharacterId) -> Result<Character, AppError> {
        let character = self.get(editor, id).await?;
        if character.owner_id == editor.id || editor.is_admin {
            Ok(character)
        } else {
            Err(AppError::Forbidden("only its owner can change this character"))
        }
    }

    /// `input` over the card fields `kept` (see `CharacterDraft::parse_over`), with a model the
    /// catalogue offers.
    fn parse(&self, input: CharacterInput, kept: &CardFields) -> Result<CharacterDraft, AppError> {
        let draft = CharacterDraft::parse_over(input, kept)?;
        if let Some(model) = &draft.model {
            self.known_model(model)?;
        }
        Ok(draft)
    }

    fn known_model(&self, model: &str) -> Result<(), RuleViolation> {
        known_model(&self.catalog, model)
    }
}

/// 422 `unknown_model` unless the catalogue lists `model`.
pub fn known_model(catalog: &ModelCatalog, model: &str) -> Result<(), RuleViolation> {
    match catalog.get(model) {
        Some(_) => Ok(()),
        None => Err(RuleViolation {
            field: "model",
            code: "unknown_model",
            message: format!("model `{model}` is not offered; see /api/models"),
        }),
    }
}
