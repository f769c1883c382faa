//! The live side of rooms: who is connected, and the frames every connection of a room gets.
//!
//! Each room that has been joined has a `LiveRoom` with one broadcast channel. A frame is
//! serialised once and shared by every connection; the channel holds the last
//! `BACKLOG` frames, so a connection that falls that far behind is told it lagged (and is
//! closed: it reconnects and replays from the database) instead of making the server hold an
//! ever longer queue for it.
//!
//! Messages are stored, then sent, under the room's `publishing` lock, so every connection
//! gets them in the order of their ids. With several instances (Redis), frames go out through
//! one Redis channel that every instance hands to its own connections of the room, and who is
//! in a room is counted over every instance's report (`shared::roster`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use troupe_types::{RoomMessageKind, ServerFrame};

use crate::{
    domain::{RoomId, RoomMessage, RoomMessageId, User, UserId},
    error::AppError,
    shared::{Roster, Shared, Topic, roster::REPORT_EVERY},
    storage::{
        Db,
        rooms::{self, NewRoomMessage},
    },
};

/// Frames kept for connections that are behind; one further behind is dropped.
const BACKLOG: usize = 1024;
/// Joins and leaves are told to the room in one line per direction at most this often, and a
/// connection that comes back within it was never gone.
const ATTENDANCE_EVERY: Duration = Duration::from_secs(1);
/// A person counts as having left after this long without a connection, so that a flapping
/// client (a phone between networks) does not fill the room with leaves and joins.
const LEAVE_GRACE: Duration = Duration::from_secs(10);
/// Names a join or leave line lists before `+N`.
const NAMES_LISTED: usize = 3;

/// One frame for a room's connections, serialised once for all of them.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub json: Arc<str>,
    /// Only this user's connections get it (an error about what they sent).
    pub only: Option<UserId>,
    /// A newly stored message's id: a connection that already replayed it skips it.
    pub new_message: Option<RoomMessageId>,
}

impl Outgoing {
    fn frame(frame: &ServerFrame) -> Self {
        Self { json: serde_json::to_string(frame).expect("frames serialise").into(), only: None, new_message: None }
    }

    pub fn message(message: &RoomMessage) -> Self {
        Self::frame(&ServerFrame::Message { message: message.into() })
    }

    /// An `error` frame for `error`, in the words and codes of the HTTP API.
    pub fn error(error: AppError) -> Self {
        let error = crate::api::error::ApiError::from(error);
        Self::frame(&ServerFrame::Error {
            code: error.code.to_owned(),
            message: error.message,
            retry_after_secs: error.retry_after.map(|s| s as i64),
        })
    }
}

/// A frame for room `room`'s connections on every instance (through Redis).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RoomFrame {
    room: RoomId,
    json: String,
    only: Option<UserId>,
    new_message: Option<RoomMessageId>,
}

/// Frames in flight between instances before the slowest instance's dispatcher falls behind.
const RELAY_BACKLOG: usize = 16 * 1024;

/// All live rooms, and which rooms each user is in.
pub struct Hub {
    db: Db,
    /// With several instances: every room's frames, to every instance.
    relay: Option<Topic<RoomFrame>>,
    /// Who is in each room, over every instance.
    roster: Arc<dyn Roster>,
    rooms: Mutex<HashMap<RoomId, Arc<LiveRoom>>>,
    joined: Mutex<HashMap<UserId, HashMap<RoomId, usize>>>,
    max_rooms_per_user: usize,
    myself: Weak<Hub>,
}

impl Hub {
    pub fn new(db: Db, max_rooms_per_user: usize, shared: &Shared) -> Arc<Self> {
        let relay = shared.redis().map(|_| shared.topic("rooms", RELAY_BACKLOG));
        let hub = Arc::new_cyclic(|myself| Self {
            db,
            relay,
            roster: shared.roster(),
            rooms: Mutex::default(),
            joined: Mutex::default(),
            max_rooms_per_user,
            myself: myself.clone(),
        });
        if let Some(relay) = &hub.relay {
            tokio::spawn(dispatch(Arc::downgrade(&hub), relay.subscribe()));
        }
        hub
    }

