//! `/api/characters` and `/api/prompts`: ownership, visibility, validation, admin rules.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, error_code, spawn_app};

async fn characters_are_private_to_their_owner_and_public_ones_read_only(engine: Engine) {
    let app = spawn_app(engine).await;
    let (alice, bob) = (app.new_user().await, app.new_user().await);
    let private = app.create_character(&alice.token, json!({"name": "Secret"})).await;
    let public = app.create_character(&alice.token, json!({"name": "Open", "visibility": "public"})).await;
    let (private_url, public_url) =
        (format!("/api/characters/{}", private["id"]), format!("/api/characters/{}", public["id"]));

    let listed: Value = app.get_authed("/api/characters", &bob.token).await.json().await.unwrap();
    let names: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Open"]);
    assert_eq!(listed["total"], 1);

    let (code, _) = error_code(app.get_authed(&private_url, &bob.token).await, StatusCode::NOT_FOUND).await;
    assert_eq!(code, "not_found");
    assert_eq!(app.get_authed(&public_url, &bob.token).await.status(), StatusCode::OK);
    let edit = json!({"name": "Hijacked", "visibility": "public"});
    error_code(app.put_authed(&public_url, &bob.token, &edit).await, StatusCode::FORBIDDEN).await;
    error_code(app.put_authed(&private_url, &bob.token, &edit).await, StatusCode::NOT_FOUND).await;
    error_code(app.delete_authed(&public_url, &bob.token).await, StatusCode::FORBIDDEN).await;
    error_code(app.delete_authed(&private_url, &bob.token).await, StatusCode::NOT_FOUND).await;
    let unchanged: Value = app.get_authed(&public_url, &alice.token).await.json().await.unwrap();
    assert_eq!(unchanged["name"], "Open");

    let updated = app.put_authed(&public_url, &alice.token, &json!({"name": "Renamed", "tags": ["Fun"]})).await;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(
        (updated["name"].as_str(), updated["visibility"].as_str()),
        (Some("Renamed"), Some("private")),
        "PUT replaces"
    );
    assert_eq!(updated["tags"], json!(["Fun"]), "tags keep their case");

    assert_eq!(app.delete_authed(&private_url, &alice.token).await.status(), StatusCode::NO_CONTENT);
    error_code(app.get_authed(&private_url, &alice.token).await, StatusCode::NOT_FOUND).await;
}

async fn admins_may_edit_any_character(engine: Engine) {
    let app = spawn_app(engine).await;
    let (alice, admin) = (app.new_user().await, app.new_user().await);
    app.make_admin(admin.id).await;
    let private = app.create_character(&alice.token, json!({"name": "Secret"})).await;
    let url = format!("/api/characters/{}", private["id"]);

    assert_eq!(app.get_authed(&url, &admin.token).await.status(), StatusCode::OK);
    assert_eq!(app.put_authed(&url, &admin.token, &json!({"name": "Moderated"})).await.status(), StatusCode::OK);
    assert_eq!(app.delete_authed(&url, &admin.token).await.status(), StatusCode::NO_CONTENT);
}

async fn character_fields_are_validated_and_nothing_is_stored(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(129)}), "name"),
        (json!({"name": "A", "system_prompt": "가".repeat(32_001)}), "system_prompt"),
        (json!({"name": "A", "greeting": "g".repeat(32_001)}), "greeting"),
        (json!({"name": "A", "description": "d".repeat(32_001)}), "description"),
        (json!({"name": "A", "alternate_greetings": ["g".repeat(32_001)]}), "alternate_greetings"),
        (json!({"name": "A", "creator_notes": "n".repeat(32_001)}), "creator_notes"),
        (
            json!({"name": "A", "character_book": {"entries": [{"keys": ["k"], "content": "c".repeat(16_001)}]}}),
            "character_book",
        ),
        (json!({"name": "A", "model": "no-such-model"}), "model"),
        (json!({"name": "A", "avatar_url": "ftp://x"}), "avatar_url"),
        (json!({"name": "A", "tags": ["bad\ttag"]}), "tags"),
        (json!({"name": "A", "tags": ["t".repeat(65)]}), "tags"),
        (json!({"name": "A", "visibility": "secret"}), "visibility"),
    ];
    for (body, field) in cases {
        let resp = app.post_authed("/api/characters", &user.token, &body).await;
        let expected = if field == "visibility" { StatusCode::BAD_REQUEST } else { StatusCode::UNPROCESSABLE_ENTITY };
        let (_, got) = error_code(resp, expected).await;
        assert_eq!(got.as_deref(), Some(field));
    }
    let ok = json!({"name": "A", "system_prompt": "가".repeat(32_000), "model": "fake-openai"});
    assert_eq!(app.post_authed("/api/characters", &user.token, &ok).await.status(), StatusCode::CREATED);
    let listed: Value = app.get_authed("/api/characters?mine=true", &user.token).await.json().await.unwrap();
    assert_eq!(listed["total"], 1);
}

