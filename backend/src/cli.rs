//! The command line: `serve` (the default), `migrate`, `backup`, `create-admin`, `seed`.

use std::io::BufRead;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    Application, Config,
    auth::{TokenIssuer, password, secret},
    services::{Accounts, ModelCatalog, accounts::AdminOutcome, systems::Systems},
    storage::{self, Db, seed::SeedPlan},
};

/// Troupe: self-hosted character chat. Configuration comes from the environment and `.env`
/// (see `.env.example`).
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Write a consistent copy of the SQLite database to PATH, safe while the server runs
    /// (PostgreSQL: use pg_dump).
    Backup { path: std::path::PathBuf },
    /// Create an admin, or promote an existing user. A new admin's password is read from
    /// `ADMIN_PASSWORD` or, if unset, from the first line of standard input — never from argv.
    CreateAdmin { username: String },
    /// Fill the database with synthetic users, characters, chats and messages (with a usage
    /// ledger consistent with them) for demos and benchmarks. Seeded users' password is
    /// `seed-password-1`.
    Seed {
        #[arg(long, default_value_t = 100)]
        users: usize,
        /// Spread over this many days up to now.
        #[arg(long, default_value_t = 30)]
        days: i64,
        /// Messages in all (half from users, half replies).
        #[arg(long, default_value_t = 10_000)]
        messages: usize,
        /// Same seed, same data.
        #[arg(long, default_value_t = 1)]
        rng_seed: u64,
    },
}

impl Cli {
    pub async fn run(self, config: Config) -> anyhow::Result<()> {
        match self.command.unwrap_or(Command::Serve) {
            Command::Serve => Ok(Application::build(config).await?.run_until_stopped().await?),
            Command::Migrate => {
                Db::connect(&config.database_url).await?.migrate().await?;
                tracing::info!("migrations are up to date");
                Ok(())
            }
            Command::Backup { path } => {
                Db::connect(&config.database_url).await?.backup_into(&path).await?;
                println!("backed up to {}", path.display());
                Ok(())
            }
            Command::CreateAdmin { username } => create_admin(config, &username).await,
            Command::Seed { users, days, messages, rng_seed } => seed(config, users, days, messages, rng_seed).await,
        }
    }
}

async fn create_admin(config: Config, username: &str) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let secret = secret::resolve(&config)?;
    let catalog = std::sync::Arc::new(ModelCatalog::load(&config.providers)?);
    let systems = Systems::new(db.clone(), catalog, secret.clone());
    let tokens = TokenIssuer::new(&secret, config.jwt_ttl).into();
    let accounts = Accounts::new(db, tokens, Default::default(), systems, false);
    let outcome =
        accounts.create_or_promote_admin(username, read_new_password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    match outcome {
        AdminOutcome::Created(user) => println!("created admin {} (id {})", user.username, user.id),
        AdminOutcome::Promoted(user) => {
            println!("promoted {} (id {}) to admin", user.username, user.id)
        }
    }
    Ok(())
}

async fn seed(config: Config, users: usize, days: i64, messages: usize, rng_seed: u64) -> anyhow::Result<()> {
    anyhow::ensure!(users > 0 && days > 0, "--users and --days must be at least 1");
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let catalog = ModelCatalog::load(&config.providers)?;
    let plan = SeedPlan {
        users,
        days,
        messages,
        models: catalog.all().iter().map(|m| m.id.clone()).collect(),
        password_hash: password::hash(&"seed-password-1".to_owned().into()).await?,
        rng_seed,
    };
    let started = std::time::Instant::now();
    let report = storage::seed::seed(&db, &plan).await?;
    println!(
        "seeded {} users, {} characters, {} chats, {} messages in {:.1} s",
        report.users,
        report.characters,
        report.chats,
        report.messages,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn read_new_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("ADMIN_PASSWORD") {
        return Ok(password);
    }
    eprintln!("password for the new admin (one line on standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
