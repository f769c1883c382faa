//! Markdown for chat messages. The parser (`parse`) runs in a web worker of its own,
//! so its weight loads after the app and only for readers of chats; the app and the worker
//! share only the few lines of their message format, below.
#![forbid(unsafe_code)]

pub mod parse;

/// What the worker says once it listens: messages sent before would be lost (its WebAssembly
/// loads after its script has run), so the app holds them until then.
pub const READY: &str = "ready";

/// A message between the app and the worker: a request number, a line break, then the text
/// (Markdown on the way there, HTML on the way back). A plain string, so that neither side
/// needs a serialiser.
pub fn encode(id: u32, body: &str) -> String {
    format!("{id}\n{body}")
}

/// The request number and text of a message made by [`encode`].
pub fn decode(message: &str) -> Option<(u32, &str)> {
    let (id, body) = message.split_once('\n')?;
    Some((id.parse().ok()?, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_number_and_every_line() {
        assert_eq!(decode(&encode(7, "one\ntwo\n")), Some((7, "one\ntwo\n")));
        assert_eq!(decode("x\nhi"), None);
    }
}
