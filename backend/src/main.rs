use clap::Parser;
use troupe_server::{Config, cli::Cli, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // A missing .env is normal; a broken one is worth failing for.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => return Err(anyhow::anyhow!("cannot read .env: {e}")),
    }
    let config = Config::from_env()?;
    telemetry::init_tracing(&config);
    cli.run(config).await
}
