//! The room's character answering: from the room's recent messages (who said what, by name),
//! streamed to everyone as deltas, stored when done, and charged to the person whose message
//! asked for it, under that person's quota and stream limit.
//!
//! One reply runs per room at a time (over every instance: a shared lock). Messages that ask for
//! one while it runs are not answered one by one: when it ends, one more reply answers them all
//! (it sees them in the room's recent messages), charged to the last person who asked.

use std::{sync::Arc, time::Duration};

use tokio::sync::mpsc;
use troupe_types::{Role, RoomMessageKind};

use super::hub::{LiveRoom, Outgoing};
use crate::{
    domain::{RoomMessage, TokenUsage, User},
    error::AppError,
    providers::{ChatRequest, ProviderSet, Turn},
    services::{
        Prompts,
        catalog::{ModelCatalog, ModelSpec},
        generation::{self, Charge, GenerationLimits, Progress},
        personas::Speaker,
        prompt_assembly::{PastTurn, PromptAssembler},
        tokens,
    },
    shared::{Lease, Locks},
    storage::{
        Db, characters,
        generations::{OwnGeneration, Source},
        rooms::{self, NewRoomMessage},
    },
};

/// How many of the room's latest messages a reply is built from (before fitting the window).
const HISTORY: i64 = 50;
/// Deltas buffered between the provider and the room.
const DELTA_BUFFER: usize = 64;
/// How often a reply waiting for another instance's in the same room asks again.
const TURN_POLL: Duration = Duration::from_millis(200);

/// Who the character talks to in a room, in place of a persona.
fn the_room() -> Speaker {
    Speaker {
        name: "the room".into(),
        description: "Several people talk with you here at once. Each of their messages starts with its \
                      author's name and a colon; answer as yourself, without such a prefix."
            .into(),
    }
}

/// Writes the character's replies.
pub struct Replier {
    pub db: Db,
    pub catalog: Arc<ModelCatalog>,
    pub providers: Arc<ProviderSet>,
    pub prompts: Prompts,
    pub limits: Arc<GenerationLimits>,
    /// One reply per room at a time, over every instance.
    pub locks: Arc<dyn Locks>,
}

impl Replier {
    /// Asks for a reply in `room` on `asker`'s account: now, or after the one under way.
    pub fn ask(self: &Arc<Self>, room: Arc<LiveRoom>, asker: User) {
        {
            let mut queue = room.replying.lock().expect("reply queue lock");
            if queue.running {
                queue.next = Some(asker);
                return;
            }
            queue.running = true;
        }
        tokio::spawn(self.clone().run(room, asker));
    }

    async fn run(self: Arc<Self>, room: Arc<LiveRoom>, mut asker: User) {
        loop {
            let Some(_turn) = self.room_turn(&room).await else { return };
            if let Err(error) = self.answer(&room, &asker).await {
                room.tell(asker.id, error);
            }
            drop(_turn);
            let mut queue = room.replying.lock().expect("reply queue lock");
            match queue.next.take() {
                Some(next) => asker = next,
                None => {
                    queue.running = false;
                    return;
                }
            }
        }
    }

    /// The room's turn to reply, over every instance: waits while another instance's reply
    /// runs there. `None` when the room is deleted meanwhile.
    async fn room_turn(&self, room: &LiveRoom) -> Option<Lease> {
        let name = format!("room-reply:{}", room.id);
        loop {
            if let Some(turn) = self.locks.try_lock(&name).await {
                return Some(turn);
            }
            tokio::select! {
                () = room.closed.cancelled() => return None,
                () = tokio::time::sleep(TURN_POLL) => {}
            }
        }
    }

