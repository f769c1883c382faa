//! Cards in PNG files: the character as base64 JSON in a text chunk (`ccv3` for V3, `chara`
//! for V2), the image itself the character's picture.

use std::io::Cursor;

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose::STANDARD},
};
use serde_json::Value;

use super::CardError;

pub const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Base64 with or without its padding, as tools write it.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// The most a compressed text chunk may inflate to (a card with a large lorebook is a few MiB).
const TEXT_LIMIT: usize = 32 << 20;

/// The card JSON of a PNG: its `ccv3` chunk if it has one, else its `chara` chunk (tEXt, and
/// zTXt or iTXt where a tool wrote those).
pub fn read_card(bytes: &[u8]) -> Result<Value, CardError> {
    let broken = |e: png::DecodingError| CardError::InvalidImage(format!("the PNG does not decode: {e}"));
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().map_err(broken)?;
    // Text chunks may come after the image data: read to the end.
    reader.finish().map_err(broken)?;
    let info = reader.info();
    let mut chunks: Vec<(String, String)> = Vec::new();
    for chunk in &info.uncompressed_latin1_text {
        chunks.push((chunk.keyword.clone(), chunk.text.clone()));
    }
    for chunk in &info.compressed_latin1_text {
        let mut chunk = chunk.clone();
        if chunk.decompress_text_with_limit(TEXT_LIMIT).is_ok()
            && let Ok(text) = chunk.get_text()
        {
            chunks.push((chunk.keyword, text));
        }
    }
    for chunk in &info.utf8_text {
        let mut chunk = chunk.clone();
        if chunk.decompress_text_with_limit(TEXT_LIMIT).is_ok()
            && let Ok(text) = chunk.get_text()
        {
            chunks.push((chunk.keyword, text));
        }
    }
    let chunk = |keyword: &str| chunks.iter().find(|(k, _)| k.eq_ignore_ascii_case(keyword)).map(|(_, t)| t);
    let (keyword, text) = match (chunk("ccv3"), chunk("chara")) {
        (Some(text), _) => ("ccv3", text),
        (None, Some(text)) => ("chara", text),
        (None, None) => return Err(CardError::NotACard("a PNG without a `ccv3` or `chara` text chunk".into())),
    };
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let json = LENIENT
        .decode(&compact)
        .map_err(|e| CardError::Invalid(format!("the `{keyword}` chunk is not base64: {e}")))?;
    serde_json::from_slice(&json).map_err(|e| CardError::Invalid(format!("the `{keyword}` chunk is not JSON: {e}")))
}

/// `rgba` (`width` × `height`) as a PNG carrying both cards: `chara` (V2) and `ccv3` (V3).
pub fn write_card(rgba: &[u8], width: u32, height: u32, v2: &Value, v3: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    for (keyword, card) in [("chara", v2), ("ccv3", v3)] {
        let text = STANDARD.encode(serde_json::to_vec(card).expect("plain data"));
        encoder.add_text_chunk(keyword.into(), text).expect("a valid keyword");
    }
    let mut writer = encoder.write_header().expect("writing to memory");
    writer.write_image_data(rgba).expect("the image matches its size");
    writer.finish().expect("writing to memory");
    out
}
