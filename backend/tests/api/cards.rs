//! Character cards in and out (`/api/characters/import`, `…/export`) and avatars: every kind
//! of card, one bad file among good ones, round trips, images, and who may do what.

use std::io::{Cursor, Write};

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{Engine as Db, TestApp, TestUser, error_code, spawn_app};

/// A PNG of `width` × `height` carrying the cards given, each as base64 in a text chunk.
pub fn png(width: u32, height: u32, cards: &[(&str, &Value)]) -> Vec<u8> {
    let chunks: Vec<(&str, String)> = cards.iter().map(|(k, card)| (*k, STANDARD.encode(card.to_string()))).collect();
    png_with_text(width, height, &chunks)
}

fn png_with_text(width: u32, height: u32, chunks: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    for (keyword, text) in chunks {
        encoder.add_text_chunk((*keyword).into(), text.clone()).unwrap();
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&vec![200; (width * height * 4) as usize]).unwrap();
    writer.finish().unwrap();
    out
}

fn charx(card: &Value, icon: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("card.json", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(card.to_string().as_bytes()).unwrap();
    zip.start_file("assets/icon/images/main.png", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(icon).unwrap();
    zip.finish().unwrap().into_inner()
}

pub fn v2_with_book(name: &str) -> Value {
    json!({"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": name, "description": "A lighthouse keeper", "personality": "Gruff", "scenario": "A storm",
        "first_mes": "Who goes there, {{user}}?", "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Hm.",
        "system_prompt": "", "post_history_instructions": "", "alternate_greetings": ["Ah, a visitor."],
        "tags": ["Gothic", "OC"], "creator": "anon", "character_version": "2", "creator_notes": "notes",
        "extensions": {"world": "Isle"},
        "character_book": {"name": "Isle lore", "scan_depth": 3, "extensions": {},
            "entries": [{"keys": ["lamp"], "content": "The lamp never goes out.", "extensions": {}, "enabled": true,
                "insertion_order": 1, "id": 7, "selective": true, "secondary_keys": ["night"]}]}}})
}

fn v3(name: &str) -> Value {
    json!({"spec": "chara_card_v3", "spec_version": "3.0", "data": {
        "name": name, "description": "", "personality": "", "scenario": "", "first_mes": "Hello.",
        "mes_example": "", "system_prompt": "{{original}} Be brief.", "post_history_instructions": "Stay in character.",
        "alternate_greetings": [], "tags": [], "creator": "", "character_version": "", "creator_notes": "",
        "extensions": {}, "group_only_greetings": ["All of you!"], "nickname": "Vee", "source": ["https://example.org/v"],
        "assets": [{"type": "icon", "uri": "embeded://assets/icon/images/main.png", "name": "main", "ext": "png"}]}})
}

/// A multipart body of `file` parts.
pub async fn upload(app: &TestApp, user: &TestUser, query: &str, files: &[(&str, Vec<u8>)]) -> Response {
    let boundary = "troupe-card-boundary";
    let mut body = Vec::new();
    for (name, bytes) in files {
        write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n").unwrap();
        body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    app.client
        .post(app.url(&format!("/api/characters/import{query}")))
        .bearer_auth(&user.token)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn put_avatar(app: &TestApp, user: &TestUser, id: &Value, bytes: Vec<u8>) -> Response {
    let url = app.url(&format!("/api/characters/{id}/avatar"));
    app.client.put(url).bearer_auth(&user.token).body(bytes).send().await.unwrap()
}

async fn mine(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let listed: Value = app.get_authed("/api/characters?mine=true", &user.token).await.json().await.unwrap();
    listed["items"].as_array().unwrap().clone()
}

async fn every_kind_of_card_imports_and_a_bad_file_stops_nothing(engine: Db) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let files = [
        ("keeper.json", v2_with_book("Keeper").to_string().into_bytes()),
        ("vee.png", png(8, 8, &[("chara", &v2_with_book("Old Vee")), ("ccv3", &v3("Vee"))])),
        ("broken.png", png(8, 8, &[("chara", &json!("x"))])[..60].to_vec()),
        ("zed.charx", charx(&v3("Zed"), &png(4, 4, &[]))),
        ("notes.txt", b"just some words".to_vec()),
        ("photo.png", png(4, 4, &[])),
        ("bad64.png", png_with_text(2, 2, &[("ccv3", "%%% not base64".into())])),
        ("nothing.png", png(2, 2, &[("ccv3", &json!({"hello": "world"}))])),
    ];
    let resp = upload(&app, &user, "?visibility=public", &files).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["file_name"].as_str().unwrap()).collect();
    assert_eq!(names, files.iter().map(|(n, _)| *n).collect::<Vec<_>>(), "one item per file, in order");
    let outcome: Vec<String> = items
        .iter()
        .map(|i| match (&i["character"], &i["error"]) {
            (Value::Object(c), _) => c["name"].as_str().unwrap().to_string(),
            (_, error) => error["code"].as_str().unwrap().to_owned(),
        })
        .collect();
    assert_eq!(
        outcome,
        [
            "Keeper",
            "Vee",
            "invalid_image",
            "Zed",
            "not_a_character_card",
            "not_a_character_card",
            "invalid_card",
            "not_a_character_card"
        ]
    );

    let keeper = &items[0]["character"];
    assert_eq!(keeper["visibility"], "public", "?visibility applies to all");
    assert_eq!(keeper["greeting"], "Who goes there, {{user}}?");
    assert_eq!(keeper["alternate_greetings"], json!(["Ah, a visitor."]));
    assert_eq!(keeper["tags"], json!(["Gothic", "OC"]));
    assert_eq!(keeper["character_book"]["entries"][0]["secondary_keys"], json!(["night"]));
    assert_eq!(keeper["extensions"], json!({"world": "Isle"}));
    assert_eq!(keeper["has_avatar"], false);
    let vee = &items[1]["character"];
    assert_eq!(
        (vee["has_avatar"].as_bool(), vee["post_history_instructions"].as_str()),
        (Some(true), Some("Stay in character."))
    );
    assert_eq!(items[3]["character"]["has_avatar"], true, "the CHARX icon is the avatar");
    assert_eq!(mine(&app, &user).await.len(), 3, "the bad files stored nothing");

    // The PNG's picture is the avatar, re-encoded without its card chunks.
    let avatar = app.get_authed(&format!("/api/characters/{}/avatar", vee["id"]), &user.token).await;
    assert_eq!(avatar.headers()[header::CONTENT_TYPE], "image/png");
    let image = avatar.bytes().await.unwrap();
    let reader = png::Decoder::new(Cursor::new(image.to_vec())).read_info().unwrap();
    assert!(reader.info().uncompressed_latin1_text.is_empty(), "metadata dropped");
}

async fn exports_import_back_as_the_same_character(engine: Db) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let imported = upload(
        &app,
        &user,
        "",
        &[
            ("vee.charx", charx(&v3("Vee"), &png(4, 4, &[]))),
            ("keeper.json", v2_with_book("Keeper").to_string().into_bytes()),
        ],
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    for item in imported["items"].as_array().unwrap() {
        let original = &item["character"];
        let id = &original["id"];
        for format in ["png", "json"] {
            let export = app.get_authed(&format!("/api/characters/{id}/export?format={format}"), &user.token).await;
            assert_eq!(export.status(), StatusCode::OK);
            let disposition = export.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_owned();
            assert!(disposition.starts_with("attachment; filename=") && disposition.ends_with(&format!(".{format}\"")));
            let bytes = export.bytes().await.unwrap().to_vec();
            if format == "png" {
                let mut reader = png::Decoder::new(Cursor::new(bytes.clone())).read_info().unwrap();
                reader.finish().unwrap();
                let keywords: Vec<&str> =
                    reader.info().uncompressed_latin1_text.iter().map(|c| c.keyword.as_str()).collect();
                assert_eq!(keywords, ["chara", "ccv3"], "both cards, as tEXt chunks");
            }
            let again = upload(&app, &user, "", &[("again", bytes)]).await.json::<Value>().await.unwrap();
            let copy = &again["items"][0]["character"];
            for field in [
                "name",
                "description",
                "personality",
                "scenario",
                "system_prompt",
                "greeting",
                "example_dialogue",
                "tags",
                "alternate_greetings",
                "post_history_instructions",
                "creator_notes",
                "creator",
                "character_version",
                "extensions",
                "character_book",
                "model",
                "avatar_url",
            ] {
                assert_eq!(copy[field], original[field], "{field} of {} through {format}", original["name"]);
            }
            if format == "png" {
                assert_eq!(copy["has_avatar"], true);
            }
        }
    }
}

async fn avatars_are_images_cached_with_etags_and_only_owners_change_them(engine: Db) {
    let app = spawn_app(engine).await;
    let (alice, bob) = (app.new_user().await, app.new_user().await);
    let public = app.create_character(&alice.token, json!({"name": "Open", "visibility": "public"})).await;
    let private = app.create_character(&alice.token, json!({"name": "Hidden"})).await;
    let (public_id, private_id) = (&public["id"], &private["id"]);

    error_code(
        app.get_authed(&format!("/api/characters/{public_id}/avatar"), &alice.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let set = put_avatar(&app, &alice, public_id, png(2000, 500, &[])).await;
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(set.json::<Value>().await.unwrap()["has_avatar"], true);
    let got = app.get_authed(&format!("/api/characters/{public_id}/avatar"), &bob.token).await;
    assert_eq!(got.status(), StatusCode::OK, "anyone who may read the character");
    let etag = got.headers()[header::ETAG].to_str().unwrap().to_owned();
    assert_eq!(got.headers()[header::CACHE_CONTROL], "private, no-cache");
    let image = got.bytes().await.unwrap();
    let reader = png::Decoder::new(Cursor::new(image.to_vec())).read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (1024, 256), "at most 1024 px a side");
    let again = app
        .client
        .get(app.url(&format!("/api/characters/{public_id}/avatar")))
        .bearer_auth(&bob.token)
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let (code, _) = error_code(
        put_avatar(&app, &alice, public_id, b"GIF89a not allowed".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "invalid_image");
    error_code(put_avatar(&app, &alice, public_id, vec![0; 5 * 1024 * 1024 + 1]).await, StatusCode::PAYLOAD_TOO_LARGE)
        .await;
    let still: Value =
        app.get_authed(&format!("/api/characters/{public_id}"), &alice.token).await.json().await.unwrap();
    assert_eq!(still["has_avatar"], true, "a refused upload changes nothing");

    // Others: 403 on a public character they can see, 404 on a private one.
    error_code(put_avatar(&app, &bob, public_id, png(4, 4, &[])).await, StatusCode::FORBIDDEN).await;
    error_code(
        app.delete_authed(&format!("/api/characters/{public_id}/avatar"), &bob.token).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    for (method, path) in [("PUT", "avatar"), ("DELETE", "avatar"), ("GET", "avatar"), ("GET", "export")] {
        let url = app.url(&format!("/api/characters/{private_id}/{path}"));
        let request = match method {
            "PUT" => app.client.put(url).body(png(4, 4, &[])),
            "DELETE" => app.client.delete(url),
            _ => app.client.get(url),
        };
        error_code(request.bearer_auth(&bob.token).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    }

    assert_eq!(
        app.delete_authed(&format!("/api/characters/{public_id}/avatar"), &alice.token).await.status(),
        StatusCode::NO_CONTENT
    );
    error_code(
        app.get_authed(&format!("/api/characters/{public_id}/avatar"), &alice.token).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn imports_are_bounded_and_need_a_session(engine: Db) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let many: Vec<(&str, Vec<u8>)> = (0..101).map(|_| ("c.json", v2_with_book("X").to_string().into_bytes())).collect();
    error_code(upload(&app, &user, "", &many).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    let big = vec![(("big.json"), vec![b' '; 33 * 1024 * 1024])];
    error_code(upload(&app, &user, "", &big).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    let raw =
        app.client.post(app.url("/api/characters/import")).bearer_auth(&user.token).body("{}").send().await.unwrap();
    error_code(raw, StatusCode::BAD_REQUEST).await;
    assert!(mine(&app, &user).await.is_empty());
    for (method, path) in [
        ("POST", "/api/characters/import"),
        ("GET", "/api/characters/1/export"),
        ("GET", "/api/characters/1/avatar"),
        ("PUT", "/api/characters/1/avatar"),
        ("DELETE", "/api/characters/1/avatar"),
    ] {
        let url = app.url(path);
        let request = match method {
            "POST" => app.client.post(url),
            "PUT" => app.client.put(url),
            "DELETE" => app.client.delete(url),
            _ => app.client.get(url),
        };
        error_code(request.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    }
}

crate::engine_tests!(
    every_kind_of_card_imports_and_a_bad_file_stops_nothing,
    exports_import_back_as_the_same_character,
    avatars_are_images_cached_with_etags_and_only_owners_change_them,
    imports_are_bounded_and_need_a_session,
);
