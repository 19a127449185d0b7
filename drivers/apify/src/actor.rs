//! The entry point: [`Actor`] reads the environment, picks the backend (local files when
//! not on the platform, the API on it or with `force_cloud`) and opens storages.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use apify_core::client::ApifyClient;
use apify_core::config::{Config, RequestCompression};
use apify_hyper::HyperClient;
use apify_local::LocalClient;
use apify_local::api::{ApiConfig, LocalApi};
use apify_local::storage::{Kind, StorageConfig, Storages, Target};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::{Backend, dispatch};
use crate::config::Configuration;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::key_value_store::KeyValueStore;
use crate::request_queue::RequestQueue;
use apify_core::models::RecordValue;

/// Which storage to open: the default one, or by ID, name or alias; `force_cloud` uses
/// the platform even when running locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenOptions {
    id: Option<String>,
    name: Option<String>,
    alias: Option<String>,
    force_cloud: bool,
}

impl OpenOptions {
    /// The default storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// A storage by ID.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// A named storage (kept until deleted).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// An unnamed storage known in this run by an alias.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.alias = Some(alias.into());
        self
    }

    /// Use the platform even when running locally (needs `APIFY_TOKEN`).
    pub fn force_cloud(mut self) -> Self {
        self.force_cloud = true;
        self
    }

    fn target(&self) -> Result<Target> {
        match (&self.id, &self.name, &self.alias) {
            (None, None, None) => Ok(Target::Default),
            (Some(i), None, None) => Ok(Target::Id(i.clone())),
            (None, Some(n), None) => Ok(Target::Name(n.clone())),
            (None, None, Some(a)) => Ok(Target::Alias(a.clone())),
            _ => Err(Error::InvalidArgument("give at most one of id, name and alias".into())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    kind: KindKey,
    cloud: bool,
    target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum KindKey {
    Dataset,
    KeyValueStore,
    RequestQueue,
}

struct Inner {
    config: Configuration,
    local: OnceLock<Backend>,
    cloud: OnceLock<Backend>,
    opened: Mutex<HashMap<CacheKey, String>>,
    purged: Mutex<HashSet<(KindKey, String)>>,
    client_key: String,
    charging: tokio::sync::OnceCell<tokio::sync::Mutex<crate::charging::Charging>>,
    /// The `use_state` values, saved on every persist.
    /// Held by the Actor, so a value changed through a handle dropped since is still saved.
    states: Mutex<Vec<Arc<dyn crate::state::Persist>>>,
    persisting: OnceLock<()>,
    /// The `use_state` values by store ID and key.
    state_handles: Mutex<HashMap<(String, String), Arc<dyn std::any::Any + Send + Sync>>>,
}

/// An Actor run: configuration, storages, and the shortcuts of the Python SDK's `Actor`.
///
/// ```no_run
/// # async fn run() -> Result<(), apify::Error> {
/// let actor = apify::Actor::init().await?;
/// let input: Option<serde_json::Value> = actor.get_input().await?;
/// actor.push_data(&serde_json::json!({"title": "Hello"})).await?;
/// actor.set_value("OUTPUT", &serde_json::json!({"done": true})).await?;
/// actor.exit().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Actor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// 32 characters of `[a-zA-Z0-9]`: the client key when there is no run ID.
fn random_client_key() -> String {
    const ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    buf.iter().map(|b| ALPHABET[(*b % 62) as usize] as char).collect()
}

impl Actor {
    /// Reads the environment and starts: when not on the platform, the default key-value
    /// store is opened at once (purging the previous local run, as the Python SDK does).
    pub async fn init() -> Result<Self> {
        Self::with_config(Configuration::from_env()?).await
    }

    /// Starts with an explicit configuration.
    pub async fn with_config(config: Configuration) -> Result<Self> {
        let client_key =
            config.actor_run_id.as_deref().map_or_else(random_client_key, |id| id.chars().take(32).collect());
        let actor = Self {
            inner: Arc::new(Inner {
                config,
                local: OnceLock::new(),
                cloud: OnceLock::new(),
                opened: Mutex::new(HashMap::new()),
                purged: Mutex::new(HashSet::new()),
                client_key,
                charging: tokio::sync::OnceCell::new(),
                states: Mutex::new(Vec::new()),
                persisting: OnceLock::new(),
                state_handles: Mutex::new(HashMap::new()),
            }),
        };
        if !actor.inner.config.is_at_home {
            actor.open_key_value_store(OpenOptions::new()).await?;
        }
        Ok(actor)
    }

    /// The configuration.
    pub fn config(&self) -> &Configuration {
        &self.inner.config
    }

    /// Whether the Actor runs on the platform.
    pub fn is_at_home(&self) -> bool {
        self.inner.config.is_at_home
    }

    /// Adds a state to the persisted ones; the first starts the persist timer (the local
    /// `persistState` event), which ends with the last handle of the Actor.
    pub(crate) fn register_state(&self, state: Arc<dyn crate::state::Persist>) {
        self.inner.states.lock().unwrap_or_else(|p| p.into_inner()).push(state);
        let weak = Arc::downgrade(&self.inner);
        let every = self.inner.config.persist_state_interval;
        self.inner.persisting.get_or_init(|| {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Some(inner) = weak.upgrade() else { return };
                    let actor = Self { inner };
                    if let Err(e) = actor.persist_states().await {
                        tracing::error!(error = %e, "persisting the state failed");
                    }
                }
            });
        });
    }

    pub(crate) fn state_handle(&self, slot: &(String, String)) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        self.inner.state_handles.lock().unwrap_or_else(|p| p.into_inner()).get(slot).cloned()
    }

    /// Adds a handle; the one already there if another call was first.
    pub(crate) fn add_state_handle(
        &self,
        slot: (String, String),
        handle: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        let mut handles = self.inner.state_handles.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = handles.get(&slot) {
            return Some(found.clone());
        }
        handles.insert(slot, handle);
        None
    }

    /// Saves every `use_state` value now (what the platform's `persistState` event does).
    pub async fn persist_states(&self) -> Result<()> {
        let states: Vec<Arc<dyn crate::state::Persist>> =
            self.inner.states.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for s in states {
            s.persist().await?;
        }
        Ok(())
    }

    pub(crate) fn charging_cell(&self) -> &tokio::sync::OnceCell<tokio::sync::Mutex<crate::charging::Charging>> {
        &self.inner.charging
    }

    /// The request-queue client key of this run.
    pub fn client_key(&self) -> &str {
        &self.inner.client_key
    }

    fn local(&self) -> Result<&Backend> {
        if let Some(b) = self.inner.local.get() {
            return Ok(b);
        }
        let c = &self.inner.config;
        let mut storage = StorageConfig::new(&c.storage_dir);
        storage.input_key = c.input_key.clone();
        storage.durability = c.local_durability;
        let storages = Arc::new(Storages::new(storage));
        let api_cfg = ApiConfig {
            public_base: c.api_public_base_url.clone(),
            // Any key that makes a safe file name, as the Python SDK's local storage.
            strict_record_keys: false,
            ..ApiConfig::default()
        };
        let api = LocalApi::new(storages.clone(), api_cfg);
        // Local calls: nothing to compress or retry.
        let cfg = Config::new().with_max_retries(0).with_request_compression(RequestCompression::Off);
        let client = ApifyClient::with_custom_http_client(cfg, LocalClient::with_api(api));
        Ok(self.inner.local.get_or_init(|| Backend::Local(client, storages)))
    }

    fn cloud(&self) -> Result<&Backend> {
        if let Some(b) = self.inner.cloud.get() {
            return Ok(b);
        }
        let c = &self.inner.config;
        let token = c.token.clone().ok_or_else(|| {
            Error::Config("In order to use the Apify cloud storage from your computer, you need to provide an Apify token using the APIFY_TOKEN environment variable.".into())
        })?;
        let cfg = Config::new()
            .with_token(token)
            .with_api_url(&c.api_base_url)?
            .with_api_public_url(&c.api_public_base_url)?
            .with_is_at_home(c.is_at_home)
            // The SDK's own client retries more (as the Python SDK's does).
            .with_max_retries(8);
        let client = ApifyClient::with_custom_http_client(cfg, HyperClient::new());
        Ok(self.inner.cloud.get_or_init(|| Backend::Cloud(client)))
    }

    fn backend(&self, force_cloud: bool) -> Result<&Backend> {
        if self.inner.config.is_at_home || force_cloud { self.cloud() } else { self.local() }
    }

    /// Opens a storage of `kind`; returns its backend, ID and name.
    async fn open(&self, kind: KindKey, opts: &OpenOptions) -> Result<(Backend, String, Option<String>)> {
        let target = opts.target()?;
        let backend = self.backend(opts.force_cloud)?.clone();
        let key = CacheKey { kind, cloud: !backend.is_local(), target: format!("{target:?}") };
        let cached = self.inner.opened.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        let (id, name) = match &backend {
            Backend::Local(_, storages) => self.open_local(storages, kind, &target)?,
            Backend::Cloud(client) => match cached {
                Some(id) => (id, None),
                None => self.open_cloud(client, kind, &target).await?,
            },
        };
        self.inner.opened.lock().unwrap_or_else(|p| p.into_inner()).insert(key, id.clone());
        Ok((backend, id, name))
    }

    fn open_local(&self, storages: &Storages, kind: KindKey, target: &Target) -> Result<(String, Option<String>)> {
        let purge = self.inner.config.purge_on_start;
        let first_time =
            |id: &str| self.inner.purged.lock().unwrap_or_else(|p| p.into_inner()).insert((kind, id.to_owned()));
        Ok(match kind {
            KindKey::Dataset => {
                let (s, _) = storages.open_dataset(target)?;
                let m = s.meta();
                if purge && m.name.is_none() && first_time(s.id()) {
                    s.purge()?;
                }
                (m.id, m.name)
            }
            KindKey::KeyValueStore => {
                let (s, _) = storages.open_key_value_store(target)?;
                let m = s.meta();
                if purge && m.name.is_none() && first_time(s.id()) {
                    s.purge()?;
                }
                (m.id, m.name)
            }
            KindKey::RequestQueue => {
                let (s, _) = storages.open_request_queue(target)?;
                let m = s.meta();
                if purge && m.name.is_none() && first_time(s.id()) {
                    s.purge()?;
                }
                (m.id, m.name)
            }
        })
    }

    async fn open_cloud(
        &self,
        client: &ApifyClient<HyperClient>,
        kind: KindKey,
        target: &Target,
    ) -> Result<(String, Option<String>)> {
        let c = &self.inner.config;
        let default_id = match kind {
            KindKey::Dataset => c.default_dataset_id.clone(),
            KindKey::KeyValueStore => c.default_key_value_store_id.clone(),
            KindKey::RequestQueue => c.default_request_queue_id.clone(),
        };
        let label = match kind {
            KindKey::Dataset => "Dataset",
            KindKey::KeyValueStore => "KeyValueStore",
            KindKey::RequestQueue => "RequestQueue",
        };
        macro_rules! storage_ops {
            ($coll:ident, $one:ident) => {{
                let get_id =
                    |id: String| async move { client.$one(&id).get().await.map(|o| o.map(|o| (o.id, o.name))) };
                match target {
                    Target::Name(n) => {
                        let o = client.$coll().get_or_create().name(n.clone()).await?;
                        (o.id, o.name)
                    }
                    Target::Id(id) => get_id(id.clone())
                        .await?
                        .ok_or_else(|| Error::NotFound(format!("Opening {label} with id={id} failed.")))?,
                    Target::Default if default_id.is_some() => {
                        let id = default_id.clone().unwrap_or_default();
                        match get_id(id).await? {
                            Some(found) => found,
                            None => {
                                let o = client.$coll().get_or_create().await?;
                                (o.id, o.name)
                            }
                        }
                    }
                    Target::Unnamed(_) => {
                        let o = client.$coll().get_or_create().await?;
                        (o.id, o.name)
                    }
                    Target::Default | Target::Alias(_) => {
                        let alias = match target {
                            Target::Alias(a) => a.as_str(),
                            _ => "__default__",
                        };
                        let mapped = c
                            .storages_json
                            .as_ref()
                            .and_then(|j| j.get(collection_key(kind))?.get(alias)?.as_str().map(str::to_owned));
                        match mapped {
                            Some(id) => get_id(id.clone()).await?.ok_or_else(|| {
                                Error::NotFound(format!("{label} {id} of alias {alias:?} was not found"))
                            })?,
                            None => {
                                let o = client.$coll().get_or_create().await?;
                                (o.id, o.name)
                            }
                        }
                    }
                }
            }};
        }
        Ok(match kind {
            KindKey::Dataset => storage_ops!(datasets, dataset),
            KindKey::KeyValueStore => storage_ops!(key_value_stores, key_value_store),
            KindKey::RequestQueue => storage_ops!(request_queues, request_queue),
        })
    }

    /// Opens a dataset.
    pub async fn open_dataset(&self, opts: OpenOptions) -> Result<Dataset> {
        let (backend, id, name) = self.open(KindKey::Dataset, &opts).await?;
        Ok(Dataset::new(backend, id, name))
    }

    /// Opens a key-value store.
    pub async fn open_key_value_store(&self, opts: OpenOptions) -> Result<KeyValueStore> {
        let (backend, id, name) = self.open(KindKey::KeyValueStore, &opts).await?;
        Ok(KeyValueStore::new(backend, id, name))
    }

    /// Opens a request queue.
    pub async fn open_request_queue(&self, opts: OpenOptions) -> Result<RequestQueue> {
        let (backend, id, name) = self.open(KindKey::RequestQueue, &opts).await?;
        Ok(RequestQueue::new(backend, id, name, self.inner.client_key.clone()))
    }

    /// Pushes one item (an object) or many (an array of objects) to the default dataset;
    /// pay-per-event, only the items the budget pays for (see [`Actor::push_data_charged`]).
    pub async fn push_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<()> {
        self.push_items(&crate::dataset::items_of(data)?).await
    }

    /// A value of the default key-value store (`None` if missing).
    pub async fn get_value(&self, key: &str) -> Result<Option<RecordValue>> {
        self.open_key_value_store(OpenOptions::new()).await?.get_value(key).await
    }

    /// Stores a value in the default key-value store (JSON, or text for strings).
    pub async fn set_value<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        self.open_key_value_store(OpenOptions::new()).await?.set_value(key, value).await
    }

    /// The Actor's input (the `INPUT` record of the default store, or `./INPUT.json` /
    /// `./INPUT` when running locally without one), decoded as `T`.
    pub async fn get_input<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        let kvs = self.open_key_value_store(OpenOptions::new()).await?;
        let key = self.inner.config.input_key.clone();
        let value = match kvs.get_value(&key).await? {
            Some(v) => Some(v),
            None if !self.is_at_home() => crate::key_value_store::input_from_cwd()?,
            None => None,
        };
        value.map(|v| crate::key_value_store::decode_as(v, "the Actor input")).transpose()
    }

    /// Saves the `use_state` values and flushes local storages (reads' `accessed_at`, and
    /// the request-queue state records the Python SDK reads). Call it at the end of the run.
    pub async fn exit(&self) -> Result<()> {
        self.persist_states().await?;
        if let Some(s) = self.inner.local.get().and_then(Backend::storages) {
            s.flush()?;
        }
        Ok(())
    }

    /// Drops a storage (deletes it, on disk or on the platform).
    pub(crate) async fn drop_storage(backend: &Backend, kind: Kind, id: &str) -> Result<()> {
        if let Some(storages) = backend.storages() {
            storages.drop_storage(kind, &Target::Id(id.to_owned()))?;
            return Ok(());
        }
        dispatch!(backend, c => match kind {
            Kind::Dataset => c.dataset(id).delete().await?,
            Kind::KeyValueStore => c.key_value_store(id).delete().await?,
            Kind::RequestQueue => c.request_queue(id).delete().await?,
        });
        Ok(())
    }
}

fn collection_key(kind: KindKey) -> &'static str {
    match kind {
        KindKey::Dataset => "datasets",
        KindKey::KeyValueStore => "keyValueStores",
        KindKey::RequestQueue => "requestQueues",
    }
}
