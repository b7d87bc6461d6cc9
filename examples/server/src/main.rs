//! `cargo run -p clientcreds-server`: the reference server on the
//! in-memory store, or the database `DATABASE_URL` names (migrated on
//! start). See the crate docs for the environment it reads.
//!
//! `clientcreds-server generate-master-key [ID]` prints a fresh master key
//! entry for `CLIENTCREDS_MASTER_KEYS` (ID defaults to today's date).

// A command-line program: start-up errors and usage go to standard error.
#![allow(clippy::print_stderr)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clientcreds_secret::MasterKeys;
use clientcreds_server::log::BatchedLog;
use clientcreds_server::{Config, Server};
use tracing_subscriber::EnvFilter;

/// mimalloc: about half the time of glibc's malloc on the token path
/// (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The accepting loop and background work (key generation included, which
// must not stall accepting); requests run on the serving threads.
#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        None => {}
        Some("generate-master-key") => return generate_master_key(args.next()),
        Some(other) => {
            eprintln!(
                "unknown command `{other}`; usage: clientcreds-server [generate-master-key [ID]]"
            );
            return ExitCode::from(2);
        }
    }
    // Lines at info are written in batches (`clientcreds_server::log`);
    // colours only on a terminal.
    let (log, _guard) = match BatchedLog::stdout() {
        Ok(log) => log,
        Err(error) => {
            eprintln!("error: cannot start the log's thread: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(log)
        .init();
    match serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Each cause once: an error's message never repeats its source.
            let mut text = error.to_string();
            let mut source = error.source();
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            tracing::error!("{text}");
            eprintln!("error: {text}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let (addr, issuer, audience) = (config.addr, config.issuer.clone(), config.audience.clone());
    let threads = config.serve_threads;
    // The config (with its tokens and keys) moves into the server.
    let server = Server::new(config).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, %issuer, %audience, threads, "listening");
    // Serving threads of their own (`Server::serve`); this runtime accepts
    // and runs the background work. On Ctrl-C or SIGTERM (what container
    // runtimes send): open requests finish, and the activity still queued
    // is written before exiting.
    let stop = stop_signal()?;
    server.serve(listener, threads, stop).await?;
    Ok(())
}

/// Completes on the first Ctrl-C (SIGINT) or, on Unix, SIGTERM.
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stopping: open requests finish, then the queued activity is written");
    })
}

/// Prints one `id:base64url` entry: the output is the secret, meant for the
/// operator's secret manager.
#[allow(clippy::print_stdout)]
fn generate_master_key(id: Option<String>) -> ExitCode {
    let id = id.unwrap_or_else(|| {
        let today = time::OffsetDateTime::now_utc().date();
        format!(
            "{}-{:02}-{:02}",
            today.year(),
            u8::from(today.month()),
            today.day()
        )
    });
    match MasterKeys::generate_entry(&id) {
        Ok(entry) => {
            println!("{}", entry.as_str());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
