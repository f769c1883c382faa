//! The command line: `serve` (the default), `migrate`, `create-admin`.

use std::io::BufRead;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::{
    Application, Config,
    auth::{TokenIssuer, secret},
    services::{Accounts, accounts::AdminOutcome},
    storage::Db,
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
    /// Create an admin, or promote an existing user. A new admin's password is read from
    /// `ADMIN_PASSWORD` or, if unset, from the first line of standard input — never from argv.
    CreateAdmin { username: String },
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
            Command::CreateAdmin { username } => create_admin(config, &username).await,
        }
    }
}

async fn create_admin(config: Config, username: &str) -> anyhow::Result<()> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let secret = secret::resolve(&config)?;
    let accounts = Accounts::new(db, TokenIssuer::new(&secret, config.jwt_ttl).into());
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

fn read_new_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("ADMIN_PASSWORD") {
        return Ok(password);
    }
    eprintln!("password for the new admin (one line on standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
