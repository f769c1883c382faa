//! Prompt assembly, as the card specs describe it: shared prompts (or the character's system
//! prompt wrapping them through `{{original}}`), lorebook entries around the character's
//! description, the character, the persona; then example turns from `example_dialogue`, as much
//! history as fits the model's context window after reserving the reply budget (examples go
//! first, then the oldest turns), the turn answered (a new message, or for a regeneration the
//! message before the reply), and the post-history instructions after it all.

use troupe_types::Role;

use super::{
    catalog::ModelSpec,
    lore::{self, Lore, PreparedBook},
    personas::Speaker,
    tokens,
};
use crate::{
    domain::{Character, UserId},
    providers::{CharacterSketch, ChatRequest, Turn},
};

/// What goes to the model for one turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssembledPrompt {
    pub system: String,
    /// Kept examples and history (oldest first) and the turn answered, last.
    pub messages: Vec<Turn>,
    /// Sent after the turn answered (each provider in its own way).
    pub post_history: Option<String>,
    /// Our own count of the prompt, used when the provider reports no usage.
    pub estimated_tokens: usize,
    /// Oldest turns (examples first) left out to fit.
    pub dropped_turns: usize,
}

impl AssembledPrompt {
    /// What answering it on `model` may cost at most: the prompt and the longest reply.
    pub fn worst_case(&self, model: &ModelSpec) -> i64 {
        self.estimated_tokens as i64 + i64::from(model.max_output_tokens)
    }

    /// The provider's request: this prompt on `model`, asked for `user` in `character`'s name,
    /// continuing the provider's `conversation_id` (Dify) if there is one.
    pub fn into_request(
        self,
        model: &ModelSpec,
        user: UserId,
        character: &Character,
        conversation_id: Option<String>,
    ) -> ChatRequest {
        ChatRequest {
            upstream_model: model.upstream_model().to_owned(),
            system: self.system,
            messages: self.messages,
            post_history: self.post_history,
            max_output_tokens: model.max_output_tokens,
            conversation_id,
            end_user: format!("troupe-user-{user}"),
            character: CharacterSketch::from(character),
            sampling: Default::default(),
        }
    }
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
        Self { turn: Turn { role, content: content.into() }, tokens: tokens::count(content) }
    }
}

/// A fixed text of the prompt (the system text, the post-history instructions) and its size in
/// tokens.
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

    /// What it takes in a prompt, as a message of its own.
    pub fn cost(&self) -> usize {
        tokens::message_cost(self.tokens)
    }
}

/// Builds prompts for one character and the user as `speaker`.
pub struct PromptAssembler<'a> {
    pub shared_prompts: &'a [String],
    pub character: &'a Character,
    pub speaker: &'a Speaker,
}

/// Where the character's system prompt puts the shared prompts (or, in post-history
/// instructions, nothing).
const ORIGINAL: &str = "{{original}}";
/// What starts each block of `example_dialogue`.
const EXAMPLE_START: &str = "<START>";

