//! Characters. Deleting one only marks it: chats that used it keep working.

use sqlx::FromRow;
use troupe_types::Visibility;

use super::{
    Db, Lock, StorageError, avatars, from_json, like_pattern, lorebooks::EntryTokens, text::DbText, to_json, users,
};
use crate::{
    clock::now_millis,
    domain::{CardFields, Character, CharacterDraft, CharacterFilter, CharacterId, UserId},
};

const COLUMNS: &str = "id, owner_id, name, description, personality, scenario, system_prompt, greeting, \
                       example_dialogue, avatar_url, tags, visibility, model, alternate_greetings, \
                       post_history_instructions, creator_notes, creator, character_version, extensions, \
                       character_book, card_extra, \
                       CAST(CASE WHEN EXISTS (SELECT 1 FROM character_avatars a \
                       WHERE a.character_id = characters.id) THEN 1 ELSE 0 END AS BIGINT) AS has_avatar, \
                       created_at, updated_at, revision";

#[derive(FromRow)]
struct CharacterRow {
    id: CharacterId,
    owner_id: UserId,
    name: String,
    description: String,
    personality: String,
    scenario: String,
    system_prompt: String,
    greeting: String,
    example_dialogue: String,
    avatar_url: Option<String>,
    tags: String,
    visibility: String,
    model: Option<String>,
    alternate_greetings: String,
    post_history_instructions: String,
    creator_notes: String,
    creator: String,
    character_version: String,
    extensions: String,
    character_book: Option<String>,
    card_extra: String,
    has_avatar: i64,
    created_at: i64,
    updated_at: i64,
    revision: i64,
}

impl TryFrom<CharacterRow> for Character {
    type Error = StorageError;

    fn try_from(r: CharacterRow) -> Result<Self, StorageError> {
        let row = format!("character {}", r.id);
        let card = CardFields {
            alternate_greetings: from_json(&row, "alternate_greetings", &r.alternate_greetings)?,
            post_history_instructions: r.post_history_instructions,
            creator_notes: r.creator_notes,
            creator: r.creator,
            character_version: r.character_version,
            extensions: from_json(&row, "extensions", &r.extensions)?,
            character_book: r
                .character_book
                .as_deref()
                .map(|book| from_json(&row, "character_book", book))
                .transpose()?,
            extra: from_json(&row, "card_extra", &r.card_extra)?,
        };
        Ok(Self {
            id: r.id,
            owner_id: r.owner_id,
            fields: CharacterDraft {
                name: r.name,
                description: r.description,
                personality: r.personality,
                scenario: r.scenario,
                system_prompt: r.system_prompt,
                greeting: r.greeting,
                example_dialogue: r.example_dialogue,
                avatar_url: r.avatar_url,
                tags: from_json(&row, "tags", &r.tags)?,
                visibility: Visibility::from_db(&r.visibility)?,
                model: r.model,
                card,
            },
            has_avatar: r.has_avatar != 0,
            created_at: r.created_at,
            updated_at: r.updated_at,
            revision: r.revision,
        })
    }
}

/// `book_tokens`: the size of each entry of the draft's lorebook (`lore::count_entries`), kept
/// so that turns never count them; `None` leaves them to be counted when first needed.
#[tracing::instrument(skip_all, fields(user.id = %owner_id), err(level = "warn"))]
pub async fn insert(
    db: &Db,
    owner_id: UserId,
    draft: &CharacterDraft,
    book_tokens: Option<&[u32]>,
) -> Result<Character, StorageError> {
    insert_with(db.writer(), owner_id, draft, book_tokens).await
}

async fn insert_with<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    owner_id: UserId,
    draft: &CharacterDraft,
    book_tokens: Option<&[u32]>,
) -> Result<Character, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO characters (owner_id, name, description, personality, scenario, system_prompt, greeting, \
         example_dialogue, avatar_url, tags, visibility, model, alternate_greetings, post_history_instructions, \
         creator_notes, creator, character_version, extensions, character_book, card_extra, created_at, updated_at, \
         book_tokens) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21, \
         $22) RETURNING {COLUMNS}"
    ));
    let row: CharacterRow = bind_draft(sqlx::query_as(sql).bind(owner_id), draft)
        .bind(now_millis())
        .bind(book_tokens.map(|counts| to_json(&counts)))
        .fetch_one(executor)
        .await?;
    row.try_into()
}