    /// Sends `outgoing` to room `id`'s connections: straight to this instance's, or through
    /// Redis to every instance's.
    fn send(&self, id: RoomId, outgoing: Outgoing) {
        match &self.relay {
            Some(relay) => relay.publish(RoomFrame {
                room: id,
                json: outgoing.json.to_string(),
                only: outgoing.only,
                new_message: outgoing.new_message,
            }),
            None => {
                if let Some(room) = self.rooms.lock().expect("rooms lock").get(&id) {
                    let _ = room.sender.send(outgoing);
                }
            }
        }
    }

    /// The room's live state, made on first use.
    pub fn room(&self, id: RoomId) -> Arc<LiveRoom> {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        rooms.entry(id).or_insert_with(|| Arc::new(LiveRoom::new(id, self.db.clone(), self.myself.clone()))).clone()
    }

    /// Distinct users connected to `id` now, over every instance.
    pub async fn participants(&self, id: RoomId) -> usize {
        self.roster.count(&roster_group(id)).await
    }

    /// Ends the room's connections (it was deleted) and forgets it.
    pub fn close(&self, id: RoomId) {
        if let Some(room) = self.rooms.lock().expect("rooms lock").remove(&id) {
            room.closed.cancel();
        }
    }

    /// A connection of `user` to room `id`, subscribed from now on. 429 `too_many_rooms` when
    /// this would be one room more than `MAX_ROOMS_PER_USER`.
    pub fn join(&self, id: RoomId, user: &User) -> Result<Membership, AppError> {
        {
            let mut joined = self.joined.lock().expect("joined lock");
            let rooms = joined.entry(user.id).or_default();
            if !rooms.contains_key(&id) && rooms.len() >= self.max_rooms_per_user {
                return Err(AppError::TooManyRooms { max: self.max_rooms_per_user });
            }
            *rooms.entry(id).or_default() += 1;
        }
        let room = self.room(id);
        let receiver = room.sender.subscribe();
        room.arrive(user);
        Ok(Membership { room, receiver, user_id: user.id, hub: self.myself.clone() })
    }

    fn leave(&self, room: RoomId, user: UserId) {
        let mut joined = self.joined.lock().expect("joined lock");
        if let Some(rooms) = joined.get_mut(&user) {
            if let Some(count) = rooms.get_mut(&room) {
                *count -= 1;
                if *count == 0 {
                    rooms.remove(&room);
                }
            }
            if rooms.is_empty() {
                joined.remove(&user);
            }
        }
    }
}

/// Hands the frames Redis carries to this instance's connections of each room.
async fn dispatch(hub: Weak<Hub>, mut frames: broadcast::Receiver<RoomFrame>) {
    loop {
        let frame = match frames.recv().await {
            Ok(frame) => frame,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::error!(missed, "room frames from other instances were dropped: this instance fell behind");
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let Some(hub) = hub.upgrade() else { return };
        let room = hub.rooms.lock().expect("rooms lock").get(&frame.room).cloned();
        if let Some(room) = room {
            let outgoing = Outgoing { json: frame.json.into(), only: frame.only, new_message: frame.new_message };
            let _ = room.sender.send(outgoing);
        }
    }
}

/// One connection's place in a room: its frames come through `receiver`. Leaving is dropping.
pub struct Membership {
    pub room: Arc<LiveRoom>,
    pub receiver: broadcast::Receiver<Outgoing>,
    user_id: UserId,
    hub: Weak<Hub>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.room.depart(self.user_id);
        if let Some(hub) = self.hub.upgrade() {
            hub.leave(self.room.id, self.user_id);
        }
    }
}

/// A room's live state.
pub struct LiveRoom {
    pub id: RoomId,
    db: Db,
    sender: broadcast::Sender<Outgoing>,
    /// Held while a message is stored and sent, so ids go out in order.
    publishing: tokio::sync::Mutex<()>,
    attendance: Mutex<Attendance>,
    /// When each person last posted, for slow mode.
    last_post: Mutex<HashMap<UserId, Instant>>,
    /// The character's reply under way, and whether another is due after it.
    pub(super) replying: Mutex<ReplyQueue>,
    /// Cancelled when the room is deleted.
    pub closed: CancellationToken,
    hub: Weak<Hub>,
}

