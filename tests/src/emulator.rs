//! The `apify-local` emulator in process: its own thread and tokio runtime, a free port on
//! 127.0.0.1, and it stops (persisting its state) when dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use apify_local::api::{ApiConfig, LocalApi};
use apify_local::fsio::Durability;
use apify_local::platform::PlatformOptions;
use apify_local::server::{Server, ServerOptions};
use apify_local::storage::{StorageConfig, Storages};

/// A running emulator.
#[derive(Debug)]
pub struct Emulator {
    url: String,
    storages: Arc<Storages>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Serves `storage_dir`, requiring `token` when given.
    pub fn start(storage_dir: &Path, token: Option<&str>) -> Self {
        Self::with_platform(storage_dir, token, PlatformOptions::default())
    }

    /// [`Emulator::start`] with local Actors that clients can run.
    pub fn with_platform(storage_dir: &Path, token: Option<&str>, platform: PlatformOptions) -> Self {
        let mut cfg = StorageConfig::new(storage_dir);
        cfg.durability = Durability::Relaxed;
        let storages = Arc::new(Storages::new(cfg));
        let api = LocalApi::new(
            storages.clone(),
            ApiConfig { token: token.map(str::to_owned), public_base: String::new(), ..ApiConfig::default() },
        );
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            rt.block_on(async move {
                let options =
                    ServerOptions { persist_every: Duration::from_secs(60), platform, ..ServerOptions::default() };
                let server = Server::bind_with(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), api, options)
                    .await
                    .expect("binding the emulator");
                url_tx.send(server.url()).expect("reporting the URL");
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                server.shutdown().await;
            });
        });
        let url = url_rx.recv().expect("the emulator did not start");
        Self { url, storages, stop: Some(stop_tx), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The storages it serves.
    pub fn storages(&self) -> &Arc<Storages> {
        &self.storages
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