impl PromptAssembler<'_> {
    /// The system text: the shared prompts and the character's system prompt, `lore`'s entries
    /// before and after the description, personality, scenario, and the persona.
    pub fn system_text(&self, lore: &Lore) -> String {
        let c = &self.character.fields;
        let shared = self.shared_prompts.iter().map(|p| self.fill(p)).collect::<Vec<_>>().join("\n\n");
        let own = self.fill(&c.system_prompt);
        let mut parts = if own.contains(ORIGINAL) { vec![own.replace(ORIGINAL, &shared)] } else { vec![shared, own] };
        parts.extend(lore.before_char.iter().map(|entry| self.fill(entry)));
        parts.push(self.fill(&c.description));
        parts.extend(lore.after_char.iter().map(|entry| self.fill(entry)));
        let persona = format!("About {}", self.speaker.name);
        let labelled =
            [("Personality", &c.personality), ("Scenario", &c.scenario), (persona.as_str(), &self.speaker.description)];
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

    /// The character's post-history instructions, if it has any (`{{original}}` in them is
    /// empty).
    pub fn post_history_text(&self) -> Option<String> {
        let text = self.fill(&self.character.fields.card.post_history_instructions).replace(ORIGINAL, "");
        Some(text.trim().to_owned()).filter(|t| !t.is_empty())
    }

    /// `example_dialogue` as turns: blocks after `<START>`, lines `{{user}}: …` and
    /// `{{char}}: …` (a line without a speaker continues the turn before it). Each is counted
    /// once per text (`tokens::count_remembered`).
    pub async fn example_turns(&self) -> Vec<PastTurn> {
        let mut turns: Vec<(Role, String)> = Vec::new();
        for block in self.character.fields.example_dialogue.split(EXAMPLE_START) {
            let mut in_block = false;
            for line in block.lines() {
                let speaker = [("{{user}}:", Role::User), ("{{char}}:", Role::Assistant)]
                    .into_iter()
                    .find_map(|(prefix, role)| line.trim_start().strip_prefix(prefix).map(|rest| (role, rest)));
                match (speaker, turns.last_mut()) {
                    (Some((role, rest)), _) => {
                        turns.push((role, rest.trim().to_owned()));
                        in_block = true;
                    }
                    (None, Some((_, text))) if in_block => {
                        text.push('\n');
                        text.push_str(line);
                    }
                    _ if line.trim().is_empty() => {}
                    _ => {
                        turns.push((Role::Assistant, line.trim().to_owned()));
                        in_block = true;
                    }
                }
            }
        }
        let mut counted = Vec::with_capacity(turns.len());
        for (role, text) in turns {
            let content = self.fill(&text).trim().to_owned();
            if !content.is_empty() {
                let tokens = tokens::count_remembered(&content).await;
                counted.push(PastTurn { turn: Turn { role, content: content.into() }, tokens });
            }
        }
        counted
    }

    /// The prompt answering the last of `turns` (oldest first) with `model`: the system text,
    /// the character's example dialogue before the turns, and its post-history instructions,
    /// fitted to the model's window (see `assemble`). Entries of `books` go in first, within
    /// the room the fixed parts leave; history gets the rest.
    pub async fn prompt_for(&self, turns: &[PastTurn], model: &ModelSpec, books: &[&PreparedBook]) -> AssembledPrompt {
        let (window, reply_budget) = (model.context_window, model.max_output_tokens);
        let post_history = match self.post_history_text() {
            Some(text) => Some(SystemText::counted(text).await),
            None => None,
        };
        let answered = turns.last().expect("a prompt answers a turn");
        let fixed = tokens::message_cost(answered.tokens) + post_history.as_ref().map_or(0, SystemText::cost);
        let system =
            self.system_with_lore(turns, books, (window as usize).saturating_sub(reply_budget as usize + fixed));
        let with_examples: Vec<PastTurn> =
            self.example_turns().await.into_iter().chain(turns.iter().cloned()).collect();
        Self::assemble(system.await, post_history, &with_examples, window, reply_budget)
    }

    /// The system text with the entries `books` insert for `turns`, within `room` tokens
    /// (the system text's own included). Its size is the system text's without entries, counted
    /// once per text, and the entries' sizes stored with their books: a turn counts nothing.
    async fn system_with_lore(&self, turns: &[PastTurn], books: &[&PreparedBook], room: usize) -> SystemText {
        let plain = SystemText::counted(self.system_text(&Lore::default())).await;
        if books.is_empty() {
            return plain;
        }
        let said: Vec<&str> = turns.iter().map(|t| &*t.turn.content).collect();
        let lore = lore::scan(books, &said, room.saturating_sub(plain.cost()));
        if lore.tokens == 0 {
            return plain;
        }
        SystemText { text: self.system_text(&lore), tokens: plain.tokens + lore.tokens }
    }

    /// The prompt answering the last of `turns` (oldest first, examples before history), under
    /// the system text and before the post-history instructions (both counted). Earlier turns
    /// are dropped from the oldest end until everything fits `context_window - reply_budget`;
    /// the fixed texts and the turn answered are never dropped. `turns` holds at least that one.
    pub fn assemble(
        system: SystemText,
        post_history: Option<SystemText>,
        turns: &[PastTurn],
        context_window: u32,
        reply_budget: u32,
    ) -> AssembledPrompt {
        let (answered, history) = turns.split_last().expect("a prompt answers a turn");
        let fixed =
            system.cost() + post_history.as_ref().map_or(0, SystemText::cost) + tokens::message_cost(answered.tokens);
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
            post_history: post_history.map(|p| p.text),
            estimated_tokens: fixed + history_tokens,
            dropped_turns: history.len() - kept,
        }
    }

    fn fill(&self, text: &str) -> String {
        fill_names(text, self.character.name(), &self.speaker.name)
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
                description: "{{char}} is a bard.".into(),
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
            revision: 0,
        }
    }

    fn bob() -> Speaker {
        Speaker { name: "bob".into(), description: String::new() }
    }

    fn assembler<'a>(character: &'a Character, speaker: &'a Speaker) -> PromptAssembler<'a> {
        PromptAssembler { shared_prompts: &[], character, speaker }
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

    fn counted(text: String) -> SystemText {
        SystemText { tokens: tokens::count(&text), text }
    }

    #[test]
    fn system_text_orders_shared_prompts_then_character_and_fills_names() {
        let (character, speaker) = (character(), bob());
        let shared = vec!["Rule one.".to_owned(), "Rule two for {{user}}.".to_owned()];
        let assembler = PromptAssembler { shared_prompts: &shared, ..assembler(&character, &speaker) };
        assert_eq!(
            assembler.system_text(&Lore::default()),
            "Rule one.\n\nRule two for bob.\n\nYou are Aria, talking to bob.\n\nAria is a bard.\n\n\
             Personality:\nAria teases bob kindly\n\nScenario:\nA tavern"
        );
    }

    #[test]
    fn original_wraps_the_shared_prompts_and_is_empty_after_the_history() {
        let mut character = character();
        character.fields.system_prompt = "Before. {{original}} After.".into();
        character.fields.card.post_history_instructions = "Stay in character.{{original}}".into();
        let speaker = bob();
        let shared = vec!["Shared.".to_owned()];
        let assembler = PromptAssembler { shared_prompts: &shared, ..assembler(&character, &speaker) };
        assert!(assembler.system_text(&Lore::default()).starts_with("Before. Shared. After.\n\nAria is a bard."));
        assert_eq!(assembler.post_history_text().as_deref(), Some("Stay in character."));
        let mut only_original = character.clone();
        only_original.fields.card.post_history_instructions = " {{original}} ".into();
        assert_eq!(PromptAssembler { character: &only_original, ..assembler }.post_history_text(), None);
    }

    #[test]
    fn lore_goes_around_the_description_and_the_persona_after_the_character() {
        let character = character();
        let speaker = Speaker { name: "Sam".into(), description: "{{user}} is a knight.".into() };
        let lore = Lore { before_char: vec!["Before {{char}}.".into()], after_char: vec!["After.".into()], tokens: 0 };
        let text = assembler(&character, &speaker).system_text(&lore);
        let order = [
            "You are Aria, talking to Sam.",
            "Before Aria.",
            "Aria is a bard.",
            "After.",
            "Personality:",
            "About Sam:\nSam is a knight.",
        ];
        let at: Vec<usize> =
            order.iter().map(|part| text.find(part).unwrap_or_else(|| panic!("{part} in {text}"))).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[tokio::test]
    async fn example_dialogue_becomes_turns_per_start_block() {
        let mut character = character();
        character.fields.example_dialogue =
            "<START>\n{{user}}: Hi {{char}}!\n{{char}}: *waves* Hello, {{user}}.\nHow are you?\n<START>\n{{char}}: Again.".into();
        let speaker = bob();
        let turns: Vec<Turn> =
            assembler(&character, &speaker).example_turns().await.into_iter().map(|p| p.turn).collect();
        assert_eq!(
            turns,
            [
                turn(Role::User, "Hi Aria!"),
                turn(Role::Assistant, "*waves* Hello, bob.\nHow are you?"),
                turn(Role::Assistant, "Again."),
            ]
        );
    }

    #[test]
    fn everything_fits_in_a_large_window() {
        let (character, speaker) = (character(), bob());
        let system = counted(assembler(&character, &speaker).system_text(&Lore::default()));
        let history = [past(Role::Assistant, "Hello!"), past(Role::User, "hi"), past(Role::Assistant, "welcome")];
        let post = Some(counted("Stay brief.".into()));
        let p = PromptAssembler::assemble(system, post, &with(&history, "how are you?"), 8000, 500);
        assert_eq!(p.dropped_turns, 0);
        assert_eq!(p.messages.len(), 4);
        assert_eq!(p.messages.last().unwrap(), &turn(Role::User, "how are you?"));
        assert_eq!(p.post_history.as_deref(), Some("Stay brief."));
    }

    #[test]
    fn oldest_turns_go_first_and_the_new_message_stays() {
        let (character, speaker) = (character(), bob());
        let system_text = assembler(&character, &speaker).system_text(&Lore::default());
        let long = "word ".repeat(60);
        let history = [past(Role::User, &long), past(Role::Assistant, &long), past(Role::User, "recent")];
        let system_and_new = tokens::count_message(&system_text) + tokens::count_message("now");
        // Room for the recent turn and one long one, not both long ones.
        let window = (system_and_new + tokens::count_message("recent") + tokens::count_message(&long) + 5) as u32;
        let p = PromptAssembler::assemble(counted(system_text), None, &with(&history, "now"), window + 100, 100);
        assert_eq!(p.dropped_turns, 1);
        assert_eq!(p.messages, vec![turn(Role::Assistant, &long), turn(Role::User, "recent"), turn(Role::User, "now")]);
        assert!(p.estimated_tokens <= window as usize);
    }

    #[test]
    fn a_tiny_window_still_sends_system_and_new_message() {
        let (character, speaker) = (character(), bob());
        let system = counted(assembler(&character, &speaker).system_text(&Lore::default()));
        let p = PromptAssembler::assemble(system, None, &with(&[past(Role::User, "old")], "new"), 10, 5);
        assert_eq!(p.messages, vec![turn(Role::User, "new")]);
        assert!(!p.system.is_empty());
    }
}
