//! Character cards in and out, as SillyTavern, RisuAI and Agnai share them: PNG files with
//! the card in a text chunk, the card's JSON, or a CHARX zip. Reading is pure (no database):
//! bytes in, the character's fields and picture out, or why not.

mod charx;
mod json;
mod png;
#[cfg(test)]
mod tests;

use serde_json::Value;

pub use self::json::CardFields;
use crate::domain::Character;

/// A card read from a file: its fields, and the picture it came with (still to be checked and
/// re-encoded as an avatar).
pub struct Card {
    pub fields: CardFields,
    pub image: Option<Vec<u8>>,
}

/// Why a file is no card Troupe can take.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    #[error("{0}")]
    NotACard(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    InvalidImage(String),
}

impl CardError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotACard(_) => "not_a_character_card",
            Self::Invalid(_) => "invalid_card",
            Self::InvalidImage(_) => "invalid_image",
        }
    }
}

/// The card in `bytes`, whichever of the three kinds it is (told by its first bytes).
pub fn read(bytes: &[u8]) -> Result<Card, CardError> {
    if bytes.starts_with(png::SIGNATURE) {
        let fields = json::read(png::read_card(bytes)?)?;
        return Ok(Card { fields, image: Some(bytes.to_vec()) });
    }
    if bytes.starts_with(charx::SIGNATURE) {
        let (card, icon) = charx::read(bytes)?;
        return Ok(Card { fields: json::read(card)?, image: icon });
    }
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if text.trim_ascii_start().first() == Some(&b'{') {
        let value: Value =
            serde_json::from_slice(text).map_err(|e| CardError::Invalid(format!("the file is not valid JSON: {e}")))?;
        return Ok(Card { fields: json::read(value)?, image: None });
    }
    Err(CardError::NotACard("not a PNG, JSON or CHARX file".into()))
}

/// The character as a Character Card V3 JSON file.
pub fn to_json(character: &Character) -> String {
    serde_json::to_string_pretty(&json::v3(character)).expect("plain data")
}

/// The character as a PNG card: `rgba` (`width` × `height`) with a V2 `chara` chunk and a V3
/// `ccv3` chunk.
pub fn to_png(character: &Character, rgba: &[u8], width: u32, height: u32) -> Vec<u8> {
    png::write_card(rgba, width, height, &json::v2(character), &json::v3(character))
}
