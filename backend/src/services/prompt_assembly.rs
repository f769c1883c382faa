//! Prompt assembly: shared prompts, then the character, then as much history as fits the
//! model's context window after reserving the reply budget, then the turn answered (a new
//! message, or for a regeneration the message before the reply).

use troupe_types::Role;

use super::tokens;
use crate::{domain::Character, providers::Turn};

/// What goes to the model for one turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssembledPrompt {
    pub system: String,
    /// Kept history (oldest first) and the turn answered, last.
    pub messages: Vec<Turn>,
    /// Our own count of the prompt, used when the provider reports no usage.
    pub estimated_tokens: usize,
    /// Oldest turns left out to fit.
    pub dropped_turns: usize,
}

/// Replaces `{{char}}` and `{{user}}` with the character's and the user's names.
pub fn fill_names(text: &str, character: &str, user: &str) -> String {
    text.replace("{{char}}", character).replace("{{user}}", user)
}

/// An earlier message with its stored token count (so history is not re-tokenised each turn).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PastTurn {
    pub turn: Turn,
    pub tokens: usize,
}

impl PastTurn {
    pub fn counted(role: Role, content: &str) -> Self {
        Self { turn: Turn { role, content: content.to_owned() }, tokens: tokens::count(content) }
    }
}

/// The system text and its size in tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemText {
    pub text: String,
    pub tokens: usize,
}

impl SystemText {
    /// Counted off the executor, and once per distinct text (see `tokens::count_remembered`).
    pub async fn counted(text: String) -> Self {
        let tokens = tokens::count_remembered(&text).await;
        Self { text, tokens }
    }
}

/// Builds prompts for one character and user.
pub struct PromptAssembler<'a> {
    pub shared_prompts: &'a [String],
    pub character: &'a Character,
    pub user_name: &'a str,
}

impl PromptAssembler<'_> {
    /// The system text: enabled shared prompts in order, then the character's own fields.
    pub fn system_text(&self) -> String {
        let c = &self.character.fields;
        let mut parts: Vec<String> = self.shared_prompts.iter().map(|p| self.fill(p)).collect();
        parts.push(self.fill(&c.system_prompt));
        let labelled =
            [("Personality", &c.personality), ("Scenario", &c.scenario), ("Example dialogue", &c.example_dialogue)];
        for (label, text) in labelled {
            if !text.trim().is_empty() {
                parts.push(format!("{label}:\n{}", self.fill(text)));
            }
        }
        parts.retain(|p| !p.trim().is_empty());
        if parts.is_empty() {
            return format!("You are {}.", self.character.name());
        }
        parts.join("\n\n")
    }

    /// The prompt answering the last of `turns` (oldest first), under the system text
    /// (`system_text`, counted). Earlier turns are dropped from the oldest end until everything
    /// fits `context_window - reply_budget`; the system text and the turn answered are never
    /// dropped. `turns` holds at least that one.
    pub fn assemble(system: SystemText, turns: &[PastTurn], context_window: u32, reply_budget: u32) -> AssembledPrompt {
        let (answered, history) = turns.split_last().expect("a prompt answers a turn");
        let fixed = tokens::message_cost(system.tokens) + tokens::message_cost(answered.tokens);
        let mut room = (context_window as usize).saturating_sub(reply_budget as usize).saturating_sub(fixed);
        let mut kept = 0;
        let mut history_tokens = 0;
        for past in history.iter().rev() {
            let cost = tokens::message_cost(past.tokens);
            if cost > room {
                break;
            }
            room -= cost;
            history_tokens += cost;
            kept += 1;
        }
        let messages = turns[history.len() - kept..].iter().map(|p| p.turn.clone()).collect();
        AssembledPrompt {
            system: system.text,
            messages,
            estimated_tokens: fixed + history_tokens,
            dropped_turns: history.len() - kept,
        }
    }

    fn fill(&self, text: &str) -> String {
        fill_names(text, self.character.name(), self.user_name)
    }
}

