//! Personas, lorebooks and what the card specs put in a prompt, read from what the fake
//! upstream received for each provider.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Engine, TestApp, TestUser, error_code, spawn_app};

const MODELS: [&str; 3] = ["fake-openai", "fake-anthropic", "fake-dify"];

/// A chat with `character` (a body for POST /api/characters) on `model`; returns its id.
async fn chat_with(app: &TestApp, user: &TestUser, character: Value, model: &str, extra: Value) -> i64 {
    let character = app.create_character(&user.token, character).await;
    let mut body = json!({"character_id": character["id"], "model": model});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let resp = app.post_authed("/api/chats", &user.token, &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// Sends `content` and returns the body the provider received.
async fn sent(app: &TestApp, user: &TestUser, chat: i64, content: &str) -> Value {
    let resp = app.send(&user.token, chat, content).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    app.upstream.received().pop().unwrap().body
}

/// The system text a provider was given, whichever its wire format.
fn system_of(body: &Value) -> String {
    body["system"]
        .as_str()
        .or(body["inputs"]["system_prompt"].as_str())
        .or(body["messages"][0]["content"].as_str())
        .unwrap()
        .to_owned()
}

async fn create(app: &TestApp, user: &TestUser, path: &str, body: Value) -> Value {
    let resp = app.post_authed(path, &user.token, &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn personas_are_who_the_user_is_in_the_prompt_and_the_greeting(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let character = json!({"name": "Aria", "system_prompt": "{{char}} talks to {{user}}.", "greeting": "Hi {{user}}!"});

    let plain = chat_with(&app, &user, character.clone(), "fake-openai", json!({})).await;
    assert_eq!(app.messages(&user.token, plain).await[0]["content"], format!("Hi {}!", user.username));

    let knight =
        create(&app, &user, "/api/personas", json!({"name": "Sir Bob", "description": "{{user}} is a knight."})).await;
    let default = create(&app, &user, "/api/personas", json!({"name": "Robert", "is_default": true})).await;
    let named = chat_with(&app, &user, character.clone(), "fake-openai", json!({"persona_id": knight["id"]})).await;
    assert_eq!(app.messages(&user.token, named).await[0]["content"], "Hi Sir Bob!");
    let system = system_of(&sent(&app, &user, named, "hello").await);
    assert!(system.contains("Aria talks to Sir Bob.") && system.contains("Sir Bob is a knight."), "{system}");

    let defaulted = chat_with(&app, &user, character.clone(), "fake-openai", json!({})).await;
    assert_eq!(app.messages(&user.token, defaulted).await[0]["content"], "Hi Robert!");
    assert!(system_of(&sent(&app, &user, defaulted, "hello").await).contains("Aria talks to Robert."));

    // One default at a time; switching a chat's persona, and back to the default with null.
    let knight_default = app
        .put_authed(
            &format!("/api/personas/{}", knight["id"]),
            &user.token,
            &json!({"name": "Sir Bob", "description": "{{user}} is a knight.", "is_default": true}),
        )
        .await;
    assert_eq!(knight_default.status(), StatusCode::OK);
    let list: Value = app.get_authed("/api/personas", &user.token).await.json().await.unwrap();
    let defaults: Vec<&Value> = list["items"].as_array().unwrap().iter().filter(|p| p["is_default"] == true).collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["id"], knight["id"]);
    let url = format!("/api/chats/{defaulted}");
    let patched: Value =
        app.patch_authed(&url, &user.token, &json!({"persona_id": default["id"]})).await.json().await.unwrap();
    assert_eq!(patched["persona_id"], default["id"]);
    assert!(system_of(&sent(&app, &user, defaulted, "hi").await).contains("talks to Robert."));
    let patched: Value = app.patch_authed(&url, &user.token, &json!({"persona_id": null})).await.json().await.unwrap();
    assert_eq!(patched["persona_id"], Value::Null);
    assert!(system_of(&sent(&app, &user, defaulted, "hi").await).contains("talks to Sir Bob."));

    // Deleting a persona sends its chats back to the default.
    let deleted = app.delete_authed(&format!("/api/personas/{}", default["id"]), &user.token).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let chat: Value = app.get_authed(&format!("/api/chats/{named}"), &user.token).await.json().await.unwrap();
    assert_eq!(chat["persona_id"], knight["id"]);

    let (code, field) = error_code(
        app.post_authed("/api/personas", &user.token, &json!({"name": " "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!((code.as_str(), field.as_deref()), ("required", Some("name")));
}

async fn lorebooks_import_and_attach_and_their_entries_reach_the_prompt(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let world_info = json!({"entries": {
        "0": {"uid": 0, "key": ["harbor"], "keysecondary": [], "content": "The harbor freezes in winter.",
              "constant": false, "selective": false, "order": 10, "position": 0, "disable": false, "comment": "Harbor"},
        "1": {"uid": 1, "key": ["ghost"], "keysecondary": ["night"], "content": "Ghosts walk at night.",
              "constant": false, "selective": true, "order": 20, "position": 1, "disable": false},
        "2": {"uid": 2, "key": [], "content": "It always rains.", "constant": true, "order": 5, "position": 0,
              "disable": false}}});
    let resp = app
        .client
        .post(app.url("/api/lorebooks/import?name=Isle"))
        .bearer_auth(&user.token)
        .body(world_info.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap());
    let book: Value = resp.json().await.unwrap();
    assert_eq!((book["name"].as_str(), book["entries"].as_array().unwrap().len()), (Some("Isle"), 3));

    let character = json!({"name": "Keeper", "description": "{{char}} keeps the lighthouse.",
        "character_book": {"entries": [{"keys": ["Lamp"], "content": "The lamp never goes out.", "enabled": true,
            "insertion_order": 1, "position": "after_char"}]}});
    let chat = chat_with(&app, &user, character, "fake-openai", json!({})).await;
    let patch =
        app.patch_authed(&format!("/api/chats/{chat}"), &user.token, &json!({"lorebook_ids": [book["id"]]})).await;
    assert_eq!(patch.status(), StatusCode::OK);
    assert_eq!(patch.json::<Value>().await.unwrap()["lorebook_ids"], json!([book["id"]]));

    let quiet = system_of(&sent(&app, &user, chat, "Good evening.").await);
    assert!(quiet.contains("It always rains."), "constant entries always go in: {quiet}");
    for absent in ["harbor freezes", "Ghosts", "lamp never"] {
        assert!(!quiet.contains(absent), "{absent} without its key: {quiet}");
    }
    let keyed = system_of(&sent(&app, &user, chat, "The LAMP by the harbor, and a ghost.").await);
    let (rain, harbor, keeper, lamp) = (
        keyed.find("It always rains.").unwrap(),
        keyed.find("The harbor freezes").unwrap(),
        keyed.find("Keeper keeps the lighthouse.").unwrap(),
        keyed.find("The lamp never goes out.").unwrap(),
    );
    assert!(rain < harbor && harbor < keeper && keeper < lamp, "order and position: {keyed}");
    assert!(!keyed.contains("Ghosts"), "selective: needs `night` too: {keyed}");
    let selective = system_of(&sent(&app, &user, chat, "A ghost at night.").await);
    assert!(selective.contains("Ghosts walk at night."), "{selective}");
    // The previous message is in the scan depth (2) too; three messages back is not.
    let later = system_of(&sent(&app, &user, chat, "Nothing here.").await);
    assert!(!later.contains("harbor freezes"), "{later}");

    // Edited, listed, detached when deleted.
    let mut edited = book.clone();
    edited["entries"][2]["enabled"] = json!(false);
    let put = app.put_authed(&format!("/api/lorebooks/{}", book["id"]), &user.token, &edited).await;
    assert_eq!(put.status(), StatusCode::OK);
    assert!(!system_of(&sent(&app, &user, chat, "x").await).contains("always rains"));
    let list: Value = app.get_authed("/api/lorebooks", &user.token).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let deleted = app.delete_authed(&format!("/api/lorebooks/{}", book["id"]), &user.token).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let chat_now: Value = app.get_authed(&format!("/api/chats/{chat}"), &user.token).await.json().await.unwrap();
    assert_eq!(chat_now["lorebook_ids"], json!([]));

    // Bad books and bad lists change nothing.
    let (code, _) = error_code(
        app.client
            .post(app.url("/api/lorebooks/import"))
            .bearer_auth(&user.token)
            .body("{\"name\": \"no entries\"}")
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(code, "invalid_lorebook");
    let huge = json!({"entries": [{"keys": ["k"], "content": "x".repeat(16_001)}]});
    error_code(app.post_authed("/api/lorebooks", &user.token, &huge).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let ids: Vec<i64> = (1..=21).collect();
    let url = format!("/api/chats/{chat}");
    error_code(
        app.patch_authed(&url, &user.token, &json!({"lorebook_ids": ids})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let list: Value = app.get_authed("/api/lorebooks", &user.token).await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

async fn card_prompt_rules_reach_every_provider(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    app.post_authed("/api/prompts", &admin.token, &json!({"name": "House", "content": "House rules."})).await;
    let character = json!({
        "name": "Vee",
        "system_prompt": "Before. {{original}} After.",
        "example_dialogue": "<START>\n{{user}}: Who are you?\n{{char}}: I am {{char}}.",
        "post_history_instructions": "Answer as {{char}}.{{original}}",
    });

    for model in MODELS {
        let chat = chat_with(&app, &user, character.clone(), model, json!({})).await;
        let body = sent(&app, &user, chat, "Hello there").await;
        let system = system_of(&body);
        assert!(system.starts_with("Before. House rules. After."), "{model}: {{original}} wraps: {system}");
        match model {
            "fake-openai" => {
                let messages = body["messages"].as_array().unwrap();
                let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
                assert_eq!(roles, ["system", "user", "assistant", "user", "system"], "{model}");
                assert_eq!(messages[1]["content"], "Who are you?");
                assert_eq!(messages[2]["content"], "I am Vee.");
                assert_eq!(messages[4]["content"], "Answer as Vee.", "post-history last");
            }
            "fake-anthropic" => {
                let messages = body["messages"].as_array().unwrap();
                assert_eq!(messages.len(), 3, "{body}");
                assert_eq!(messages[1]["content"], "I am Vee.");
                assert_eq!(messages[2]["content"], "Hello there\n\nAnswer as Vee.", "after the last user turn");
            }
            _ => {
                assert!(system.ends_with("Answer as Vee."), "{model}: post-history ends the prompt input: {system}");
                assert_eq!(body["query"], "Hello there");
            }
        }
    }
}

async fn every_new_route_is_404_for_another_user_and_401_without_a_session(engine: Engine) {
    let app = spawn_app(engine).await;
    let (alice, bob) = (app.new_user().await, app.new_user().await);
    let persona = create(&app, &alice, "/api/personas", json!({"name": "Al"})).await;
    let book = create(&app, &alice, "/api/lorebooks", json!({"name": "Mine", "entries": []})).await;
    let (persona_url, book_url) =
        (format!("/api/personas/{}", persona["id"]), format!("/api/lorebooks/{}", book["id"]));

    error_code(app.put_authed(&persona_url, &bob.token, &json!({"name": "Bob"})).await, StatusCode::NOT_FOUND).await;
    error_code(app.delete_authed(&persona_url, &bob.token).await, StatusCode::NOT_FOUND).await;
    error_code(app.get_authed(&book_url, &bob.token).await, StatusCode::NOT_FOUND).await;
    error_code(app.put_authed(&book_url, &bob.token, &json!({"entries": []})).await, StatusCode::NOT_FOUND).await;
    error_code(app.delete_authed(&book_url, &bob.token).await, StatusCode::NOT_FOUND).await;
    let bobs_chat = app.new_chat(&bob.token, "fake-openai").await;
    let url = format!("/api/chats/{bobs_chat}");
    error_code(app.patch_authed(&url, &bob.token, &json!({"persona_id": persona["id"]})).await, StatusCode::NOT_FOUND)
        .await;
    error_code(app.patch_authed(&url, &bob.token, &json!({"lorebook_ids": [book["id"]]})).await, StatusCode::NOT_FOUND)
        .await;
    let character = app.create_character(&bob.token, json!({"name": "B"})).await;
    let stolen = json!({"character_id": character["id"], "persona_id": persona["id"]});
    error_code(app.post_authed("/api/chats", &bob.token, &stolen).await, StatusCode::NOT_FOUND).await;
    let bobs: Value = app.get_authed("/api/personas", &bob.token).await.json().await.unwrap();
    assert_eq!(bobs["items"], json!([]));
    let bobs: Value = app.get_authed("/api/lorebooks", &bob.token).await.json().await.unwrap();
    assert_eq!(bobs["items"], json!([]));
    let alices: Value = app.get_authed(&book_url, &alice.token).await.json().await.unwrap();
    assert_eq!(alices["name"], "Mine", "unchanged");

    for (method, path) in [
        ("GET", "/api/personas"),
        ("POST", "/api/personas"),
        ("PUT", persona_url.as_str()),
        ("DELETE", persona_url.as_str()),
        ("GET", "/api/lorebooks"),
        ("POST", "/api/lorebooks"),
        ("POST", "/api/lorebooks/import"),
        ("GET", book_url.as_str()),
        ("PUT", book_url.as_str()),
        ("DELETE", book_url.as_str()),
    ] {
        let request = app.client.request(method.parse().unwrap(), app.url(path)).json(&json!({}));
        error_code(request.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    }
}

crate::engine_tests!(
    personas_are_who_the_user_is_in_the_prompt_and_the_greeting,
    lorebooks_import_and_attach_and_their_entries_reach_the_prompt,
    card_prompt_rules_reach_every_provider,
    every_new_route_is_404_for_another_user_and_401_without_a_session,
);