    /// One reply, charged to `asker`. Fails before anything is sent when `asker` is over their
    /// quota or streams.
    async fn answer(&self, live: &LiveRoom, asker: &User) -> Result<(), AppError> {
        let room = rooms::find(&self.db, live.id).await?.ok_or(AppError::NotFound)?;
        let character = characters::find(&self.db, room.character_id).await?.ok_or(AppError::NotFound)?;
        let model = self.model_for(character.fields.model.as_deref());
        let turns = self.history(live).await?;
        if turns.is_empty() {
            return Ok(());
        }
        let shared = self.prompts.enabled_texts().await?;
        let speaker = the_room();
        let assembler = PromptAssembler { shared_prompts: &shared, character: &character, speaker: &speaker };
        let prompt = assembler.prompt_for(&turns, &model, &[]).await;
        let _admitted = self.limits.admit(asker, prompt.worst_case(&model)).await?;
        let prompt_tokens = prompt.estimated_tokens as i64;
        let request = prompt.into_request(&model, asker.id, &character, None);
        let placeholder = live
            .publish(&NewRoomMessage {
                room_id: live.id,
                kind: RoomMessageKind::Character,
                author: character.name(),
                user_id: None,
                content: "",
            })
            .await?;
        let streamed = self.stream(live, &placeholder, &model, request).await;
        let completion_tokens = tokens::count_off_executor(streamed.text.clone()).await as i64;
        let estimated = TokenUsage { prompt_tokens, completion_tokens };
        let charge = Charge::settle(&model, streamed.ending, streamed.reported, estimated);
        let generation = OwnGeneration {
            source: Source::Room,
            user_id: asker.id,
            api_key_id: None,
            character_id: Some(character.id),
            model: &model.id,
            status: charge.status,
            usage: charge.usage,
            usage_source: charge.source,
        };
        let stored = rooms::finish_reply(&self.db, placeholder.id, &streamed.text, &generation).await?;
        charge.record_metrics(&model);
        match stored {
            // Nothing came: the empty message goes.
            Some(_) if streamed.text.is_empty() => {
                rooms::delete_message(&self.db, live.id, placeholder.id).await?;
                live.deleted(placeholder.id);
            }
            Some(message) => live.send(Outgoing::message(&message)),
            // Deleted by an admin while it streamed; it was charged all the same.
            None => {}
        }
        match &charge.failure {
            Some(error) => Err(Charge::upstream_error(error)),
            None => Ok(()),
        }
    }

    /// Streams the reply into the room as deltas of `message`; stops when the room is deleted.
    async fn stream(
        &self,
        live: &LiveRoom,
        message: &RoomMessage,
        model: &ModelSpec,
        request: ChatRequest,
    ) -> generation::Streamed {
        let (events, mut pieces) = mpsc::channel::<Progress<()>>(DELTA_BUFFER);
        let forward = async {
            while let Some(progress) = pieces.recv().await {
                if let Progress::Delta(text) = progress {
                    live.delta(message.id, text);
                }
            }
        };
        let generate = async move {
            // `events` goes with this future, which ends the forwarding when it is done.
            generation::stream(&self.providers, model, request, &live.closed, &events).await
        };
        let (streamed, ()) = tokio::join!(generate, forward);
        streamed
    }

    /// The room's latest messages as turns: people's (named) as the user's, the character's as
    /// its own; attendance lines and empty replies left out.
    async fn history(&self, live: &LiveRoom) -> Result<Vec<PastTurn>, AppError> {
        let messages = rooms::page(&self.db, live.id, None, HISTORY).await?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m.kind {
                RoomMessageKind::User | RoomMessageKind::Admin => {
                    Some(PastTurn::counted(Role::User, &format!("{}: {}", m.author, m.content)))
                }
                RoomMessageKind::Character if !m.content.is_empty() => Some(PastTurn {
                    tokens: tokens::count(&m.content),
                    turn: Turn { role: Role::Assistant, content: m.content.into() },
                }),
                RoomMessageKind::Character | RoomMessageKind::System => None,
            })
            .collect())
    }

    /// The character's model, or the default if it names none the catalogue offers.
    fn model_for(&self, wanted: Option<&str>) -> ModelSpec {
        wanted.and_then(|id| self.catalog.get(id)).unwrap_or_else(|| self.catalog.default_model()).clone()
    }
}