/// Creates a character with its avatar (`(content type, image)`), both or neither.
#[tracing::instrument(skip_all, fields(user.id = %owner_id), err(level = "warn"))]
pub async fn insert_with_avatar(
    db: &Db,
    owner_id: UserId,
    draft: &CharacterDraft,
    book_tokens: Option<&[u32]>,
    avatar: Option<(&str, &[u8])>,
) -> Result<Character, StorageError> {
    let mut tx = db.writer().begin().await?;
    let mut character = insert_with(&mut *tx, owner_id, draft, book_tokens).await?;
    if let Some((content_type, image)) = avatar {
        avatars::put_with(&mut *tx, character.id, content_type, image).await?;
        character.has_avatar = true;
    }
    tx.commit().await?;
    Ok(character)
}

/// Creates `drafts` as characters of the built-in account if the database has never had a
/// character (deleted ones count); returns how many it created. Under a lock, so instances
/// starting together create them once.
pub async fn insert_starters(db: &Db, drafts: &[CharacterDraft]) -> Result<usize, StorageError> {
    let mut tx = db.writer().begin().await?;
    db.lock_for(&mut tx, Lock::StarterCharacters).await?;
    let any: Option<CharacterId> =
        sqlx::query_scalar("SELECT id FROM characters LIMIT 1").fetch_optional(&mut *tx).await?;
    if any.is_some() {
        return Ok(0);
    }
    let owner = users::builtin_owner(&mut tx).await?;
    for draft in drafts {
        insert_with(&mut *tx, owner, draft, None).await?;
    }
    tx.commit().await?;
    Ok(drafts.len())
}

/// Replaces every editable field; `book_tokens` as for `insert`, except that `None` keeps the
/// stored ones (the book is unchanged).
#[tracing::instrument(skip_all, fields(character.id = %id), err(level = "warn"))]
pub async fn update(
    db: &Db,
    id: CharacterId,
    draft: &CharacterDraft,
    book_tokens: Option<&[u32]>,
) -> Result<Character, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE characters SET name = $2, description = $3, personality = $4, scenario = $5, system_prompt = $6, \
         greeting = $7, example_dialogue = $8, avatar_url = $9, tags = $10, visibility = $11, model = $12, \
         alternate_greetings = $13, post_history_instructions = $14, creator_notes = $15, creator = $16, \
         character_version = $17, extensions = $18, character_book = $19, card_extra = $20, updated_at = $21, \
         book_tokens = COALESCE($22, book_tokens) WHERE id = $1 AND deleted_at IS NULL RETURNING {COLUMNS}"
    ));
    let row: Option<CharacterRow> = bind_draft(sqlx::query_as(sql).bind(id), draft)
        .bind(now_millis())
        .bind(book_tokens.map(|counts| to_json(&counts)))
        .fetch_optional(db.writer())
        .await?;
    row.map(Character::try_from).transpose()?.ok_or(StorageError::NotFound)
}

type AnyQueryAs<'q, T> = sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments>;

/// Binds the draft's fields in column order, after whatever the query bound first.
fn bind_draft<'q, T>(query: AnyQueryAs<'q, T>, d: &'q CharacterDraft) -> AnyQueryAs<'q, T> {
    query
        .bind(d.name.as_str())
        .bind(d.description.as_str())
        .bind(d.personality.as_str())
        .bind(d.scenario.as_str())
        .bind(d.system_prompt.as_str())
        .bind(d.greeting.as_str())
        .bind(d.example_dialogue.as_str())
        .bind(d.avatar_url.as_deref())
        .bind(to_json(&d.tags))
        .bind(d.visibility.to_db())
        .bind(d.model.as_deref())
        .bind(to_json(&d.card.alternate_greetings))
        .bind(d.card.post_history_instructions.as_str())
        .bind(d.card.creator_notes.as_str())
        .bind(d.card.creator.as_str())
        .bind(d.card.character_version.as_str())
        .bind(to_json(&d.card.extensions))
        .bind(d.card.character_book.as_ref().map(to_json))
        .bind(to_json(&d.card.extra))
}

/// A character that has not been deleted.
#[tracing::instrument(skip_all, fields(character.id = %id), err(level = "warn"))]
pub async fn find(db: &Db, id: CharacterId) -> Result<Option<Character>, StorageError> {
    find_where(db, id, "AND deleted_at IS NULL").await
}