/// At most one reply per room runs; messages that ask for one meanwhile are answered together
/// by one more reply when it ends, charged to the last person who asked.
#[derive(Default)]
pub(super) struct ReplyQueue {
    pub running: bool,
    pub next: Option<User>,
}

#[derive(Default)]
struct Attendance {
    /// Connected people: their open connections and name.
    connected: HashMap<UserId, (usize, String)>,
    /// Those the room was told are here.
    announced: HashMap<UserId, String>,
    /// Announced people with no connection, since when.
    gone_since: HashMap<UserId, Instant>,
    /// The participant count last sent.
    told_participants: usize,
    /// When the next flush runs, if one is scheduled.
    flush_at: Option<Instant>,
}

impl LiveRoom {
    fn new(id: RoomId, db: Db, hub: Weak<Hub>) -> Self {
        Self {
            id,
            db,
            sender: broadcast::channel(BACKLOG).0,
            publishing: tokio::sync::Mutex::default(),
            attendance: Mutex::default(),
            last_post: Mutex::default(),
            replying: Mutex::default(),
            closed: CancellationToken::new(),
            hub,
        }
    }

    /// Distinct users connected now, over every instance.
    pub async fn participants(&self) -> usize {
        match self.hub.upgrade() {
            Some(hub) => hub.participants(self.id).await,
            None => 0,
        }
    }

    /// Sends `frame` to the room's connections (or only `only`'s), on every instance. Nobody
    /// listening is fine.
    pub fn send(&self, outgoing: Outgoing) {
        match self.hub.upgrade() {
            Some(hub) => hub.send(self.id, outgoing),
            None => {
                let _ = self.sender.send(outgoing);
            }
        }
    }

    /// Sends an error about what `user` sent to that user's connections only.
    pub fn tell(&self, user: UserId, error: AppError) {
        self.send(Outgoing { only: Some(user), ..Outgoing::error(error) });
    }

    pub fn delta(&self, message_id: RoomMessageId, text: String) {
        self.send(Outgoing::frame(&ServerFrame::Delta { message_id: message_id.get(), text }));
    }

    pub fn deleted(&self, message_id: RoomMessageId) {
        self.send(Outgoing::frame(&ServerFrame::Deleted { message_id: message_id.get() }));
    }

    /// Stores `message` and sends it to everyone, in id order with the room's other messages.
    pub async fn publish(&self, message: &NewRoomMessage<'_>) -> Result<RoomMessage, AppError> {
        let _in_order = self.publishing.lock().await;
        let stored = rooms::add_message(&self.db, message).await?;
        self.send(Outgoing { new_message: Some(stored.id), ..Outgoing::message(&stored) });
        Ok(stored)
    }

    /// Slow mode: takes `user`'s turn to post, or says how many seconds remain.
    pub fn take_turn(&self, user: UserId, slow_mode_secs: i64) -> Result<(), AppError> {
        let mut last_post = self.last_post.lock().expect("last post lock");
        let now = Instant::now();
        let wait = Duration::from_secs(slow_mode_secs.max(0) as u64);
        if let Some(last) = last_post.get(&user)
            && let Some(remaining) = wait.checked_sub(now.duration_since(*last))
            && !remaining.is_zero()
        {
            let retry_after_secs = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
            return Err(AppError::SlowMode { retry_after_secs });
        }
        // Entries older than any slow mode are of no use.
        last_post.retain(|_, at| now.duration_since(*at) < Duration::from_secs(3600));
        last_post.insert(user, now);
        Ok(())
    }

    fn arrive(&self, user: &User) {
        let mut attendance = self.attendance.lock().expect("attendance lock");
        attendance.connected.entry(user.id).or_insert_with(|| (0, user.username.clone())).0 += 1;
        attendance.gone_since.remove(&user.id);
        self.schedule_flush(&mut attendance, ATTENDANCE_EVERY);
    }

    fn depart(&self, user: UserId) {
        let mut attendance = self.attendance.lock().expect("attendance lock");
        let Some(entry) = attendance.connected.get_mut(&user) else { return };
        entry.0 -= 1;
        if entry.0 == 0 {
            attendance.connected.remove(&user);
            if attendance.announced.contains_key(&user) {
                attendance.gone_since.insert(user, Instant::now());
            }
        }
        self.schedule_flush(&mut attendance, ATTENDANCE_EVERY);
    }

