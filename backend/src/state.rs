//! The application's state: every service, built once at start-up and handed to each request
//! as one typed value (`Data<&AppState>` in handlers).

use std::{net::IpAddr, sync::Arc};

use secrecy::SecretString;

use crate::{
    api::credentials::SessionCookie,
    auth::TokenIssuer,
    config::Config,
    providers::ProviderSet,
    services::{
        Accounts, Announcements, Characters, Chats, Completions, Conversations, Lorebooks, ModelCatalog, Personas,
        Prompts, Rooms, Stats, Turns, Users,
        bulk::BulkWrites,
        gateway::Gateway,
        generation::GenerationLimits,
        limits::{AuthAttempts, CreateLimit, LoginBackoff},
        live::{LiveConnections, SessionChanges},
        presence::Presence,
        systems::Systems,
        turns::PromptSources,
    },
    shared::Shared,
    storage::Db,
};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub accounts: Accounts,
    pub catalog: Arc<ModelCatalog>,
    pub characters: Characters,
    pub prompts: Prompts,
    pub personas: Personas,
    pub lorebooks: Lorebooks,
    pub chats: Chats,
    pub turns: Turns,
    pub completions: Completions,
    pub rooms: Rooms,
    pub users: Users,
    pub conversations: Conversations,
    pub stats: Stats,
    pub systems: Systems,
    pub gateway: Gateway,
    pub announcements: Announcements,
    pub presence: Presence,
    pub live: LiveConnections,
    pub auth_attempts: AuthAttempts,
    pub create_limit: CreateLimit,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    pub session_cookie: SessionCookie,
}

impl AppState {
    /// Every service, over `db` and `shared` state; `secret` signs session tokens and derives
    /// systems' secrets.
    pub fn build(config: &Config, db: Db, secret: &SecretString, shared: &Shared) -> anyhow::Result<Self> {
        let tokens = TokenIssuer::new(secret, config.jwt_ttl);
        let limits = &config.limits;
        let catalog = Arc::new(ModelCatalog::load(&config.providers)?);
        let providers = Arc::new(ProviderSet::new(&config.providers)?);
        let create_limit = CreateLimit::new(shared, limits.writes_per_minute);
        let bulk_writes = BulkWrites::new(shared, limits.max_concurrent_bulk_writes);
        let characters = Characters::new(db.clone(), catalog.clone(), create_limit.clone(), bulk_writes.clone());
        let prompts = Prompts::new(db.clone());
        let personas = Personas::new(db.clone(), create_limit.clone());
        let lorebooks = Lorebooks::new(db.clone(), create_limit.clone());
        let sources = PromptSources {
            prompts: prompts.clone(),
            characters: characters.clone(),
            personas: personas.clone(),
            lorebooks: lorebooks.clone(),
        };
        let generation_limits = GenerationLimits::new(db.clone(), limits.clone(), shared);
        let turns =
            Turns::new(db.clone(), catalog.clone(), providers.clone(), sources.clone(), generation_limits.clone());
        let rooms = Rooms::new(
            db.clone(),
            characters.clone(),
            (catalog.clone(), providers.clone()),
            prompts.clone(),
            generation_limits.clone(),
            (limits.max_rooms_per_user, shared),
        );
        let completions = Completions::new(
            db.clone(),
            (catalog.clone(), providers),
            characters.clone(),
            sources,
            generation_limits.clone(),
        );
        let chats = Chats::new(
            db.clone(),
            catalog.clone(),
            characters.clone(),
            (create_limit.clone(), bulk_writes),
            turns.clone(),
            (personas.clone(), lorebooks.clone()),
        );
        let (presence, changes) = (Presence::new(shared), SessionChanges::new(shared));
        let systems = Systems::new(db.clone(), catalog.clone(), secret.clone());
        let accounts = Accounts::new(
            db.clone(),
            Arc::new(tokens),
            (changes.clone(), LoginBackoff::new(shared)),
            systems.clone(),
            config.first_account_admin,
        );
        let conversations = Conversations::new(db.clone());
        Ok(Self {
            users: Users::new(db.clone(), conversations.clone(), changes.clone()),
            stats: Stats::new(db.clone(), catalog.clone(), generation_limits, presence.clone()),
            announcements: Announcements::new(db.clone(), shared),
            live: LiveConnections::new(accounts.clone(), changes, limits.max_live_connections_per_user),
            conversations,
            gateway: Gateway::new(db.clone(), systems.clone(), chats.clone()),
            systems,
            presence,
            accounts,
            catalog,
            characters,
            prompts,
            personas,
            lorebooks,
            chats,
            turns,
            completions,
            rooms,
            auth_attempts: AuthAttempts::new(shared, limits.auth_per_minute),
            create_limit,
            trusted_proxies: Arc::new(config.trusted_proxies.clone()),
            session_cookie: SessionCookie { secure: config.secure_cookies() },
            db,
        })
    }
}
