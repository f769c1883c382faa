//! Characters: owners edit, everyone may read public ones, admins may do anything. As cards
//! and with their pictures: `cards`.

pub mod cards;

use std::sync::Arc;

use troupe_types::{CharacterInput, rules::RuleViolation};

use super::{
    bulk::BulkWrites,
    catalog::ModelCatalog,
    limits::CreateLimit,
    lore::{self, PreparedBook},
    revisions::{RevisionCache, Weigh},
};
use crate::{
    domain::{CardFields, Character, CharacterDraft, CharacterFilter, CharacterId, Page, User},
    error::AppError,
    storage::{Db, characters},
};

/// What the characters chats talk to may take in memory (`Characters::for_turn`).
const TURN_CACHE_BYTES: usize = 128 << 20;

#[derive(Clone)]
pub struct Characters {
    db: Db,
    catalog: Arc<ModelCatalog>,
    create_limit: CreateLimit,
    /// Card imports are bulk writes.
    bulk_writes: BulkWrites,
    /// Characters as turns use them, kept while their revision is current.
    for_turns: Arc<RevisionCache<CharacterId, TurnCharacter>>,
}

/// A character as chat turns use it: its fields, and its lorebook ready to scan.
pub struct TurnCharacter {
    pub character: Character,
    pub book: Option<PreparedBook>,
}

impl Weigh for TurnCharacter {
    fn weight(&self) -> usize {
        let f = &self.character.fields;
        let texts = [&f.description, &f.personality, &f.scenario, &f.system_prompt, &f.example_dialogue, &f.greeting];
        texts.iter().map(|t| t.len()).sum::<usize>() + self.book.as_ref().map_or(0, Weigh::weight)
    }
}

impl Characters {
    pub fn new(db: Db, catalog: Arc<ModelCatalog>, create_limit: CreateLimit, bulk_writes: BulkWrites) -> Self {
        Self { db, catalog, create_limit, bulk_writes, for_turns: Arc::new(RevisionCache::new(TURN_CACHE_BYTES)) }
    }

    #[tracing::instrument(skip_all, fields(user.id = %owner.id), err(level = "info"))]
    pub async fn create(&self, owner: &User, input: CharacterInput) -> Result<Character, AppError> {
        let draft = self.parse(input, &CardFields::default())?;
        self.create_limit.check(owner.id).await?;
        let book_tokens = count_book(&draft).await?;
        Ok(characters::insert(&self.db, owner.id, &draft, book_tokens.as_deref()).await?)
    }

    /// Character `id` as chat turns use it, as of `revision` (which a turn reads with its
    /// chat); a deleted one too, as its chats go on.
    #[tracing::instrument(skip_all, fields(character.id = %id))]
    pub async fn for_turn(&self, id: CharacterId, revision: i64) -> Result<Arc<TurnCharacter>, AppError> {
        let load = async {
            let (character, book_tokens) = characters::for_turn(&self.db, id).await?.ok_or(AppError::NotFound)?;
            let Some(book) = character.fields.card.character_book.clone() else {
                return Ok(TurnCharacter { character, book: None });
            };
            let book = tokio::task::spawn_blocking(move || PreparedBook::new(book, book_tokens))
                .await
                .map_err(|e| AppError::Internal(e.into()))?;
            Ok(TurnCharacter { character, book: Some(book) })
        };
        self.for_turns.get_or_load(id, revision, load).await
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
        // An unchanged book keeps its stored counts (counting a large one takes seconds).
        let book_tokens = match draft.card.character_book == current.fields.card.character_book {
            true => None,
            false => Some(count_book(&draft).await?.unwrap_or_default()),
        };
        Ok(characters::update(&self.db, id, &draft, book_tokens.as_deref()).await?)
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

/// The size of each entry of the draft's lorebook, if it has one, counted off the executor.
async fn count_book(draft: &CharacterDraft) -> Result<Option<Vec<u32>>, AppError> {
    let Some(book) = draft.card.character_book.clone() else {
        return Ok(None);
    };
    let counts = tokio::task::spawn_blocking(move || lore::count_entries(&book));
    Ok(Some(counts.await.map_err(|e| AppError::Internal(e.into()))?))
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