    /// Makes sure a flush runs within `after`. Flushes are idempotent, so one scheduled for
    /// later may still run too.
    fn schedule_flush(&self, attendance: &mut Attendance, after: Duration) {
        let at = Instant::now() + after;
        if attendance.flush_at.is_some_and(|due| due <= at) {
            return;
        }
        attendance.flush_at = Some(at);
        let Some(hub) = self.hub.upgrade() else { return };
        let id = self.id;
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let room = hub.rooms.lock().expect("rooms lock").get(&id).cloned();
            if let Some(room) = room {
                room.flush_attendance().await;
            }
        });
    }

    /// Reports who is here, then tells the room who joined and who left since the last time
    /// (each person once over every instance) and the new count.
    async fn flush_attendance(&self) {
        let Some(hub) = self.hub.upgrade() else { return };
        let (members, newcomers, gone) = {
            let mut a = self.attendance.lock().expect("attendance lock");
            a.flush_at = None;
            let newcomers: Vec<(UserId, String)> = a
                .connected
                .iter()
                .filter(|(id, _)| !a.announced.contains_key(id))
                .map(|(id, (_, name))| (*id, name.clone()))
                .collect();
            a.announced.extend(newcomers.iter().cloned());
            let expired: Vec<UserId> =
                a.gone_since.iter().filter(|(_, since)| since.elapsed() >= LEAVE_GRACE).map(|(id, _)| *id).collect();
            let gone: Vec<(UserId, String)> = expired
                .into_iter()
                .filter_map(|id| {
                    a.gone_since.remove(&id);
                    a.announced.remove(&id).map(|name| (id, name))
                })
                .collect();
            if let Some(soonest) = a.gone_since.values().min().copied() {
                let after = LEAVE_GRACE.saturating_sub(soonest.elapsed()) + Duration::from_millis(10);
                self.schedule_flush(&mut a, after);
            }
            // The report expires unless renewed while anyone is here.
            if !a.connected.is_empty() {
                self.schedule_flush(&mut a, REPORT_EVERY);
            }
            (a.connected.keys().map(|id| id.get()).collect::<Vec<_>>(), newcomers, gone)
        };
        let group = roster_group(self.id);
        hub.roster.report(&group, members).await;
        let participants = hub.roster.count(&group).await;
        let mut joined = Vec::new();
        for (id, name) in newcomers {
            if hub.roster.claim(&group, id.get(), true).await {
                joined.push(name);
            }
        }
        let mut left = Vec::new();
        for (id, name) in gone {
            if hub.roster.claim(&group, id.get(), false).await {
                left.push(name);
            }
        }
        let changed = {
            let mut a = self.attendance.lock().expect("attendance lock");
            std::mem::replace(&mut a.told_participants, participants) != participants
        };
        if changed {
            self.send(Outgoing::frame(&ServerFrame::Presence { participants: participants as i64 }));
        }
        for (names, what) in [(joined, "joined"), (left, "left")] {
            if names.is_empty() {
                continue;
            }
            let line = NewRoomMessage {
                room_id: self.id,
                kind: RoomMessageKind::System,
                author: &list_names(names),
                user_id: None,
                content: what,
            };
            if let Err(e) = self.publish(&line).await {
                tracing::warn!(error = ?e, room.id = %self.id, "could not store a room's attendance line");
            }
        }
    }
}

/// A room's name among the roster's groups.
fn roster_group(id: RoomId) -> String {
    format!("room:{id}")
}

/// `alice, bob, carol +2`.
fn list_names(mut names: Vec<String>) -> String {
    names.sort();
    let more = names.len().saturating_sub(NAMES_LISTED);
    let listed = names[..names.len().min(NAMES_LISTED)].join(", ");
    if more > 0 { format!("{listed} +{more}") } else { listed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_a_few_names_then_counts() {
        assert_eq!(list_names(vec!["bob".into(), "alice".into()]), "alice, bob");
        let many = ["e", "d", "c", "b", "a"].map(String::from).to_vec();
        assert_eq!(list_names(many), "a, b, c +2");
    }
}
