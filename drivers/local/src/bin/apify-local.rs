//! `apify-local`: the Apify storage API on loopback, backed by a local storage folder.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use apify_local::api::{ApiConfig, LocalApi};
use apify_local::fsio::Durability;
use apify_local::server::Server;
use apify_local::storage::{StorageConfig, Storages};
use clap::{Parser, Subcommand, ValueEnum};

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
        /// Require `Authorization: Bearer TOKEN` (401 otherwise).
        #[arg(long)]
        token: Option<String>,
        /// fsync policy of writes.
        #[arg(long, value_enum, default_value_t = DurabilityArg::Full)]
        durability: DurabilityArg,
        /// How often request-queue state records are written for the Python SDK (ms).
        #[arg(long, default_value_t = 60_000)]
        persist_interval_ms: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// fsync files and directories (survives power loss).
    Full,
    /// No fsync (like the Python SDK; survives process crashes).
    Relaxed,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Command::Serve { storage_dir, port, host, token, durability, persist_interval_ms } = Cli::parse().command;
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
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let server =
            Server::bind(SocketAddr::new(host, port), api, Duration::from_millis(persist_interval_ms.max(100))).await?;
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
