//! Personas: each user's own, one of them the default. In a chat the user is the chat's
//! persona, else their default persona, else their username.

use troupe_types::{PersonaInput, rules::RuleViolation};

use super::limits::CreateLimit;
pub use crate::domain::Speaker;
use crate::{
    domain::{Persona, PersonaDraft, PersonaId, User},
    error::AppError,
    storage::{Db, personas},
};

/// Enough for every role a person plays; a bound on what one account may store.
pub const MAX_PERSONAS: usize = 100;

#[derive(Clone)]
pub struct Personas {
    db: Db,
    create_limit: CreateLimit,
}

impl Personas {
    pub fn new(db: Db, create_limit: CreateLimit) -> Self {
        Self { db, create_limit }
    }

    pub async fn list(&self, user: &User) -> Result<Vec<Persona>, AppError> {
        Ok(personas::list(&self.db, user.id).await?)
    }

    #[tracing::instrument(skip_all, fields(user.id = %user.id), err(level = "info"))]
    pub async fn create(&self, user: &User, input: PersonaInput) -> Result<Persona, AppError> {
        let draft = PersonaDraft::parse(input)?;
        if personas::list(&self.db, user.id).await?.len() >= MAX_PERSONAS {
            let message = format!("at most {MAX_PERSONAS} personas");
            return Err(RuleViolation::new("name", "too_many_personas", message).into());
        }
        self.create_limit.check(user.id).await?;
        Ok(personas::insert(&self.db, user.id, &draft).await?)
    }

    pub async fn update(&self, user: &User, id: PersonaId, input: PersonaInput) -> Result<Persona, AppError> {
        let draft = PersonaDraft::parse(input)?;
        Ok(personas::update(&self.db, id, user.id, &draft).await?)
    }

    pub async fn delete(&self, user: &User, id: PersonaId) -> Result<(), AppError> {
        Ok(personas::delete(&self.db, id, user.id).await?)
    }

    /// 404 unless persona `id` is the user's (for a chat naming it).
    pub async fn check_owned(&self, user: &User, id: PersonaId) -> Result<(), AppError> {
        personas::find_owned(&self.db, id, user.id).await?.map(drop).ok_or(AppError::NotFound)
    }

    /// Who `user` is in a chat naming `persona_id` (a persona deleted since counts as none).
    pub async fn speaker(&self, user: &User, persona_id: Option<PersonaId>) -> Result<Speaker, AppError> {
        let named = match persona_id {
            Some(id) => personas::find_owned(&self.db, id, user.id).await?,
            None => None,
        };
        let persona = match named {
            Some(persona) => Some(persona),
            None => personas::find_default(&self.db, user.id).await?,
        };
        Ok(speaker_or_username(
            persona.map(|p| Speaker { name: p.fields.name, description: p.fields.description }),
            user,
        ))
    }
}

/// Who `user` is: their `persona`, or without one their username.
pub fn speaker_or_username(persona: Option<Speaker>, user: &User) -> Speaker {
    persona.unwrap_or_else(|| Speaker { name: user.username.to_string(), description: String::new() })
}