async fn characters_can_be_searched_filtered_and_paged(engine: Engine) {
    let app = spawn_app(engine).await;
    let (alice, bob) = (app.new_user().await, app.new_user().await);
    app.create_character(
        &alice.token,
        json!({"name": "Aria", "description": "A wandering bard", "tags": ["music"], "visibility": "public"}),
    )
    .await;
    app.create_character(&alice.token, json!({"name": "Borin", "description": "A dwarf smith", "tags": ["craft"]}))
        .await;
    app.create_character(
        &bob.token,
        json!({"name": "Cyra", "description": "Bard of 100% fame", "tags": ["music", "fame"]}),
    )
    .await;
    let names = |v: Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
    };
    let get = |q: &'static str| app.get_authed(q, &bob.token);

    assert_eq!(names(get("/api/characters?q=BARD").await.json().await.unwrap()), ["Cyra", "Aria"]);
    assert_eq!(names(get("/api/characters?q=100%25").await.json().await.unwrap()), ["Cyra"], "% is literal");
    assert_eq!(names(get("/api/characters?tag=music").await.json().await.unwrap()), ["Cyra", "Aria"]);
    assert_eq!(names(get("/api/characters?tag=mus").await.json().await.unwrap()), Vec::<String>::new(), "whole tags");
    assert_eq!(names(get("/api/characters?mine=true").await.json().await.unwrap()), ["Cyra"]);
    let page: Value = get("/api/characters?limit=1&page=2").await.json().await.unwrap();
    assert_eq!((names(page.clone()), page["total"].as_i64()), (vec!["Aria".to_owned()], Some(2)));
    let (code, field) = error_code(get("/api/characters?limit=500").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!((code.as_str(), field.as_deref()), ("invalid_parameter", Some("limit")));
    error_code(get("/api/characters?mine=perhaps").await, StatusCode::BAD_REQUEST).await;
}

async fn shared_prompts_are_written_by_admins_and_read_by_all(engine: Engine) {
    let app = spawn_app(engine).await;
    let (user, admin) = (app.new_user().await, app.new_user().await);
    app.make_admin(admin.id).await;
    let prompt = json!({"name": "Safety", "content": "Be kind.", "position": 2});

    let (code, _) =
        error_code(app.post_authed("/api/prompts", &user.token, &prompt).await, StatusCode::FORBIDDEN).await;
    assert_eq!(code, "forbidden");
    let created = app.post_authed("/api/prompts", &admin.token, &prompt).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let first = json!({"name": "Style", "content": "Short answers.", "position": 1});
    app.post_authed("/api/prompts", &admin.token, &first).await;
    let hidden = json!({"name": "Draft", "content": "Not yet.", "enabled": false});
    app.post_authed("/api/prompts", &admin.token, &hidden).await;

    let seen: Value = app.get_authed("/api/prompts", &user.token).await.json().await.unwrap();
    let names: Vec<&str> = seen["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Style", "Safety"]);
    let all: Value = app.get_authed("/api/prompts", &admin.token).await.json().await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);

    let url = format!("/api/prompts/{}", created["id"]);
    error_code(app.put_authed(&url, &user.token, &prompt).await, StatusCode::FORBIDDEN).await;
    error_code(app.delete_authed(&url, &user.token).await, StatusCode::FORBIDDEN).await;
    let too_long = json!({"name": "Long", "content": "x".repeat(8001)});
    let (_, field) =
        error_code(app.post_authed("/api/prompts", &admin.token, &too_long).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(field.as_deref(), Some("content"));
    let disabled = json!({"name": "Safety", "content": "Be kind.", "enabled": false});
    assert_eq!(app.put_authed(&url, &admin.token, &disabled).await.status(), StatusCode::OK);
    assert_eq!(app.delete_authed(&url, &admin.token).await.status(), StatusCode::NO_CONTENT);
    error_code(app.delete_authed(&url, &admin.token).await, StatusCode::NOT_FOUND).await;
}

