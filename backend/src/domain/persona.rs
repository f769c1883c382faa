//! Personas: who a user is in a chat.

use troupe_types::{
    PersonaInput,
    rules::{self, RuleViolation},
};

use super::{PersonaId, UserId};
use crate::clock::{Millis, rfc3339};

#[derive(Clone, Debug, PartialEq)]
pub struct Persona {
    pub id: PersonaId,
    pub user_id: UserId,
    pub fields: PersonaDraft,
    pub created_at: Millis,
}

/// Who the user is in a chat: `{{user}}` and what the prompt says about them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Speaker {
    pub name: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PersonaDraft {
    pub name: String,
    pub description: String,
    pub is_default: bool,
}

impl PersonaDraft {
    pub fn parse(input: PersonaInput) -> Result<Self, RuleViolation> {
        let name = input.name.trim().to_owned();
        rules::check_text("name", &name, rules::PERSONA_NAME_MAX_CHARS, true)?;
        rules::check_text("description", &input.description, rules::CHARACTER_TEXT_MAX_CHARS, false)?;
        Ok(Self { name, description: input.description, is_default: input.is_default })
    }
}

impl From<Persona> for troupe_types::Persona {
    fn from(p: Persona) -> Self {
        Self {
            id: p.id.get(),
            name: p.fields.name,
            description: p.fields.description,
            is_default: p.fields.is_default,
            created_at: rfc3339(p.created_at),
        }
    }
}
