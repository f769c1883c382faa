//! Characters and shared prompts.

use std::collections::BTreeMap;

use serde_json::Value;
use troupe_types::{
    CharacterInput, Lorebook, PromptInput, Visibility,
    rules::{self, RuleViolation},
};

use super::{CharacterId, PromptId, UserId, lorebook};
use crate::clock::{Millis, rfc3339};

#[derive(Clone, Debug, PartialEq)]
pub struct Character {
    pub id: CharacterId,
    pub owner_id: UserId,
    pub fields: CharacterDraft,
    /// An uploaded or imported image is stored.
    pub has_avatar: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// One more on every change: what copies kept in memory are checked against.
    pub revision: i64,
}

impl Character {
    pub fn name(&self) -> &str {
        &self.fields.name
    }

    pub fn is_public(&self) -> bool {
        self.fields.visibility == Visibility::Public
    }
}

/// A character's editable fields, checked against the rules.
#[derive(Clone, Debug, PartialEq)]
pub struct CharacterDraft {
    pub name: String,
    pub description: String,
    pub personality: String,
    pub scenario: String,
    pub system_prompt: String,
    pub greeting: String,
    pub example_dialogue: String,
    pub avatar_url: Option<String>,
    pub tags: Vec<String>,
    pub visibility: Visibility,
    pub model: Option<String>,
    pub card: CardFields,
}

/// The fields Character Card V2 and V3 add, which today's editor may not show: a PUT that
/// leaves them out keeps them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CardFields {
    pub alternate_greetings: Vec<String>,
    pub post_history_instructions: String,
    pub creator_notes: String,
    pub creator: String,
    pub character_version: String,
    pub extensions: BTreeMap<String, Value>,
    pub character_book: Option<Lorebook>,
    /// The card's fields Troupe does not model (V3's `nickname`, `source`, `assets`…), kept as
    /// they came so that an export gives them back. Never editable through the API.
    pub extra: BTreeMap<String, Value>,
}

impl CharacterDraft {
    /// A new character's fields.
    pub fn parse(input: CharacterInput) -> Result<Self, RuleViolation> {
        Self::parse_over(input, &CardFields::default())
    }

    /// `input` replacing a character whose card fields are `kept`: the card fields `input`
    /// leaves out stay as they were.
    pub fn parse_over(input: CharacterInput, kept: &CardFields) -> Result<Self, RuleViolation> {
        use rules::{CHARACTER_TEXT_MAX_CHARS as MAX, check_text};
        let name = input.name.trim().to_owned();
        check_text("name", &name, rules::CHARACTER_NAME_MAX_CHARS, true)?;
        let texts = [
            ("description", &input.description),
            ("personality", &input.personality),
            ("scenario", &input.scenario),
            ("system_prompt", &input.system_prompt),
            ("greeting", &input.greeting),
            ("example_dialogue", &input.example_dialogue),
        ];
        for (field, text) in texts {
            check_text(field, text, MAX, false)?;
        }
        let avatar_url = input.avatar_url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        if let Some(url) = &avatar_url {
            rules::check_url("avatar_url", url)?;
        }
        let text = |field: &'static str, given: Option<String>, kept: &str| -> Result<String, RuleViolation> {
            let text = given.unwrap_or_else(|| kept.to_owned());
            check_text(field, &text, MAX, false)?;
            Ok(text)
        };
        let alternate_greetings = input.alternate_greetings.unwrap_or_else(|| kept.alternate_greetings.clone());
        if alternate_greetings.len() > rules::MAX_ALTERNATE_GREETINGS {
            let message = format!("at most {} alternate greetings", rules::MAX_ALTERNATE_GREETINGS);
            return Err(RuleViolation::new("alternate_greetings", "too_many", message));
        }
        for greeting in &alternate_greetings {
            check_text("alternate_greetings", greeting, MAX, false)?;
        }
        let character_book = match input.character_book {
            Some(book) => book.map(|b| lorebook::check("character_book", b)).transpose()?,
            None => kept.character_book.clone(),
        };
        let card = CardFields {
            alternate_greetings,
            post_history_instructions: text(
                "post_history_instructions",
                input.post_history_instructions,
                &kept.post_history_instructions,
            )?,
            creator_notes: text("creator_notes", input.creator_notes, &kept.creator_notes)?,
            creator: text("creator", input.creator, &kept.creator)?,
            character_version: text("character_version", input.character_version, &kept.character_version)?,
            extensions: input.extensions.unwrap_or_else(|| kept.extensions.clone()),
            character_book,
            extra: kept.extra.clone(),
        };
        Ok(Self {
            name,
            description: input.description,
            personality: input.personality,
            scenario: input.scenario,
            system_prompt: input.system_prompt,
            greeting: input.greeting,
            example_dialogue: input.example_dialogue,
            avatar_url,
            tags: rules::normalize_tags(&input.tags)?,
            visibility: input.visibility,
            model: input.model.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()),
            card,
        })
    }
}

