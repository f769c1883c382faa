//! Fair use of storage: what each account stores is counted as it is written and given back
//! when deleted; a write past the quota is refused with nothing stored; bulk writes (imports)
//! run one per account, in bounded transactions, and leave nothing behind when they fail or the
//! process dies; a request that waits too long for the database is told 503 `busy`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use troupe_fake_upstream::{FakeUpstream, Script};

use crate::helpers::{Engine, ServerProcess, TestApp, TestDatabase, TestUser, error_code, spawn_app, spawn_app_with};

/// What `/api/limits` says the user stores, and may.
async fn storage(app: &TestApp, user: &TestUser) -> (i64, Option<i64>) {
    let limits: Value = app.get_authed("/api/limits", &user.token).await.json().await.unwrap();
    (limits["storage_used_bytes"].as_i64().unwrap(), limits["storage_quota_bytes"].as_i64())
}

/// What the user stores, counted again from the rows themselves.
async fn recounted(app: &TestApp, user: &TestUser) -> i64 {
    let bytes = match app.db.engine() {
        troupe_server::storage::Engine::Sqlite => "length(CAST({} AS BLOB))",
        troupe_server::storage::Engine::Postgres => "octet_length({})",
    };
    let of = |column: &str| bytes.replace("{}", column);
    let sql = format!(
        "SELECT CAST(COALESCE((SELECT SUM({m}) FROM messages m WHERE m.user_id = $1), 0) \
         + COALESCE((SELECT SUM({a}) FROM message_alternatives a JOIN messages m ON m.id = a.message_id \
                     WHERE m.user_id = $1), 0) \
         + COALESCE((SELECT SUM(c.stored_bytes) FROM characters c WHERE c.owner_id = $1 AND c.deleted_at IS NULL), 0) \
         + COALESCE((SELECT SUM({v}) FROM character_avatars v JOIN characters c ON c.id = v.character_id \
                     WHERE c.owner_id = $1 AND c.deleted_at IS NULL), 0) \
         + COALESCE((SELECT SUM(l.stored_bytes) FROM lorebooks l WHERE l.owner_id = $1), 0) AS BIGINT)",
        m = of("m.content"),
        a = of("a.content"),
        v = of("v.image"),
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(user.id).fetch_one(app.db.pool()).await.unwrap()
}

/// The counter and the rows agree; returns what is stored.
async fn stored(app: &TestApp, user: &TestUser) -> i64 {
    let (used, _) = storage(app, user).await;
    assert_eq!(used, recounted(app, user).await, "the counter matches the rows");
    used
}

fn replying(app: &TestApp, words: &str) {
    let tokens = words.split_inclusive(' ').map(str::to_owned).collect();
    app.upstream.set_script(Script { tokens, ..Script::default() });
}

/// A SillyTavern chat file of `messages` messages of `chars` characters each.
fn chat_file(messages: usize, chars: usize) -> String {
    chat_file_of(&vec![chars; messages])
}

/// A SillyTavern chat file of one message of each length, in bytes of text.
fn chat_file_of(lengths: &[usize]) -> String {
    let header = "{\"user_name\":\"u\",\"character_name\":\"Aria\"}\n";
    let line = |(i, chars): (usize, &usize)| {
        let text = "w".repeat(*chars);
        format!("{{\"mes\":\"{text}\",\"is_user\":{},\"send_date\":\"November 25, 2026 5:20pm\"}}\n", i % 2 == 0)
    };
    header.to_owned() + &lengths.iter().enumerate().map(line).collect::<String>()
}

/// A PNG of noise, which no encoder makes much smaller.
fn noisy_png(side: u32) -> Vec<u8> {
    let mut seed: u32 = 0x2545_f491;
    let pixels: Vec<u8> = (0..side * side * 4)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgba);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

async fn import(app: &TestApp, user: &TestUser, character: i64, file: String) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/chats/import?character_id={character}")))
        .bearer_auth(&user.token)
        .body(file)
        .send()
        .await
        .unwrap()
}

