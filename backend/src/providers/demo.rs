//! The built-in offline model: a deterministic, in-character reply built from the
//! character's fields and the user's words, streamed word by word. No usage is reported, so
//! the turn is counted by Troupe's tokenizer like any provider that reports none.

use std::time::Duration;

use futures::{StreamExt, stream};

use super::{ChatRequest, EventStream, StreamEvent};

pub struct Demo {
    delay: Duration,
}

impl Demo {
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }

    pub fn stream(&self, request: ChatRequest) -> EventStream {
        let reply = compose_reply(&request);
        let delay = self.delay;
        let pieces: Vec<String> = split_keeping_spaces(&reply);
        stream::iter(pieces)
            .then(move |piece| async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Ok(StreamEvent::Delta(piece))
            })
            .boxed()
    }
}

/// Words with their following space, so the pieces concatenate to the reply.
fn split_keeping_spaces(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

const OPENINGS: [&str; 4] = [
    "{name} leans in, listening closely.",
    "{name} smiles and takes a moment before answering.",
    "{name} tilts their head, curious.",
    "{name} nods slowly.",
];

/// Same character and message, same reply; a different message picks other phrasing.
pub fn compose_reply(request: &ChatRequest) -> String {
    let c = &request.character;
    let name = if c.name.is_empty() { "The character" } else { c.name.as_str() };
    let said = request.latest_user_message();
    let seed = said.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let opening = OPENINGS[(seed % OPENINGS.len() as u64) as usize].replace("{name}", name);
    let echo: String = said.split_whitespace().take(12).collect::<Vec<_>>().join(" ");
    let mut reply = format!("{opening} \"You said: {echo}. ");
    if let Some(trait_line) = first_sentence(&c.personality) {
        reply.push_str(&format!("As someone {}, I find that worth thinking about. ", lowercase_first(&trait_line)));
    }
    if let Some(scene) = first_sentence(&c.scenario) {
        reply.push_str(&format!("Here, where {}, every word matters. ", lowercase_first(&scene)));
    } else if let Some(about) = first_sentence(&c.description) {
        reply.push_str(&format!("You know me: {}. ", lowercase_first(&about)));
    }
    reply.push_str("Tell me more, and I will answer in kind.\" (This is Troupe's offline demo model.)");
    reply
}

fn first_sentence(text: &str) -> Option<String> {
    let sentence = text.split(['.', '!', '?', '\n']).map(str::trim).find(|s| !s.is_empty())?;
    Some(sentence.chars().take(120).collect())
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{CharacterSketch, Turn};
    use troupe_types::Role;

    fn request(message: &str) -> ChatRequest {
        ChatRequest {
            upstream_model: "demo".into(),
            system: String::new(),
            messages: vec![Turn { role: Role::User, content: message.into() }],
            post_history: None,
            max_output_tokens: 100,
            conversation_id: None,
            end_user: "u".into(),
            character: CharacterSketch {
                name: "Aria".into(),
                description: "A wandering bard.".into(),
                personality: "Cheerful and witty. Loves songs.".into(),
                scenario: "A tavern at dusk".into(),
            },
            sampling: Default::default(),
        }
    }

    #[test]
    fn reply_is_deterministic_and_in_character() {
        let a = compose_reply(&request("Tell me about the road"));
        assert_eq!(a, compose_reply(&request("Tell me about the road")));
        assert!(a.contains("Aria") && a.contains("Tell me about the road") && a.contains("cheerful and witty"));
        assert_ne!(a, compose_reply(&request("Something else entirely")));
    }

    #[tokio::test]
    async fn streams_word_by_word_and_reassembles() {
        let demo = Demo::new(Duration::ZERO);
        let pieces: Vec<String> = demo
            .stream(request("hi there"))
            .map(|e| match e.unwrap() {
                StreamEvent::Delta(t) => t,
                other => panic!("{other:?}"),
            })
            .collect()
            .await;
        assert!(pieces.len() > 10);
        assert_eq!(pieces.concat(), compose_reply(&request("hi there")));
    }
}