async fn models_list_the_catalogue_and_never_show_keys(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;

    let resp = app.get_authed("/api/models", &user.token).await;

    let text = resp.text().await.unwrap();
    assert!(!text.contains(crate::helpers::OPENAI_KEY) && !text.contains("127.0.0.1"), "{text}");
    let models: Value = serde_json::from_str(&text).unwrap();
    let ids: Vec<&str> = models["items"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["fake-openai", "fake-anthropic", "fake-dify", "demo"]);
    assert_eq!(models["items"][0]["is_default"], true);
    assert_eq!(models["items"][0]["input_price_per_mtok"], 1.0);
    error_code(app.get("/api/models").await, StatusCode::UNAUTHORIZED).await;
}

/// Today's editor knows only some fields: a PUT without the card's own fields keeps them;
/// `character_book: null` removes the lorebook. A new chat offers every greeting.
async fn card_fields_survive_an_editor_that_does_not_know_them(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let book = json!({"name": "World", "scan_depth": 4, "extensions": {"x": 1},
        "entries": [{"id": "a1", "keys": ["dragon"], "content": "Dragons sleep.", "enabled": true, "insertion_order": 3, "use_regex": false, "extensions": {}}]});
    let card = json!({"name": "Aria", "greeting": "Hello, {{user}}!", "alternate_greetings": ["Hi.", "Yo."],
        "post_history_instructions": "Stay brief.", "creator_notes": "Made for tests", "creator": "anon",
        "character_version": "1.2", "extensions": {"depth_prompt": {"depth": 4, "prompt": "x"}}, "character_book": book,
        "tags": ["Fantasy", "OC"]});
    let created = app.create_character(&user.token, card.clone()).await;
    let url = format!("/api/characters/{}", created["id"]);
    for field in [
        "alternate_greetings",
        "post_history_instructions",
        "creator_notes",
        "creator",
        "character_version",
        "extensions",
        "character_book",
        "tags",
    ] {
        assert_eq!(created[field], card[field], "{field}");
    }
    assert_eq!(created["has_avatar"], false);

    let edited = app.put_authed(&url, &user.token, &json!({"name": "Aria", "description": "Edited"})).await;
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["description"], "Edited");
    for field in ["alternate_greetings", "creator", "extensions", "character_book"] {
        assert_eq!(edited[field], card[field], "{field} kept by a PUT that leaves it out");
    }
    assert_eq!(edited["greeting"], "", "the fields of before are replaced as ever");

    let chat = app.post_authed("/api/chats", &user.token, &json!({"character_id": created["id"]})).await;
    assert_eq!(chat.status(), StatusCode::CREATED, "greeting-less now, the alternates still greet");
    let chat: Value = chat.json().await.unwrap();
    let messages: Value =
        app.get_authed(&format!("/api/chats/{}/messages", chat["id"]), &user.token).await.json().await.unwrap();
    assert_eq!(messages["items"][0]["alternative_count"], 2);
    assert_eq!(messages["items"][0]["content"], "Hi.");

    let cleared = app.put_authed(&url, &user.token, &json!({"name": "Aria", "character_book": null})).await;
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(cleared["character_book"], Value::Null);
    assert_eq!(cleared["creator"], "anon");
    let (_, field) = error_code(
        app.put_authed(&url, &user.token, &json!({"name": "Aria", "creator": null})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(field.as_deref(), Some("creator"), "null is no value for a text");
}

crate::engine_tests!(
    card_fields_survive_an_editor_that_does_not_know_them,
    characters_are_private_to_their_owner_and_public_ones_read_only,
    admins_may_edit_any_character,
    character_fields_are_validated_and_nothing_is_stored,
    characters_can_be_searched_filtered_and_paged,
    shared_prompts_are_written_by_admins_and_read_by_all,
    models_list_the_catalogue_and_never_show_keys,
);