/// A character even if deleted: its chats still talk to it.
pub async fn find_including_deleted(db: &Db, id: CharacterId) -> Result<Option<Character>, StorageError> {
    find_where(db, id, "").await
}

/// A character even if deleted, with its lorebook entries' stored sizes (see `insert`).
#[tracing::instrument(skip_all, fields(character.id = %id), err(level = "warn"))]
pub async fn for_turn(db: &Db, id: CharacterId) -> Result<Option<(Character, EntryTokens)>, StorageError> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        character: CharacterRow,
        book_tokens: Option<String>,
    }
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS}, book_tokens FROM characters WHERE id = $1"));
    let Some(row): Option<Row> = sqlx::query_as(sql).bind(id).fetch_optional(db.pool()).await? else {
        return Ok(None);
    };
    let place = format!("character {id}");
    let book_tokens = row.book_tokens.as_deref().map(|t| from_json(&place, "book_tokens", t)).transpose()?;
    Ok(Some((row.character.try_into()?, book_tokens)))
}

async fn find_where(db: &Db, id: CharacterId, extra: &'static str) -> Result<Option<Character>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM characters WHERE id = $1 {extra}"));
    let row: Option<CharacterRow> = sqlx::query_as(sql).bind(id).fetch_optional(db.pool()).await?;
    row.map(Character::try_from).transpose()
}

#[tracing::instrument(skip_all, fields(character.id = %id), err(level = "warn"))]
pub async fn mark_deleted(db: &Db, id: CharacterId) -> Result<(), StorageError> {
    let done = sqlx::query("UPDATE characters SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .bind(now_millis())
        .execute(db.writer())
        .await?;
    if done.rows_affected() == 0 { Err(StorageError::NotFound) } else { Ok(()) }
}

/// The viewer's own characters and the public ones, newest first.
#[tracing::instrument(skip_all, fields(user.id = %viewer), err(level = "warn"))]
pub async fn list_visible(
    db: &Db,
    viewer: UserId,
    filter: &CharacterFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Character>, i64), StorageError> {
    const WHERE: &str = "WHERE deleted_at IS NULL \
         AND (owner_id = $1 OR ($2 = 0 AND visibility = 'public')) \
         AND ($3 = '' OR lower(name) LIKE $3 ESCAPE '\\' OR lower(description) LIKE $3 ESCAPE '\\') \
         AND ($4 = '' OR lower(tags) LIKE $4 ESCAPE '\\')";
    let query = filter.query.as_deref().map(|q| like_pattern(&q.to_lowercase())).unwrap_or_default();
    let tag =
        filter.tag.as_deref().map(|t| like_pattern(&format!("\"{}\"", t.trim().to_lowercase()))).unwrap_or_default();
    let mine = i16::from(filter.mine);
    let list_sql =
        sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM characters {WHERE} ORDER BY id DESC LIMIT $5 OFFSET $6"));
    let rows: Vec<CharacterRow> = sqlx::query_as(list_sql)
        .bind(viewer)
        .bind(mine)
        .bind(&query)
        .bind(&tag)
        .bind(limit)
        .bind(offset)
        .fetch_all(db.pool())
        .await?;
    let count_sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM characters {WHERE}"));
    let total: i64 =
        sqlx::query_scalar(count_sql).bind(viewer).bind(mine).bind(&query).bind(&tag).fetch_one(db.pool()).await?;
    Ok((rows.into_iter().map(Character::try_from).collect::<Result<_, _>>()?, total))
}

/// A character as `/v1/models` lists it.
#[derive(Debug, FromRow)]
pub struct CharacterModel {
    pub id: CharacterId,
    pub created_at: i64,
    pub owner: String,
}

/// Every character `viewer` may chat with (their own and the public ones), oldest first.
pub async fn models_visible(db: &Db, viewer: UserId) -> Result<Vec<CharacterModel>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.created_at, u.username AS owner FROM characters c JOIN users u ON u.id = c.owner_id \
         WHERE c.deleted_at IS NULL AND (c.owner_id = $1 OR c.visibility = 'public') ORDER BY c.id",
    )
    .bind(viewer)
    .fetch_all(db.pool())
    .await?)
}
