//! Characters as cards and their pictures: import many cards at once (each file on its own),
//! export one as PNG or JSON, and the avatar upload behind both.

use troupe_types::{CardImport, CharacterInput, ErrorDetail, Visibility};

use super::Characters;
use crate::{
    domain::{CardFields, Character, CharacterDraft, CharacterId, User},
    error::AppError,
    services::{
        avatars::{self, Avatar},
        cards::{self, Card, CardError},
        lore,
    },
    storage::{
        StorageError,
        avatars::{self as stored_avatars, StoredAvatar},
        characters,
    },
};

/// Files one import may hold.
pub const MAX_IMPORT_FILES: usize = 100;
/// Bytes all of one import's files may hold together (the body limit of the route).
pub const MAX_IMPORT_BYTES: usize = 32 << 20;
/// Bytes an uploaded avatar may have.
pub const MAX_AVATAR_BYTES: usize = 5 << 20;

/// The formats a character exports to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum CardFormat {
    /// The picture with both cards in it (`chara` V2, `ccv3` V3).
    Png,
    /// Character Card V3.
    Json,
}

/// A card as a file.
pub struct CardFile {
    pub content_type: &'static str,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A file of an import: read, its picture made an avatar, its fields checked, its lorebook's
/// entries counted.
type Prepared = Result<(CharacterDraft, Option<Vec<u32>>, Option<Avatar>), ErrorDetail>;

impl Characters {
    /// Each file as a new character of `owner`'s, in the order given: one that is no card, or
    /// breaks a rule, is reported and stores nothing, and never stops the others.
    #[tracing::instrument(skip_all, fields(user.id = %owner.id, files = files.len()), err(level = "info"))]
    pub async fn import(
        &self,
        owner: &User,
        files: Vec<(String, Vec<u8>)>,
        visibility: Visibility,
    ) -> Result<Vec<CardImport>, AppError> {
        if files.len() > MAX_IMPORT_FILES {
            return Err(AppError::TooLarge(format!("at most {MAX_IMPORT_FILES} files in one import")));
        }
        self.create_limit.check(owner.id).await?;
        let _permit = self.bulk_writes.admit(owner.id).await?;
        // Reading cards and re-encoding pictures is CPU work: off the async workers, in parallel.
        let prepared = futures::future::join_all(files.into_iter().map(|(file_name, bytes)| {
            let characters = self.clone();
            async move {
                let prepared = tokio::task::spawn_blocking(move || characters.prepare(&bytes, visibility))
                    .await
                    .map_err(|e| AppError::Internal(e.into()))?;
                Ok::<_, AppError>((file_name, prepared))
            }
        }))
        .await;
        let mut items = Vec::with_capacity(prepared.len());
        for result in prepared {
            let (file_name, prepared) = result?;
            let item = match prepared {
                Ok((draft, book_tokens, avatar)) => {
                    let avatar = avatar.as_ref().map(|a| (a.content_type, a.bytes.as_slice()));
                    let book_tokens = book_tokens.as_deref();
                    match characters::insert_with_avatar(&self.db, owner.id, &draft, book_tokens, avatar).await {
                        Ok(character) => CardImport { file_name, character: Some(character.into()), error: None },
                        // The files before it stay; this one, and each after it that does not fit, is reported.
                        Err(StorageError::StorageQuotaExceeded) => {
                            let error = AppError::StorageQuotaExceeded;
                            let detail = ErrorDetail {
                                code: "storage_quota_exceeded".into(),
                                message: error.to_string(),
                                field: None,
                            };
                            CardImport { file_name, character: None, error: Some(detail) }
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(error) => CardImport { file_name, character: None, error: Some(error) },
            };
            items.push(item);
        }
        Ok(items)
    }

    /// One file of an import, up to what is stored.
    fn prepare(&self, bytes: &[u8], visibility: Visibility) -> Prepared {
        let detail = |code: &str, message: String, field: Option<&str>| ErrorDetail {
            code: code.to_owned(),
            message,
            field: field.map(str::to_owned),
        };
        let card_error = |e: CardError| detail(e.code(), e.to_string(), None);
        let Card { fields, image } = cards::read(bytes).map_err(card_error)?;
        let avatar = image
            .map(|image| avatars::normalize(&image))
            .transpose()
            .map_err(|e| detail("invalid_image", e.to_string(), None))?;
        let mut input = CharacterInput { visibility, ..fields.input };
        // A model this server does not offer is left out rather than refusing the card.
        input.model = input.model.filter(|m| self.catalog.get(m).is_some());
        let kept = CardFields { extra: fields.extra, ..CardFields::default() };
        let draft = CharacterDraft::parse_over(input, &kept).map_err(|v| detail(v.code, v.message, Some(v.field)))?;
        let book_tokens = draft.card.character_book.as_ref().map(lore::count_entries);
        Ok((draft, book_tokens, avatar))
    }

    /// The character as a card file (PNG with its avatar, or a generated picture; or JSON).
    pub async fn export(&self, viewer: &User, id: CharacterId, format: CardFormat) -> Result<CardFile, AppError> {
        let character = self.get(viewer, id).await?;
        let stem = file_stem(character.name());
        match format {
            CardFormat::Json => Ok(CardFile {
                content_type: "application/json; charset=utf-8",
                file_name: format!("{stem}.json"),
                bytes: cards::to_json(&character).into_bytes(),
            }),
            CardFormat::Png => {
                let avatar = stored_avatars::find(&self.db, id).await?;
                let bytes = tokio::task::spawn_blocking(move || png_card(&character, avatar))
                    .await
                    .map_err(|e| AppError::Internal(e.into()))?;
                Ok(CardFile { content_type: "image/png", file_name: format!("{stem}.png"), bytes })
            }
        }
    }

    /// Replaces the character's avatar with `bytes` (decoded and re-encoded).
    #[tracing::instrument(skip_all, fields(user.id = %editor.id, character.id = %id), err(level = "info"))]
    pub async fn set_avatar(&self, editor: &User, id: CharacterId, bytes: Vec<u8>) -> Result<Character, AppError> {
        self.editable(editor, id).await?;
        if bytes.len() > MAX_AVATAR_BYTES {
            return Err(AppError::TooLarge(format!("an avatar may have at most {MAX_AVATAR_BYTES} bytes")));
        }
        let avatar = tokio::task::spawn_blocking(move || avatars::normalize(&bytes))
            .await
            .map_err(|e| AppError::Internal(e.into()))?
            .map_err(|e| AppError::InvalidImage(e.to_string()))?;
        stored_avatars::put(&self.db, id, avatar.content_type, &avatar.bytes).await?;
        self.get(editor, id).await
    }

    #[tracing::instrument(skip_all, fields(user.id = %editor.id, character.id = %id), err(level = "info"))]
    pub async fn delete_avatar(&self, editor: &User, id: CharacterId) -> Result<(), AppError> {
        self.editable(editor, id).await?;
        Ok(stored_avatars::delete(&self.db, id).await?)
    }

    /// The avatar of a character the viewer may see; `NotFound` when there is none.
    pub async fn avatar(&self, viewer: &User, id: CharacterId) -> Result<StoredAvatar, AppError> {
        self.get(viewer, id).await?;
        stored_avatars::find(&self.db, id).await?.ok_or(AppError::NotFound)
    }

    /// Only the avatar's tag, for a conditional request.
    pub async fn avatar_etag(&self, viewer: &User, id: CharacterId) -> Result<Option<String>, AppError> {
        self.get(viewer, id).await?;
        Ok(stored_avatars::etag(&self.db, id).await?)
    }
}

fn png_card(character: &Character, avatar: Option<StoredAvatar>) -> Vec<u8> {
    let pixels = avatar.and_then(|a| avatars::rgba(&a.image).ok());
    let (rgba, width, height) = pixels.unwrap_or_else(|| avatars::placeholder(character.name()));
    cards::to_png(character, &rgba, width, height)
}

/// A file name from a character's name: letters, digits, `-` and `_`, else `character`.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .chars()
        .take(60)
        .collect();
    if stem.is_empty() { "character".into() } else { stem }
}