async fn chat_total(app: &TestApp, user: &TestUser) -> i64 {
    app.get_authed("/api/chats", &user.token).await.json::<Value>().await.unwrap()["total"].as_i64().unwrap()
}

async fn admin(app: &TestApp) -> TestUser {
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    admin
}

async fn every_write_is_counted_and_every_delete_gives_it_back(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    assert_eq!(storage(&app, &user).await, (0, Some(1024 * 1024 * 1024)), "the default quota: 1024 MB");

    let character = app.create_character(&user.token, json!({"name": "Aria", "description": "A bard."})).await;
    let character_id = character["id"].as_i64().unwrap();
    let with_character = stored(&app, &user).await;
    assert!(with_character > 10, "{with_character}");

    // A turn: the message and the reply, byte for byte.
    let chat = app
        .post_authed("/api/chats", &user.token, &json!({"character_id": character_id, "model": "fake-openai"}))
        .await;
    let chat = chat.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let before_turn = stored(&app, &user).await;
    replying(&app, "First reply");
    let turn: Value = app.send(&user.token, chat, "héllo").await.json().await.unwrap();
    assert_eq!(stored(&app, &user).await - before_turn, "héllo".len() as i64 + "First reply".len() as i64);
    let (message, reply) =
        (turn["user_message"]["id"].as_i64().unwrap(), turn["assistant_message"]["id"].as_i64().unwrap());

    // An edit moves it by the difference; a regeneration adds the alternatives.
    let edit = app
        .patch_authed(&format!("/api/chats/{chat}/messages/{message}"), &user.token, &json!({"content": "hello there"}))
        .await;
    assert_eq!(edit.status(), StatusCode::OK);
    assert_eq!(stored(&app, &user).await - before_turn, "hello there".len() as i64 + "First reply".len() as i64);
    replying(&app, "Second");
    let regenerated = app
        .client
        .post(app.url(&format!("/api/chats/{chat}/messages/{reply}/regenerate")))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(regenerated.status(), StatusCode::CREATED);
    // Shown "Second", and both alternatives kept beside it.
    let texts = ["hello there", "Second", "First reply", "Second"];
    assert_eq!(stored(&app, &user).await - before_turn, texts.iter().map(|t| t.len() as i64).sum::<i64>());

    // An avatar, a lorebook, an import.
    let avatar = crate::cards::png(16, 16, &[]);
    let put = app
        .client
        .put(app.url(&format!("/api/characters/{character_id}/avatar")))
        .bearer_auth(&user.token)
        .body(avatar)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let kept =
        app.get_authed(&format!("/api/characters/{character_id}/avatar"), &user.token).await.bytes().await.unwrap();
    let before_avatar = stored(&app, &user).await;
    let book = app
        .post_authed(
            "/api/lorebooks",
            &user.token,
            &json!({"name": "Isle", "entries": [{"keys": ["isle"], "content": "An island."}]}),
        )
        .await;
    assert_eq!(book.status(), StatusCode::CREATED);
    let book: Value = book.json().await.unwrap();
    assert!(stored(&app, &user).await > before_avatar);
    assert!(before_avatar - with_character >= kept.len() as i64);
    let imported = import(&app, &user, character_id, chat_file(3, 100)).await;
    assert_eq!(imported.status(), StatusCode::CREATED);
    let imported: Value = imported.json().await.unwrap();

    // Deleting gives everything back: the import, the chat (its alternatives too), the book,
    // the character with its avatar.
    for path in [
        format!("/api/chats/{}", imported["id"]),
        format!("/api/chats/{chat}"),
        format!("/api/lorebooks/{}", book["id"]),
        format!("/api/characters/{character_id}"),
    ] {
        assert_eq!(app.delete_authed(&path, &user.token).await.status(), StatusCode::NO_CONTENT, "{path}");
        stored(&app, &user).await;
    }
    assert_eq!(stored(&app, &user).await, 0);
}

