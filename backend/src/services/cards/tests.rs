//! The card kinds read as the specs say, and an export reads back as the same character.

use std::io::{Cursor, Write};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use troupe_types::Visibility;

use super::*;
use crate::domain::{CardFields as StoredCard, CharacterDraft, CharacterId, UserId};

fn png_with(chunks: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut out, 1, 1);
    encoder.set_color(::png::ColorType::Rgba);
    for (keyword, text) in chunks {
        encoder.add_text_chunk((*keyword).into(), (*text).into()).unwrap();
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[1, 2, 3, 255]).unwrap();
    writer.finish().unwrap();
    out
}

fn b64(card: &Value) -> String {
    STANDARD.encode(card.to_string())
}

fn v2(name: &str) -> Value {
    json!({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": name, "first_mes": "Hi", "mes_example": "",
        "tags": ["A"], "extensions": {"talkativeness": "0.5"},
        "character_book": {"entries": [{"keys": ["k"], "content": "c", "extensions": {}, "enabled": true, "insertion_order": 0}], "extensions": {}}}})
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn code(result: Result<Card, CardError>) -> &'static str {
    result.err().map_or("ok", |e| e.code())
}

#[test]
fn json_cards_of_every_version() {
    let v1 =
        read(br#"{"name": "Old", "description": "d", "first_mes": "Hello", "mes_example": "<START>", "chat": "x"}"#)
            .unwrap();
    assert_eq!((v1.fields.input.name.as_str(), v1.fields.input.greeting.as_str()), ("Old", "Hello"));
    assert!(v1.fields.extra.is_empty(), "a V1 file's leftovers are not card fields");
    let tavern = read(br#"{"char_name": "Pyg", "char_persona": "p", "char_greeting": "g"}"#).unwrap();
    assert_eq!((tavern.fields.input.name.as_str(), tavern.fields.input.personality.as_str()), ("Pyg", "p"));
    let two = read(v2("Two").to_string().as_bytes()).unwrap();
    let book = two.fields.input.character_book.clone().flatten().unwrap();
    assert_eq!(book.entries[0].keys, ["k"]);
    let three = json!({"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "Three", "nickname": "T",
        "group_only_greetings": ["g"], "source": ["https://x"], "assets": [], "first_mes": ""}});
    let three = read(three.to_string().as_bytes()).unwrap();
    assert_eq!(three.fields.extra["nickname"], "T", "V3 fields Troupe does not model are kept");
    assert_eq!(code(read(br#"{"hello": "world"}"#)), "not_a_character_card");
    assert_eq!(
        code(read(br#"{"spec": "chara_card_v2", "data": {"name": "x", "tags": "not a list"}}"#)),
        "invalid_card"
    );
    assert_eq!(code(read(br#"{"name": "broken"#)), "invalid_card");
    assert_eq!(code(read(b"plain words")), "not_a_character_card");
}

#[test]
fn png_cards_prefer_ccv3_and_refuse_broken_chunks() {
    let v3 = json!({"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "Vee Three"}});
    let both = read(&png_with(&[("chara", &b64(&v2("Vee Two"))), ("ccv3", &b64(&v3))])).unwrap();
    assert_eq!(both.fields.input.name, "Vee Three");
    assert!(both.image.is_some(), "the picture comes along");
    let old = read(&png_with(&[("chara", &b64(&v2("Vee Two")))])).unwrap();
    assert_eq!(old.fields.input.name, "Vee Two");
    assert_eq!(code(read(&png_with(&[("Comment", "hello")]))), "not_a_character_card");
    assert_eq!(code(read(&png_with(&[("chara", "%%% not base64")]))), "invalid_card");
    assert_eq!(code(read(&png_with(&[("chara", &STANDARD.encode("{not json"))]))), "invalid_card");
}

#[test]
fn png_cards_in_compressed_and_international_text_chunks() {
    let with = |add: &dyn Fn(&mut ::png::Encoder<&mut Vec<u8>>)| {
        let mut out = Vec::new();
        let mut encoder = ::png::Encoder::new(&mut out, 1, 1);
        encoder.set_color(::png::ColorType::Rgba);
        add(&mut encoder);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[1, 2, 3, 255]).unwrap();
        writer.finish().unwrap();
        out
    };
    let ztxt = with(&|e| e.add_ztxt_chunk("chara".into(), b64(&v2("Zipped"))).unwrap());
    assert_eq!(read(&ztxt).unwrap().fields.input.name, "Zipped");
    let itxt = with(&|e| e.add_itxt_chunk("chara".into(), b64(&v2("Intl"))).unwrap());
    assert_eq!(read(&itxt).unwrap().fields.input.name, "Intl");
}

#[test]
fn charx_reads_the_card_and_its_icon_and_refuses_escapes() {
    let card = |uri: &str| {
        json!({"spec": "chara_card_v3", "spec_version": "3.0", "data": {"name": "Zed",
            "assets": [{"type": "icon", "uri": uri, "name": "main", "ext": "png"}]}})
        .to_string()
    };
    let icon = png_with(&[]);
    let ok = read(&zip(&[
        ("card.json", card("embeded://assets/icon/images/main.png").as_bytes()),
        ("assets/icon/images/main.png", &icon),
    ]))
    .unwrap();
    assert_eq!((ok.fields.input.name.as_str(), ok.image.as_deref()), ("Zed", Some(icon.as_slice())));
    assert_eq!(code(read(&zip(&[("other.json", b"{}")]))), "not_a_character_card");
    let escape = zip(&[("card.json", card("embeded://../../etc/passwd").as_bytes())]);
    assert_eq!(code(read(&escape)), "invalid_card");
    assert_eq!(code(read(b"PK\x03\x04 not really a zip")), "invalid_card");
}

#[test]
fn an_exported_card_reads_back_as_the_same_character() {
    let mut input = read(v2("Round").to_string().as_bytes()).unwrap().fields.input;
    input.model = Some("demo".into());
    input.avatar_url = Some("https://example.org/a.png".into());
    input.visibility = Visibility::Private;
    let kept = StoredCard { extra: [("nickname".to_owned(), Value::from("R"))].into(), ..StoredCard::default() };
    let draft = CharacterDraft::parse_over(input, &kept).unwrap();
    let character = Character {
        id: CharacterId::new(1),
        owner_id: UserId::new(1),
        fields: draft.clone(),
        has_avatar: false,
        created_at: 0,
        updated_at: 0,
        revision: 0,
    };
    for bytes in [to_json(&character).into_bytes(), to_png(&character, &[0, 0, 0, 255], 1, 1)] {
        let back = read(&bytes).unwrap().fields;
        let again = CharacterDraft::parse_over(back.input, &StoredCard { extra: back.extra, ..StoredCard::default() });
        assert_eq!(again.unwrap(), draft);
    }
    let v2_chunk = json::v2(&character);
    assert!(v2_chunk["data"]["creator_notes"].as_str().unwrap().contains("Character Card V3"));
}