/// What a character list is narrowed by; blank text narrows nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CharacterFilter {
    /// Substring of the name or description, ignoring ASCII case.
    pub query: Option<String>,
    pub tag: Option<String>,
    /// Only the viewer's own characters.
    pub mine: bool,
}

impl CharacterFilter {
    pub fn new(query: Option<String>, tag: Option<String>, mine: Option<bool>) -> Self {
        let present = |text: Option<String>| text.filter(|t| !t.trim().is_empty());
        Self { query: present(query), tag: present(tag), mine: mine.unwrap_or(false) }
    }
}

impl From<Character> for troupe_types::Character {
    fn from(c: Character) -> Self {
        let f = c.fields;
        Self {
            id: c.id.get(),
            owner_id: c.owner_id.get(),
            name: f.name,
            description: f.description,
            personality: f.personality,
            scenario: f.scenario,
            system_prompt: f.system_prompt,
            greeting: f.greeting,
            example_dialogue: f.example_dialogue,
            avatar_url: f.avatar_url,
            tags: f.tags,
            visibility: f.visibility,
            model: f.model,
            alternate_greetings: f.card.alternate_greetings,
            post_history_instructions: f.card.post_history_instructions,
            creator_notes: f.card.creator_notes,
            creator: f.card.creator,
            character_version: f.card.character_version,
            extensions: f.card.extensions,
            character_book: f.card.character_book,
            has_avatar: c.has_avatar,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SharedPrompt {
    pub id: PromptId,
    pub fields: PromptDraft,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PromptDraft {
    pub name: String,
    pub content: String,
    pub enabled: bool,
    pub position: i64,
}

impl PromptDraft {
    pub fn parse(input: PromptInput) -> Result<Self, RuleViolation> {
        let name = input.name.trim().to_owned();
        rules::check_text("name", &name, rules::PROMPT_NAME_MAX_CHARS, true)?;
        rules::check_text("content", &input.content, rules::PROMPT_CONTENT_MAX_CHARS, true)?;
        Ok(Self { name, content: input.content, enabled: input.enabled, position: input.position })
    }
}

impl From<SharedPrompt> for troupe_types::Prompt {
    fn from(p: SharedPrompt) -> Self {
        Self {
            id: p.id.get(),
            name: p.fields.name,
            content: p.fields.content,
            enabled: p.fields.enabled,
            position: p.fields.position,
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str) -> CharacterInput {
        CharacterInput { name: name.into(), ..Default::default() }
    }

    #[test]
    fn names_are_trimmed_and_required() {
        assert_eq!(CharacterDraft::parse(input("  Aria ")).unwrap().name, "Aria");
        assert_eq!(CharacterDraft::parse(input("   ")).unwrap_err().field, "name");
        assert_eq!(CharacterDraft::parse(input(&"n".repeat(129))).unwrap_err().field, "name");
    }

    #[test]
    fn long_texts_are_refused_by_characters() {
        let ok = CharacterInput { system_prompt: "가".repeat(32_000), ..input("A") };
        assert!(CharacterDraft::parse(ok).is_ok());
        let long = CharacterInput { system_prompt: "가".repeat(32_001), ..input("A") };
        assert_eq!(CharacterDraft::parse(long).unwrap_err().field, "system_prompt");
        let bad_url = CharacterInput { avatar_url: Some("javascript:alert(1)".into()), ..input("A") };
        assert_eq!(CharacterDraft::parse(bad_url).unwrap_err().field, "avatar_url");
    }

    #[test]
    fn card_fields_left_out_are_kept_and_a_null_book_removes_it() {
        let kept = CardFields {
            creator: "anon".into(),
            character_book: Some(Lorebook { name: Some("World".into()), ..Lorebook::default() }),
            extra: [("nickname".to_owned(), Value::from("Ari"))].into(),
            ..CardFields::default()
        };
        let draft = CharacterDraft::parse_over(input("A"), &kept).unwrap();
        assert_eq!(draft.card, kept);
        let cleared = CharacterInput { character_book: Some(None), creator: Some(String::new()), ..input("A") };
        let draft = CharacterDraft::parse_over(cleared, &kept).unwrap();
        assert_eq!((draft.card.character_book, draft.card.creator.as_str()), (None, ""));
        assert_eq!(draft.card.extra, kept.extra, "what the API cannot edit stays");
    }
}