async fn writes_past_the_storage_quota_are_refused_and_store_nothing(engine: Engine) {
    let app = spawn_app_with(engine, &[("MAX_MESSAGE_CHARS", "20000")]).await;
    let (user, admin) = (app.new_user().await, admin(&app).await);
    let character = app.create_character(&user.token, json!({"name": "Aria"})).await["id"].as_i64().unwrap();
    let chat = app.new_chat(&user.token, "fake-openai").await;
    replying(&app, "ok");
    let reply: Value = app.send(&user.token, chat, "hi").await.json().await.unwrap();
    let reply = reply["assistant_message"]["id"].as_i64().unwrap();
    let quota = |mb: Value| {
        let url = format!("/api/admin/users/{}", user.id);
        let (app, admin) = (&app, &admin);
        async move { app.patch_authed(&url, &admin.token, &json!({"storage_quota_mb": mb})).await.status() }
    };
    assert_eq!(quota(json!(1)).await, StatusCode::OK);
    assert_eq!(storage(&app, &user).await.1, Some(1024 * 1024));

    // An import larger than what is left is refused from its size.
    let before = (stored(&app, &user).await, chat_total(&app, &user).await);
    let (code, _) =
        error_code(import(&app, &user, character, chat_file(1100, 1000)).await, StatusCode::FORBIDDEN).await;
    assert_eq!(code, "storage_quota_exceeded");
    assert_eq!((stored(&app, &user).await, chat_total(&app, &user).await), before, "nothing stored");

    // One that fits is taken: the account is then 400 bytes short of full.
    let room = (1024 * 1024 - before.0) as usize - 400;
    let mut lengths = vec![1000; room / 1000];
    lengths.push(room % 1000);
    assert_eq!(import(&app, &user, character, chat_file_of(&lengths)).await.status(), StatusCode::CREATED);
    let full = stored(&app, &user).await;
    assert_eq!(full, 1024 * 1024 - 400);
    let messages = app.messages(&user.token, chat).await;

    let big_entry = json!({"entries": [{"keys": ["k"], "content": "x".repeat(1000)}]});
    let refused = [
        app.send(&user.token, chat, &"x".repeat(1000)).await,
        app.post_authed("/api/characters", &user.token, &json!({"name": "B", "description": "d".repeat(1000)})).await,
        app.post_authed("/api/lorebooks", &user.token, &big_entry).await,
        app.client
            .put(app.url(&format!("/api/characters/{character}/avatar")))
            .bearer_auth(&user.token)
            .body(noisy_png(64))
            .send()
            .await
            .unwrap(),
        import(&app, &user, character, chat_file(1, 1000)).await,
    ];
    for resp in refused {
        let (code, _) = error_code(resp, StatusCode::FORBIDDEN).await;
        assert_eq!(code, "storage_quota_exceeded");
    }
    assert_eq!(stored(&app, &user).await, full, "nothing of a refused write is stored");
    assert_eq!(app.messages(&user.token, chat).await, messages);

    // Small enough still fits; then a regeneration of a full account is refused before it runs.
    assert_eq!(app.send(&user.token, chat, &"y".repeat(100)).await.status(), StatusCode::CREATED);
    assert_eq!(quota(json!(0)).await, StatusCode::OK, "0 is unlimited");
    assert_eq!(storage(&app, &user).await.1, None);
    assert_eq!(app.send(&user.token, chat, &"z".repeat(20_000)).await.status(), StatusCode::CREATED);
    assert_eq!(quota(json!(1)).await, StatusCode::OK);
    let last = app.messages(&user.token, chat).await.last().unwrap()["id"].as_i64().unwrap();
    let regenerate = app
        .client
        .post(app.url(&format!("/api/chats/{chat}/messages/{last}/regenerate")))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(regenerate, StatusCode::FORBIDDEN).await.0, "storage_quota_exceeded");
    assert_ne!(reply, last);

    // Deleting makes room again.
    assert_eq!(app.delete_authed(&format!("/api/chats/{chat}"), &user.token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.send(&user.token, app.new_chat(&user.token, "fake-openai").await, "hi").await.status(),
        StatusCode::CREATED
    );

    // Admins see it, sort by it, and set it back to the default; nonsense is refused.
    let listed: Value = app.get_authed("/api/admin/users?sort=storage", &admin.token).await.json().await.unwrap();
    assert_eq!(listed["items"][0]["id"], user.id, "the largest first");
    assert_eq!(listed["items"][0]["storage_used_bytes"], stored(&app, &user).await);
    assert_eq!(listed["items"][0]["storage_quota_mb"], 1);
    assert_eq!(quota(json!(-1)).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(quota(Value::Null).await, StatusCode::OK);
    assert_eq!(storage(&app, &user).await.1, Some(1024 * 1024 * 1024));
}

async fn an_unlimited_server_counts_without_a_quota(engine: Engine) {
    let app = spawn_app_with(engine, &[("STORAGE_QUOTA_MB", "0")]).await;
    let user = app.new_user().await;
    app.create_character(&user.token, json!({"name": "Aria"})).await;
    let (used, quota) = storage(&app, &user).await;
    assert_eq!((used > 0, quota), (true, None));
}

async fn a_request_that_cannot_get_a_connection_is_told_busy(engine: Engine) {
    let app = spawn_app_with(engine, &[("DATABASE_WAIT_MS", "300")]).await;
    let user = app.new_user().await;
    let writers = app.db.writer().options().get_max_connections();
    let mut held = Vec::new();
    for _ in 0..writers {
        held.push(app.db.writer().acquire().await.unwrap());
    }

    let resp = app.post_authed("/api/characters", &user.token, &json!({"name": "Waiting"})).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    let (code, _) = error_code(resp, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(code, "busy");

    drop(held);
    assert_eq!(
        app.post_authed("/api/characters", &user.token, &json!({"name": "Later"})).await.status(),
        StatusCode::CREATED
    );
    let mine: Value = app.get_authed("/api/characters?mine=true", &user.token).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "the refused one was not stored");
}

async fn a_long_import_is_written_in_batches_and_shown_whole(engine: Engine) {
    let app = spawn_app(engine).await;
    let user = app.new_user().await;
    let character = app.create_character(&user.token, json!({"name": "Aria"})).await["id"].as_i64().unwrap();
    let resp = import(&app, &user, character, chat_file(4_500, 50)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let chat: Value = resp.json().await.unwrap();
    assert_eq!(chat["message_count"], 4_500);
    let hidden: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM chats WHERE bulk_write_at IS NOT NULL")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(hidden, 0);
    stored(&app, &user).await;
    // A branch of it is a bulk write too.
    let last = app
        .get_authed(&format!("/api/chats/{}/messages?limit=1", chat["id"]), &user.token)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let last = last["items"][0]["id"].as_i64().unwrap();
    let branch =
        app.post_authed(&format!("/api/chats/{}/branch", chat["id"]), &user.token, &json!({"message_id": last})).await;
    assert_eq!(branch.status(), StatusCode::CREATED);
    assert_eq!(chat_total(&app, &user).await, 2);
    stored(&app, &user).await;

    // Rewinding it to its first message deletes the rest in batches.
    let second: i64 = sqlx::query_scalar("SELECT id FROM messages WHERE chat_id = $1 ORDER BY id LIMIT 1 OFFSET 1")
        .bind(chat["id"].as_i64().unwrap())
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let rewind =
        app.delete_authed(&format!("/api/chats/{}/messages/{second}?and_after=true", chat["id"]), &user.token).await;
    assert_eq!(rewind.status(), StatusCode::NO_CONTENT);
    let rewound: Value = app.get_authed(&format!("/api/chats/{}", chat["id"]), &user.token).await.json().await.unwrap();
    assert_eq!(rewound["message_count"], 1);
    assert_eq!(app.messages(&user.token, chat["id"].as_i64().unwrap()).await.len(), 1);
    stored(&app, &user).await;
}

/// Past MAX_CONCURRENT_BULK_WRITES, another account's import is told to come back (429).
async fn the_server_runs_a_few_imports_at_once(engine: Engine) {
    let app = spawn_app_with(engine, &[("MAX_CONCURRENT_BULK_WRITES", "1")]).await;
    let (alice, bob) = (app.new_user().await, app.new_user().await);
    let character = |user: &TestUser| {
        let (app, token) = (&app, user.token.clone());
        async move { app.create_character(&token, json!({"name": "Aria"})).await["id"].as_i64().unwrap() }
    };
    let (hers, his) = (character(&alice).await, character(&bob).await);
    let meanwhile = async {
        while sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM chats WHERE bulk_write_at IS NOT NULL")
            .fetch_one(app.db.pool())
            .await
            .unwrap()
            == 0
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let refused = import(&app, &bob, his, chat_file(2, 10)).await;
        assert_eq!(refused.headers()["retry-after"], "5");
        assert_eq!(error_code(refused, StatusCode::TOO_MANY_REQUESTS).await.0, "bulk_writes_busy");
    };
    let (first, ()) = tokio::join!(import(&app, &alice, hers, chat_file(19_000, 100)), meanwhile);
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(import(&app, &bob, his, chat_file(2, 10)).await.status(), StatusCode::CREATED, "then his turn");
}

/// kill -9 in the middle of an import: after the restart no half-imported chat is left,
/// and the account stores what it did before.
async fn a_crash_midway_through_an_import_leaves_nothing_behind(engine: Engine) {
    let database = TestDatabase::create(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let upstream = FakeUpstream::start().await;
    let mut server = ServerProcess::start(&database.url, &upstream, dir.path(), &[]);
    let client = reqwest::Client::new();
    let body = json!({"username": "importer", "password": crate::helpers::PASSWORD});
    let signed: Value =
        client.post(server.url("/api/auth/register")).json(&body).send().await.unwrap().json().await.unwrap();
    let token = signed["token"].as_str().unwrap().to_owned();
    let character: Value = client
        .post(server.url("/api/characters"))
        .bearer_auth(&token)
        .json(&json!({"name": "Aria"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = server.url(&format!("/api/chats/import?character_id={}", character["id"]));
    let importing = tokio::spawn(client.post(url).bearer_auth(&token).body(chat_file(19_000, 800)).send());

    let db = troupe_server::storage::Db::connect(&database.url).await.unwrap();
    let rows =
        || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM messages").fetch_one(db.pool()).await.unwrap() };
    let waited = std::time::Instant::now();
    while rows().await < 2_000 {
        assert!(waited.elapsed() < Duration::from_secs(60), "the import began");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill_hard();
    assert!(importing.await.unwrap().is_err(), "the import was cut off");
    assert!(rows().await < 19_000, "killed midway");

    let restarted = ServerProcess::start(&database.url, &upstream, dir.path(), &[]);
    let chats: Value =
        client.get(restarted.url("/api/chats")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(chats["total"], 0);
    assert_eq!(rows().await, 0, "the half-written chat was removed at start-up");
    let limits: Value =
        client.get(restarted.url("/api/limits")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let character_only: i64 =
        sqlx::query_scalar("SELECT stored_bytes FROM characters").fetch_one(db.pool()).await.unwrap();
    assert_eq!(limits["storage_used_bytes"], character_only);
}

crate::engine_tests!(
    every_write_is_counted_and_every_delete_gives_it_back,
    writes_past_the_storage_quota_are_refused_and_store_nothing,
    an_unlimited_server_counts_without_a_quota,
    a_request_that_cannot_get_a_connection_is_told_busy,
    a_long_import_is_written_in_batches_and_shown_whole,
    the_server_runs_a_few_imports_at_once,
    a_crash_midway_through_an_import_leaves_nothing_behind,
);
