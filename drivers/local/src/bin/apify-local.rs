//! `apify-local`: the Apify storage API on loopback, backed by a local storage folder.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use apify_local::api::{ApiConfig, LocalApi};
use apify_local::fsio::Durability;
use apify_local::platform::{LocalActor, PlatformOptions, WebhookRetries, check_unique, read_actors_file};
use apify_local::server::{Server, ServerOptions};
use apify_local::storage::{StorageConfig, Storages};
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

/// Local Apify storages, served over HTTP.
#[derive(Parser)]
#[command(name = "apify-local", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the storage part of the Apify API v2 (datasets, key-value stores, request
    /// queues) from a storage folder in the Apify SDK / Crawlee format. Point any Apify
    /// client at the printed URL (e.g. `ApifyClient(token, api_url=URL)` in Python).
    /// The default storages are reachable under the ID `default`.
    Serve {
        /// The storage folder (default: $APIFY_LOCAL_STORAGE_DIR, $CRAWLEE_STORAGE_DIR or ./storage).
        #[arg(long)]
        storage_dir: Option<PathBuf>,
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Address to bind. Only loopback by default: the storages have no access control
        /// beyond the optional token.
        #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
        host: IpAddr,
        /// Require `Authorization: Bearer TOKEN` or `?token=TOKEN` (401 otherwise).
        #[arg(long)]
        token: Option<String>,
        /// fsync policy of writes.
        #[arg(long, value_enum, default_value_t = DurabilityArg::Full)]
        durability: DurabilityArg,
        /// How often request-queue state records are written for the Python SDK (ms).
        #[arg(long, default_value_t = 60_000)]
        persist_interval_ms: u64,
        /// Longest wait for a request's headers, also between requests on a kept-alive
        /// connection (ms; 0: none).
        #[arg(long, default_value_t = 30_000)]
        header_timeout_ms: u64,
        /// Longest time to receive a request body once its headers are in; 408 past it (ms; 0: none).
        #[arg(long, default_value_t = 60_000)]
        body_timeout_ms: u64,
        /// A connection with no request in flight and no traffic for this long is closed (ms; 0: none).
        #[arg(long, default_value_t = 30_000)]
        idle_timeout_ms: u64,
        /// Most connections at once (default: half the open-file limit, at most 1024). At
        /// the limit the longest idle one is closed for a newcomer; if all are busy, 503.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        max_connections: Option<u32>,
        /// Log level on stderr (default: $RUST_LOG, else info); debug logs every request.
        #[arg(long, value_enum)]
        log_level: Option<LogLevel>,
        /// A local Actor: NAME=COMMAND (repeatable). COMMAND runs through `sh -c` in this
        /// directory, with the environment the platform gives an Actor, when a client
        /// starts a run of NAME (e.g. `client.actor("NAME").call()`).
        #[arg(long = "actor", value_name = "NAME=COMMAND")]
        actors: Vec<String>,
        /// A JSON file of local Actors:
        /// `{"actors": {"NAME": {"command": "...", "env": {}, "timeoutSecs": 0, "memoryMbytes": 1024}}}`.
        #[arg(long, value_name = "FILE")]
        actors_file: Option<PathBuf>,
        /// Most runs at once; a start beyond it gets `concurrent-runs-limit-exceeded`.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
        max_concurrent_runs: u32,
        /// From SIGTERM to SIGKILL when a run is aborted, times out or the server stops (ms).
        #[arg(long, default_value_t = 3_000)]
        kill_grace_ms: u64,
        /// The wait before a failed webhook call is retried, doubling after each (ms; the
        /// platform's is a minute).
        #[arg(long, default_value_t = 60_000)]
        webhook_retry_ms: u64,
        /// Retries of a failed webhook call (the platform's: 11).
        #[arg(long, default_value_t = 11)]
        webhook_max_retries: u32,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn directive(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// fsync files and directories (survives power loss).
    Full,
    /// No fsync (like the Python SDK; survives process crashes).
    Relaxed,
}

fn main() -> ExitCode {
    match serve(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apify-local: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Warnings (corrupt metadata set aside, skipped files, failed persists, 500s) go to
/// stderr; the flag wins over `RUST_LOG`.
fn init_logging(level: Option<LogLevel>) {
    let filter = match (level, std::env::var("RUST_LOG")) {
        (Some(level), _) => EnvFilter::new(level.directive()),
        (None, Ok(env)) if !env.trim().is_empty() => EnvFilter::try_new(&env).unwrap_or_else(|e| {
            eprintln!("apify-local: RUST_LOG ignored: {e}");
            EnvFilter::new("info")
        }),
        (None, _) => EnvFilter::new("info"),
    };
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn ms(value: u64) -> Option<Duration> {
    (value > 0).then(|| Duration::from_millis(value))
}

fn serve(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    let Command::Serve {
        storage_dir,
        port,
        host,
        token,
        durability,
        persist_interval_ms,
        header_timeout_ms,
        body_timeout_ms,
        idle_timeout_ms,
        max_connections,
        log_level,
        actors,
        actors_file,
        max_concurrent_runs,
        kill_grace_ms,
        webhook_retry_ms,
        webhook_max_retries,
    } = command;
    init_logging(log_level);
    let mut local_actors = match &actors_file {
        Some(path) => read_actors_file(path)?,
        None => Vec::new(),
    };
    for spec in &actors {
        local_actors.push(LocalActor::parse(spec)?);
    }
    check_unique(&local_actors)?;
    let mut cfg = StorageConfig::from_env(|k| std::env::var(k).ok());
    if let Some(dir) = storage_dir {
        cfg.root = dir;
    }
    cfg.durability = match durability {
        DurabilityArg::Full => Durability::Full,
        DurabilityArg::Relaxed => Durability::Relaxed,
    };
    let root = cfg.root.clone();
    let storages = Arc::new(Storages::new(cfg));
    let api_cfg = ApiConfig {
        token,
        // Public URLs point at this server.
        public_base: String::new(),
        user_id: std::env::var("APIFY_USER_ID").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "local".into()),
        ..ApiConfig::default()
    };
    let api = LocalApi::new(storages, api_cfg);
    let options = ServerOptions {
        persist_every: Duration::from_millis(persist_interval_ms.max(100)),
        header_read_timeout: ms(header_timeout_ms),
        body_read_timeout: ms(body_timeout_ms),
        idle_timeout: ms(idle_timeout_ms),
        max_connections: max_connections.map(|n| n as usize),
        platform: PlatformOptions {
            actors: local_actors,
            max_concurrent_runs: max_concurrent_runs as usize,
            workdir: std::env::current_dir()?,
            kill_grace: Duration::from_millis(kill_grace_ms),
            webhook_retries: WebhookRetries {
                first_wait: Duration::from_millis(webhook_retry_ms),
                max_retries: webhook_max_retries,
            },
            ..PlatformOptions::default()
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let server = Server::bind_with(SocketAddr::new(host, port), api, options).await?;
        println!("apify-local serving {} on {}", root.display(), server.url());
        shutdown_signal().await;
        eprintln!("apify-local: shutting down");
        server.shutdown().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
