//! The HTTP API: poem-openapi operations per resource, documented at `/docs`.

pub mod admin;
pub mod auth;
pub mod cards;
pub mod characters;
pub mod chats;
pub mod client_ip;
pub mod credentials;
pub mod error;
pub mod events;
pub mod health;
pub mod keys;
pub mod lorebooks;
pub mod messages;
pub mod models;
pub mod payload;
pub mod personas;
pub mod prompts;
pub mod rooms;
pub mod service;
pub mod transcripts;
pub mod upload;
pub mod v1;

use poem_openapi::{OpenApiService, Tags};

pub use error::ApiError;

#[derive(Tags)]
enum ApiTags {
    /// Accounts and sessions
    Auth,
    /// The model catalogue
    Models,
    /// Characters: personas to chat with, as cards too, and their avatars
    Characters,
    /// Lorebooks: entries the prompt takes in when their keys come up
    Lorebooks,
    /// Personas: who the user is in a chat
    Personas,
    /// Personal API keys, for programs
    Keys,
    /// Shared prompts placed before every character (admins write them)
    Prompts,
    /// Chats, messages and streamed replies
    Chats,
    /// Announcements and live events for every user
    Announcements,
    /// Live rooms: many people and one character, over a WebSocket (admins make the rooms)
    Rooms,
    /// Administration: users, conversations, statistics, announcements, live feed (admins only)
    Admin,
    /// The OpenAI-compatible API (`/v1`): every character is a model. API keys only; errors in
    /// OpenAI's shape
    OpenAi,
    /// The service gateway: other systems' backends acting for their users (`X-API-Key: trs_…`)
    Gateway,
    /// Liveness, readiness
    Service,
}

pub type Apis = (
    auth::AuthApi,
    models::ModelsApi,
    characters::CharactersApi,
    cards::CardsApi,
    (personas::PersonasApi, lorebooks::LorebooksApi, keys::KeysApi),
    prompts::PromptsApi,
    chats::ChatsApi,
    messages::MessagesApi,
    transcripts::TranscriptsApi,
    (events::EventsApi, rooms::RoomsApi),
    admin::AdminApis,
    (health::HealthApi, v1::V1Api, service::ServiceApi),
);

/// The documented API. Building it needs no state, so the spec can be generated anywhere.
pub fn openapi_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(Apis::default(), "Troupe", env!("CARGO_PKG_VERSION")).description(
        "Self-hosted character chat. Every 4xx/5xx answer has the body \
             `{\"error\": {\"code\", \"message\", \"field\"?}}`. Authenticate with \
             `Authorization: Bearer <token>` (a session token, or an API key `trp_…`) or the \
             `troupe_session` cookie. Under `/v1` (the OpenAI-compatible API) errors take OpenAI's \
             shape `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}` and only API keys are taken.",
    )
}
