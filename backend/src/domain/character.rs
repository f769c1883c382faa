//! Characters and shared prompts.

use troupe_types::{
    CharacterInput, PromptInput, Visibility,
    rules::{self, RuleViolation},
};

use super::{CharacterId, PromptId, UserId};
use crate::clock::{Millis, rfc3339};

#[derive(Clone, Debug, PartialEq)]
pub struct Character {
    pub id: CharacterId,
    pub owner_id: UserId,
    pub fields: CharacterDraft,
    pub created_at: Millis,
    pub updated_at: Millis,
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
}

impl CharacterDraft {
    pub fn parse(input: CharacterInput) -> Result<Self, RuleViolation> {
        use rules::check_text;
        let name = input.name.trim().to_owned();
        check_text("name", &name, rules::CHARACTER_NAME_MAX_CHARS, true)?;
        check_text("description", &input.description, rules::DESCRIPTION_MAX_CHARS, false)?;
        check_text("personality", &input.personality, rules::PERSONALITY_MAX_CHARS, false)?;
        check_text("scenario", &input.scenario, rules::SCENARIO_MAX_CHARS, false)?;
        check_text("system_prompt", &input.system_prompt, rules::SYSTEM_PROMPT_MAX_CHARS, false)?;
        check_text("greeting", &input.greeting, rules::GREETING_MAX_CHARS, false)?;
        check_text("example_dialogue", &input.example_dialogue, rules::EXAMPLE_DIALOGUE_MAX_CHARS, false)?;
        let avatar_url = input.avatar_url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        if let Some(url) = &avatar_url {
            rules::check_url("avatar_url", url)?;
        }
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
        assert_eq!(CharacterDraft::parse(input(&"n".repeat(65))).unwrap_err().field, "name");
    }

    #[test]
    fn long_texts_are_refused_by_characters() {
        let ok = CharacterInput { system_prompt: "가".repeat(8000), ..input("A") };
        assert!(CharacterDraft::parse(ok).is_ok());
        let long = CharacterInput { system_prompt: "가".repeat(8001), ..input("A") };
        assert_eq!(CharacterDraft::parse(long).unwrap_err().field, "system_prompt");
        let bad_url = CharacterInput { avatar_url: Some("javascript:alert(1)".into()), ..input("A") };
        assert_eq!(CharacterDraft::parse(bad_url).unwrap_err().field, "avatar_url");
    }
}