#[cfg(test)]
mod tests {
    use troupe_types::Visibility;

    use super::*;
    use crate::domain::{CardFields, CharacterDraft, CharacterId, UserId};

    fn character() -> Character {
        Character {
            id: CharacterId::new(1),
            owner_id: UserId::new(1),
            fields: CharacterDraft {
                name: "Aria".into(),
                description: "A bard".into(),
                personality: "{{char}} teases {{user}} kindly".into(),
                scenario: "A tavern".into(),
                system_prompt: "You are {{char}}, talking to {{user}}.".into(),
                greeting: "Hello!".into(),
                example_dialogue: String::new(),
                avatar_url: None,
                tags: vec![],
                visibility: Visibility::Private,
                model: None,
                card: CardFields::default(),
            },
            has_avatar: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn turn(role: Role, content: &str) -> Turn {
        Turn { role, content: content.into() }
    }

    fn past(role: Role, content: &str) -> PastTurn {
        PastTurn::counted(role, content)
    }

    /// `history` and then a new user message.
    fn with(history: &[PastTurn], new_message: &str) -> Vec<PastTurn> {
        history.iter().cloned().chain([past(Role::User, new_message)]).collect()
    }

    fn system(assembler: &PromptAssembler) -> SystemText {
        let text = assembler.system_text();
        SystemText { tokens: tokens::count(&text), text }
    }

    #[test]
    fn system_text_orders_shared_prompts_then_character_and_fills_names() {
        let character = character();
        let shared = vec!["Rule one.".to_owned(), "Rule two for {{user}}.".to_owned()];
        let assembler = PromptAssembler { shared_prompts: &shared, character: &character, user_name: "bob" };
        let system = assembler.system_text();
        assert_eq!(
            system,
            "Rule one.\n\nRule two for bob.\n\nYou are Aria, talking to bob.\n\n\
             Personality:\nAria teases bob kindly\n\nScenario:\nA tavern"
        );
    }

    #[test]
    fn everything_fits_in_a_large_window() {
        let character = character();
        let assembler = PromptAssembler { shared_prompts: &[], character: &character, user_name: "bob" };
        let history = [past(Role::Assistant, "Hello!"), past(Role::User, "hi"), past(Role::Assistant, "welcome")];
        let p = PromptAssembler::assemble(system(&assembler), &with(&history, "how are you?"), 8000, 500);
        assert_eq!(p.dropped_turns, 0);
        assert_eq!(p.messages.len(), 4);
        assert_eq!(p.messages.last().unwrap(), &turn(Role::User, "how are you?"));
    }

    #[test]
    fn oldest_turns_go_first_and_the_new_message_stays() {
        let character = character();
        let assembler = PromptAssembler { shared_prompts: &[], character: &character, user_name: "bob" };
        let long = "word ".repeat(60);
        let history = [past(Role::User, &long), past(Role::Assistant, &long), past(Role::User, "recent")];
        let system_and_new = tokens::count_message(&assembler.system_text()) + tokens::count_message("now");
        // Room for the recent turn and one long one, not both long ones.
        let window = (system_and_new + tokens::count_message("recent") + tokens::count_message(&long) + 5) as u32;
        let p = PromptAssembler::assemble(system(&assembler), &with(&history, "now"), window + 100, 100);
        assert_eq!(p.dropped_turns, 1);
        assert_eq!(p.messages, vec![turn(Role::Assistant, &long), turn(Role::User, "recent"), turn(Role::User, "now")]);
        assert!(p.estimated_tokens <= window as usize);
    }

    #[test]
    fn a_tiny_window_still_sends_system_and_new_message() {
        let character = character();
        let assembler = PromptAssembler { shared_prompts: &[], character: &character, user_name: "bob" };
        let p = PromptAssembler::assemble(system(&assembler), &with(&[past(Role::User, "old")], "new"), 10, 5);
        assert_eq!(p.messages, vec![turn(Role::User, "new")]);
        assert!(!p.system.is_empty());
    }
}
