//! Live rooms: several WebSocket clients in one room — delivery and order, replay after a
//! reconnect, presence, slow mode, mutes, deletes, the character's reply streamed to all and
//! charged to the asker, and bad frames.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message, protocol::frame::coding::CloseCode};

use crate::helpers::*;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for a frame it expects.
const WAIT: Duration = Duration::from_secs(10);

struct RoomClient {
    socket: Socket,
}

impl RoomClient {
    async fn connect(app: &TestApp, token: &str, room: i64, after_id: Option<i64>) -> Self {
        Self { socket: connect(app, token, room, after_id).await.expect("the room accepts the connection") }
    }

    async fn say(&mut self, content: &str) {
        self.send_raw(&json!({"type": "message", "content": content}).to_string()).await;
    }

    async fn send_raw(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// The next JSON frame (pings skipped); panics on close or after `WAIT`.
    async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next()).await.expect("a frame in time");
            match message.expect("the socket is open").expect("a frame") {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Reads frames until one matches; returns it.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.next().await;
            if wanted(&frame) {
                return frame;
            }
        }
    }

    /// The next `n` people's messages (user or admin), skipping everything else.
    async fn said(&mut self, n: usize) -> Vec<Value> {
        let mut said = Vec::new();
        while said.len() < n {
            let frame = self.next().await;
            if frame["type"] == "message" && matches!(frame["message"]["kind"].as_str(), Some("user" | "admin")) {
                said.push(frame["message"].clone());
            }
        }
        said
    }

    /// Nothing but pings, presence or attendance lines arrive for `quiet`.
    async fn hears_nothing_said(&mut self, quiet: Duration) {
        let heard = tokio::time::timeout(quiet, async {
            loop {
                match self.socket.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let frame: Value = serde_json::from_str(&text).unwrap();
                        if frame["type"] != "presence" && frame["message"]["kind"] != "system" {
                            return frame;
                        }
                    }
                    Some(Ok(_)) => {}
                    other => panic!("the socket ended: {other:?}"),
                }
            }
        })
        .await;
        if let Ok(frame) = heard {
            panic!("expected nothing, got {frame}");
        }
    }

    /// Waits for the server to close; returns the close code.
    async fn closed_with(&mut self) -> CloseCode {
        loop {
            match tokio::time::timeout(WAIT, self.socket.next()).await.expect("closed in time") {
                Some(Ok(Message::Close(Some(frame)))) => return frame.code,
                Some(Ok(Message::Close(None))) | None => panic!("closed without a code"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("failed instead of closing: {e}"),
            }
        }
    }
}

