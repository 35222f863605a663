//! The `treff` binary: parses flags, sets up logging, and runs the server.
#![forbid(unsafe_code)]

use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use treff_server::auth::mint_token_with;
use treff_server::config::Command;
use treff_server::Config;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    if let Some(Command::Token(args)) = &config.command {
        let secret = config
            .token_secret
            .as_deref()
            .context("treff token needs --token-secret (or TREFF_TOKEN_SECRET)")?;
        let token = mint_token_with(
            secret,
            &args.room,
            &args.name,
            args.role.into(),
            args.ttl,
            args.skip_waiting_room,
        );
        println!("{token}");
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log).context("invalid --log filter")?)
        // Colour only on a terminal: escapes in a log file or a pipe are noise.
        .with_ansi(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();

    let listener = treff_server::listen(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let tls = config.tls_cert.is_some();
    if !config.static_dir.join("index.html").is_file() {
        tracing::warn!(static_dir = %config.static_dir.display(), "web app not built: run scripts/build-web.sh");
    }
    let server = treff_server::run(listener, config, treff_server::signals())?;
    let scheme = if tls { "https" } else { "http" };
    tracing::info!(%addr, "treff listening on {scheme}://{addr}");
    if !tls {
        tracing::warn!("serving plain HTTP: browsers only allow cameras and microphones on HTTPS pages or on localhost; use --tls-cert/--tls-key (scripts/gen-certs.sh makes them)");
    }
    server.await?;
    Ok(())
}