async fn connect(app: &TestApp, token: &str, room: i64, after_id: Option<i64>) -> Result<Socket, tungstenite::Error> {
    let after = after_id.map(|id| format!("?after_id={id}")).unwrap_or_default();
    let url = format!("{}/api/rooms/{room}/ws{after}", app.address.replace("http://", "ws://"));
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

async fn admin(app: &TestApp) -> TestUser {
    let admin = app.new_user().await;
    app.make_admin(admin.id).await;
    admin
}

/// A room of a new public character (on `fake-openai`) named `Aria`, made by `admin`.
async fn room(app: &TestApp, admin: &TestUser, settings: Value) -> i64 {
    let character = app
        .create_character(
            &admin.token,
            json!({"name": "Aria", "system_prompt": "You are Aria.", "visibility": "public", "model": "fake-openai"}),
        )
        .await;
    let mut body = json!({"name": "Lobby", "character_id": character["id"]});
    body.as_object_mut().unwrap().extend(settings.as_object().unwrap().clone());
    let resp = app.post_authed("/api/rooms", &admin.token, &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

fn ids(messages: &[Value]) -> Vec<i64> {
    messages.iter().map(|m| m["id"].as_i64().unwrap()).collect()
}

async fn messages_reach_everyone_in_the_same_order(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let (ann, bob) = (app.new_user().await, app.new_user().await);
    let room = room(&app, &boss, json!({})).await;
    let mut clients = vec![
        RoomClient::connect(&app, &ann.token, room, None).await,
        RoomClient::connect(&app, &bob.token, room, None).await,
        RoomClient::connect(&app, &boss.token, room, None).await,
    ];

    for i in 0..5 {
        clients[0].say(&format!("ann {i}")).await;
        clients[1].say(&format!("bob {i}")).await;
    }
    clients[2].say("admin here").await;

    let mut seen = Vec::new();
    for client in &mut clients {
        seen.push(client.said(11).await);
    }
    let order = ids(&seen[0]);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "ids increase: {order:?}");
    for other in &seen[1..] {
        assert_eq!(ids(other), order, "everyone sees one order");
    }
    let ann_said: Vec<&str> = seen[0]
        .iter()
        .filter(|m| m["author"] == ann.username.as_str())
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(ann_said, ["ann 0", "ann 1", "ann 2", "ann 3", "ann 4"], "each person's messages keep their order");
    let boss_said = seen[0].iter().find(|m| m["content"] == "admin here").unwrap();
    assert_eq!(
        (boss_said["kind"].as_str(), boss_said["user_id"].as_i64()),
        (Some("admin"), Some(boss.id)),
        "admins stand out"
    );

    let history: Value = app.get_authed(&format!("/api/rooms/{room}/messages"), &bob.token).await.json().await.unwrap();
    let stored: Vec<Value> =
        history["items"].as_array().unwrap().iter().filter(|m| m["kind"] != "system").cloned().collect();
    assert_eq!(ids(&stored), order, "stored as sent");
    let page: Value = app
        .get_authed(&format!("/api/rooms/{room}/messages?before_id={}&limit=2", order[5]), &bob.token)
        .await
        .json()
        .await
        .unwrap();
    let page_ids = ids(page["items"].as_array().unwrap());
    assert_eq!(page_ids.len(), 2);
    assert!(page_ids[0] < page_ids[1] && page_ids[1] < order[5], "older, oldest first: {page_ids:?}");
}

async fn a_reconnecting_client_gets_exactly_what_it_missed(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let (ann, bob) = (app.new_user().await, app.new_user().await);
    let room = room(&app, &boss, json!({})).await;
    let mut talker = RoomClient::connect(&app, &ann.token, room, None).await;
    let mut listener = RoomClient::connect(&app, &bob.token, room, None).await;

    talker.say("before").await;
    let last_seen = listener.said(1).await[0]["id"].as_i64().unwrap();
    drop(listener);
    for word in ["one", "two", "three"] {
        talker.say(word).await;
    }
    talker.said(4).await;

    let mut back = RoomClient::connect(&app, &bob.token, room, Some(last_seen)).await;
    talker.say("after").await;
    let got = back.said(4).await;
    let contents: Vec<&str> = got.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["one", "two", "three", "after"], "the missed ones, then live, nothing twice");
    talker.say("later").await;
    assert_eq!(back.said(1).await[0]["content"], "later");
}

async fn presence_counts_people_and_the_room_hears_who_came_and_went(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let (ann, bob) = (app.new_user().await, app.new_user().await);
    let room = room(&app, &boss, json!({})).await;
    let mut watcher = RoomClient::connect(&app, &ann.token, room, None).await;
    let _second_tab = RoomClient::connect(&app, &ann.token, room, None).await;
    let bobs = RoomClient::connect(&app, &bob.token, room, None).await;

    watcher.until(|f| f["type"] == "presence" && f["participants"] == 2).await;
    let listed: Value = app.get_authed("/api/rooms", &bob.token).await.json().await.unwrap();
    assert_eq!(listed["items"][0]["participants"], 2, "distinct people, not connections");
    let joined = watcher.until(|f| f["message"]["kind"] == "system" && f["message"]["content"] == "joined").await;
    assert!(joined["message"]["author"].as_str().unwrap().contains(&bob.username));

    drop(bobs);
    watcher.until(|f| f["type"] == "presence" && f["participants"] == 1).await;
    let left = tokio::time::timeout(Duration::from_secs(20), watcher.until(|f| f["message"]["content"] == "left"))
        .await
        .expect("a leave line once bob has been gone a while");
    assert_eq!(left["message"]["author"], bob.username.as_str());
}

async fn slow_mode_and_mutes_hold_back_only_the_person_concerned(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let (ann, bob) = (app.new_user().await, app.new_user().await);
    let room = room(&app, &boss, json!({"slow_mode_secs": 30})).await;
    let mut anns = RoomClient::connect(&app, &ann.token, room, None).await;
    let mut bobs = RoomClient::connect(&app, &bob.token, room, None).await;
    let mut boss_client = RoomClient::connect(&app, &boss.token, room, None).await;

    anns.say("first").await;
    anns.said(1).await;
    anns.say("too soon").await;
    let error = anns.until(|f| f["type"] == "error").await;
    assert_eq!(error["code"], "slow_mode");
    assert!((25..=30).contains(&error["retry_after_secs"].as_i64().unwrap()), "{error}");
    boss_client.say("admins never wait").await;
    boss_client.say("not even twice").await;
    bobs.say("bob's own turn").await;
    let heard = bobs.said(4).await;
    let mut contents: Vec<&str> = heard.iter().map(|m| m["content"].as_str().unwrap()).collect();
    contents.sort_unstable();
    assert_eq!(
        contents,
        ["admins never wait", "bob's own turn", "first", "not even twice"],
        "the refused one is nowhere"
    );
    anns.said(3).await;

    let mute = |minutes: i64| json!({"user_id": bob.id, "minutes": minutes});
    let resp = app.post_authed(&format!("/api/rooms/{room}/mutes"), &ann.token, &mute(5)).await;
    error_code(resp, StatusCode::FORBIDDEN).await;
    let resp = app.post_authed(&format!("/api/rooms/{room}/mutes"), &boss.token, &mute(5)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app.post_authed(&format!("/api/rooms/{room}/mutes"), &boss.token, &mute(-1)).await;
    error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
    let resp = app.post_authed("/api/rooms/999999/mutes", &boss.token, &mute(5)).await;
    error_code(resp, StatusCode::NOT_FOUND).await;

    bobs.say("am I muted?").await;
    let error = bobs.until(|f| f["type"] == "error").await;
    assert_eq!(error["code"], "muted");
    anns.hears_nothing_said(Duration::from_millis(500)).await;

    let resp = app.post_authed(&format!("/api/rooms/{room}/mutes"), &boss.token, &mute(0)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app.patch_authed(&format!("/api/rooms/{room}"), &boss.token, &json!({"slow_mode_secs": 0})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    bobs.say("free again").await;
    assert_eq!(anns.said(1).await[0]["content"], "free again");
}

async fn admins_delete_messages_from_everyones_view(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let (ann, bob) = (app.new_user().await, app.new_user().await);
    let room = room(&app, &boss, json!({})).await;
    let mut anns = RoomClient::connect(&app, &ann.token, room, None).await;
    let mut bobs = RoomClient::connect(&app, &bob.token, room, None).await;
    anns.say("something rude").await;
    let id = bobs.said(1).await[0]["id"].as_i64().unwrap();

    let path = format!("/api/rooms/{room}/messages/{id}");
    error_code(app.delete_authed(&path, &ann.token).await, StatusCode::FORBIDDEN).await;
    assert_eq!(app.delete_authed(&path, &boss.token).await.status(), StatusCode::NO_CONTENT);
    for client in [&mut anns, &mut bobs] {
        let frame = client.until(|f| f["type"] == "deleted").await;
        assert_eq!(frame["message_id"], id);
    }
    error_code(app.delete_authed(&path, &boss.token).await, StatusCode::NOT_FOUND).await;
    let other_room = self::room(&app, &boss, json!({})).await;
    anns.say("kept").await;
    let kept = bobs.said(1).await[0]["id"].as_i64().unwrap();
    let elsewhere = format!("/api/rooms/{other_room}/messages/{kept}");
    error_code(app.delete_authed(&elsewhere, &boss.token).await, StatusCode::NOT_FOUND).await;

    let history: Value = app.get_authed(&format!("/api/rooms/{room}/messages"), &ann.token).await.json().await.unwrap();
    let left: Vec<i64> = ids(history["items"].as_array().unwrap());
    assert!(!left.contains(&id) && left.contains(&kept));
}

/// Frames of the character's reply as one client saw them: the first (empty) message, the
/// text its deltas add up to, and the final message.
async fn reply_as_seen(client: &mut RoomClient) -> (Value, String, Value) {
    let started = client.until(|f| f["type"] == "message" && f["message"]["kind"] == "character").await;
    let id = started["message"]["id"].clone();
    let mut text = String::new();
    loop {
        let frame = client.next().await;
        match frame["type"].as_str() {
            Some("delta") if frame["message_id"] == id => text.push_str(frame["text"].as_str().unwrap()),
            Some("message") if frame["message"]["id"] == id => {
                return (started["message"].clone(), text, frame["message"].clone());
            }
            _ => {}
        }
    }
}

async fn the_character_streams_to_everyone_and_charges_the_asker(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let (ann, bob) = (app.new_user().await, app.new_user().await);
    let room = room(&app, &boss, json!({"reply_mode": "mention"})).await;
    let mut anns = RoomClient::connect(&app, &ann.token, room, None).await;
    let mut bobs = RoomClient::connect(&app, &bob.token, room, None).await;

    bobs.say("just chatting").await;
    anns.said(1).await;
    anns.say("aria, sing for us").await;
    for client in [&mut anns, &mut bobs] {
        let (started, streamed, done) = reply_as_seen(client).await;
        assert_eq!((started["content"].as_str(), started["author"].as_str()), (Some(""), Some("Aria")));
        assert_eq!(streamed, "Hello from the fake upstream.");
        assert_eq!(done["content"], "Hello from the fake upstream.");
    }

    let prompt = app.upstream.received().last().unwrap().body.clone();
    let said: Vec<&str> = prompt["messages"].as_array().unwrap().iter().filter_map(|m| m["content"].as_str()).collect();
    assert!(said.contains(&format!("{}: just chatting", bob.username).as_str()), "who said what: {said:?}");
    assert!(said.contains(&format!("{}: aria, sing for us", ann.username).as_str()));
    assert!(app.tokens_today(ann.id).await > 0, "the asker pays");
    assert_eq!(app.tokens_today(bob.id).await, 0, "the others do not");
    assert_eq!(app.upstream.received().len(), 1, "a message that does not name the character gets no reply");
    assert_ledger_matches_generations(&app.db).await;
}

async fn over_quota_the_asker_is_told_and_the_room_goes_on(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let (ann, bob) = (app.new_user().await, app.new_user().await);
    app.set_quota(ann.id, 1).await;
    let room = room(&app, &boss, json!({"reply_mode": "every_message"})).await;
    let mut anns = RoomClient::connect(&app, &ann.token, room, None).await;
    let mut bobs = RoomClient::connect(&app, &bob.token, room, None).await;

    anns.say("hello Aria").await;
    reply_as_seen(&mut bobs).await;
    let spent = app.tokens_today(ann.id).await;
    assert!(spent > 1, "the first reply was admitted under the quota and spent it");

    anns.say("again, Aria").await;
    let error = anns.until(|f| f["type"] == "error").await;
    assert_eq!(error["code"], "quota_exceeded");
    let heard = bobs.said(1).await;
    assert_eq!(heard[0]["content"], "again, Aria", "the message itself stands");

    bobs.say("my turn").await;
    let (_, _, done) = reply_as_seen(&mut bobs).await;
    assert_eq!(done["content"], "Hello from the fake upstream.", "the room goes on, on bob's account");
    assert_eq!(app.tokens_today(ann.id).await, spent, "nothing more on ann's account");
    assert!(app.tokens_today(bob.id).await > 0);
    assert_eq!(app.upstream.received().len(), 2);
    assert_ledger_matches_generations(&app.db).await;
}

async fn bad_frames_are_refused_without_disturbing_anyone(engine: Engine) {
    let app = spawn_app(engine).await;
    let boss = admin(&app).await;
    let (ann, bob) = (app.new_user().await, app.new_user().await);
    let room = room(&app, &boss, json!({})).await;
    let mut anns = RoomClient::connect(&app, &ann.token, room, None).await;
    let mut bobs = RoomClient::connect(&app, &bob.token, room, None).await;

    for (frame, code) in [
        ("not json", "invalid_frame"),
        (r#"{"type":"dance"}"#, "invalid_frame"),
        (&json!({"type": "message", "content": "x".repeat(201)}).to_string(), "message_too_long"),
        (r#"{"type":"message","content":"   "}"#, "message_empty"),
    ] {
        anns.send_raw(frame).await;
        let error = anns.until(|f| f["type"] == "error").await;
        assert_eq!(error["code"], code, "{frame}");
    }
    bobs.hears_nothing_said(Duration::from_millis(300)).await;
    anns.say("still here").await;
    assert_eq!(bobs.said(1).await[0]["content"], "still here", "the connection was kept");

    anns.send_raw(&"x".repeat(17 * 1024)).await;
    assert_eq!(anns.closed_with().await, CloseCode::Size);
    bobs.hears_nothing_said(Duration::from_millis(300)).await;
    let stored: Value = app.get_authed(&format!("/api/rooms/{room}/messages"), &bob.token).await.json().await.unwrap();
    let said: Vec<&Value> = stored["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "user").collect();
    assert_eq!(said.len(), 1, "only the good message was stored");
}

async fn rooms_are_admins_to_run_and_unknown_ones_are_404(engine: Engine) {
    let app = spawn_app_with(engine, &[("MAX_ROOMS_PER_USER", "1")]).await;
    let boss = admin(&app).await;
    let ann = app.new_user().await;
    let (first, second) = (room(&app, &boss, json!({})).await, room(&app, &boss, json!({})).await);

    match connect(&app, &ann.token, 999_999, None).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), StatusCode::NOT_FOUND),
        other => panic!("expected 404, got {:?}", other.map(|_| ())),
    }
    assert_eq!(app.get("/api/rooms").await.status(), StatusCode::UNAUTHORIZED);
    let resp = app.post_authed("/api/rooms", &boss.token, &json!({"name": "", "character_id": 1})).await;
    assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await.0, "required");
    let resp = app.post_authed("/api/rooms", &boss.token, &json!({"name": "x", "character_id": 999_999})).await;
    assert_eq!(error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await.0, "unknown_character");
    let resp = app.patch_authed(&format!("/api/rooms/{first}"), &boss.token, &json!({"slow_mode_secs": 3601})).await;
    error_code(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
    let resp =
        app.patch_authed(&format!("/api/rooms/{first}"), &boss.token, &json!({"reply_mode": "every_message"})).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["reply_mode"], "every_message");
    error_code(app.get_authed("/api/rooms/999999/messages", &ann.token).await, StatusCode::NOT_FOUND).await;

    let mut in_first = RoomClient::connect(&app, &ann.token, first, None).await;
    let _another_tab = RoomClient::connect(&app, &ann.token, first, None).await;
    match connect(&app, &ann.token, second, None).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS),
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }

    assert_eq!(app.delete_authed(&format!("/api/rooms/{first}"), &boss.token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(in_first.closed_with().await, CloseCode::Away);
    error_code(app.get_authed(&format!("/api/rooms/{first}"), &ann.token).await, StatusCode::NOT_FOUND).await;
}

crate::engine_tests!(
    messages_reach_everyone_in_the_same_order,
    a_reconnecting_client_gets_exactly_what_it_missed,
    presence_counts_people_and_the_room_hears_who_came_and_went,
    slow_mode_and_mutes_hold_back_only_the_person_concerned,
    admins_delete_messages_from_everyones_view,
    the_character_streams_to_everyone_and_charges_the_asker,
    over_quota_the_asker_is_told_and_the_room_goes_on,
    bad_frames_are_refused_without_disturbing_anyone,
    rooms_are_admins_to_run_and_unknown_ones_are_404,
);
