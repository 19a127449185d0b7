//! The storage engine: datasets, key-value stores and request queues in a `storage/`
//! folder, in the format of the Apify SDK for Python (local-storage-format.md).

mod dataset;
mod key_value_store;
mod meta;
mod request_queue;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

pub use dataset::{Dataset, ItemQuery, ItemsPage};
pub use key_value_store::{KeyInfo, KeyValueStore, Record, encode_key, validate_key};
pub use meta::StorageMeta;
pub use request_queue::{
    AddOutcome, BatchDeleted, HeadItem, LockedHead, RequestEntry, RequestQueue, RequestRef, StoredRequest,
};

use crate::error::{Result, StorageError};
use crate::fsio::{Durability, StorageLock};

/// The three storage types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `datasets/`
    Dataset,
    /// `key_value_stores/`
    KeyValueStore,
    /// `request_queues/`
    RequestQueue,
}

impl Kind {
    /// The type directory.
    pub fn dir(self) -> &'static str {
        match self {
            Self::Dataset => "datasets",
            Self::KeyValueStore => "key_value_stores",
            Self::RequestQueue => "request_queues",
        }
    }

    /// Human name for messages, as the platform words them.
    pub fn label(self) -> &'static str {
        match self {
            Self::Dataset => "Dataset",
            Self::KeyValueStore => "Key-value store",
            Self::RequestQueue => "Request queue",
        }
    }
}

/// Which storage to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The run's default storage (directory `default`).
    Default,
    /// A named storage (directory = name).
    Name(String),
    /// An unnamed storage known by an alias (directory = alias).
    Alias(String),
    /// A storage by its ID (found by scanning metadata).
    Id(String),
    /// A new unnamed storage with this ID, in a directory of the same name (what the API's
    /// get-or-create without a name makes).
    Unnamed(String),
}

/// A source of the current time (injectable for tests of lock expiry).
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Settings of a storage folder.
#[derive(Clone)]
pub struct StorageConfig {
    /// The `storage/` folder.
    pub root: PathBuf,
    /// fsync policy.
    pub durability: Durability,
    /// Key of the input record (`ACTOR_INPUT_KEY`, default `INPUT`).
    pub input_key: String,
    /// Clock for timestamps and lock expiry.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageConfig")
            .field("root", &self.root)
            .field("durability", &self.durability)
            .field("input_key", &self.input_key)
            .finish_non_exhaustive()
    }
}

impl StorageConfig {
    /// A folder with full durability, the `INPUT` key and the system clock.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            durability: Durability::Full,
            input_key: "INPUT".into(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Settings from the environment (`APIFY_LOCAL_STORAGE_DIR`, `CRAWLEE_STORAGE_DIR`,
    /// default `./storage`; `ACTOR_INPUT_KEY`, `APIFY_INPUT_KEY`, `CRAWLEE_INPUT_KEY`;
    /// `APIFY_LOCAL_DURABILITY` = `full` | `relaxed`), read through `lookup`.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let first = |names: &[&str]| names.iter().find_map(|n| lookup(n).filter(|v| !v.is_empty()));
        let root = first(&["APIFY_LOCAL_STORAGE_DIR", "CRAWLEE_STORAGE_DIR"]).unwrap_or_else(|| "./storage".into());
        let mut cfg = Self::new(root);
        if let Some(k) = first(&["ACTOR_INPUT_KEY", "APIFY_INPUT_KEY", "CRAWLEE_INPUT_KEY"]) {
            cfg.input_key = k;
        }
        if let Some(d) = first(&["APIFY_LOCAL_DURABILITY"]).and_then(|d| Durability::parse(&d)) {
            cfg.durability = d;
        }
        cfg
    }
}

#[derive(Clone)]
enum Open {
    Dataset(Arc<Dataset>),
    KeyValueStore(Arc<KeyValueStore>),
    RequestQueue(Arc<RequestQueue>),
}

/// Storages open in this process, by type and directory.
#[derive(Default)]
struct Registry {
    open: HashMap<(Kind, String), Open>,
}

/// A storage folder: opens, creates, lists and drops storages, one instance per storage.
pub struct Storages {
    cfg: StorageConfig,
    registry: Mutex<Registry>,
}

impl std::fmt::Debug for Storages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storages").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

/// `^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$`, at most 63 characters, and not
/// `default` (W6: the default storage's directory, never a name).
pub fn validate_name(name: &str) -> Result<()> {
    if name == "default" {
        return Err(StorageError::InvalidName(
            "\"default\" is the default storage's directory; it cannot be used as a name".into(),
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(StorageError::InvalidName(format!(
            "storage name {name:?} is invalid: use 1 to 63 letters, digits and inner hyphens"
        )))
    }
}

/// An alias may be any directory name except `""`, `.`, `..` and `default` (W6), with no
/// `/`, `\` or NUL.
pub fn validate_alias(alias: &str) -> Result<()> {
    if matches!(alias, "" | "." | "..") || alias.contains(['/', '\\', '\0']) {
        return Err(StorageError::InvalidName(format!("storage alias {alias:?} is not a valid directory name")));
    }
    if alias == "default" || alias == "__default__" {
        return Err(StorageError::InvalidName("the alias \"default\" is reserved for the default storage".into()));
    }
    Ok(())
}

/// A new storage ID: 17 characters of `[a-zA-Z0-9]` from the OS's CSPRNG.
pub fn new_id() -> String {
    const ALPHABET: &[u8; 62] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(17);
    while out.len() < 17 {
        let mut buf = [0u8; 32];
        if getrandom::fill(&mut buf).is_err() {
            // No OS random source (a very restricted sandbox): std's per-process hash keys
            // still make IDs unique enough for a local folder, and nothing panics.
            use std::hash::{BuildHasher, RandomState};
            let state = RandomState::new();
            for (i, chunk) in buf.chunks_mut(8).enumerate() {
                chunk.copy_from_slice(&state.hash_one((i, std::process::id(), out.len())).to_le_bytes());
            }
        }
        // Rejection sampling keeps the distribution uniform.
        for b in buf {
            if b < 248 && out.len() < 17 {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    out
}

impl Storages {
    /// Uses the folder described by `cfg` (created on first write).
    pub fn new(cfg: StorageConfig) -> Self {
        Self { cfg, registry: Mutex::new(Registry::default()) }
    }

    /// The settings.
    pub fn config(&self) -> &StorageConfig {
        &self.cfg
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn type_dir(&self, kind: Kind) -> PathBuf {
        self.cfg.root.join(kind.dir())
    }

    /// Finds the directory of a storage by ID, scanning metadata (unreadable ones skipped).
    fn find_by_id(&self, kind: Kind, id: &str) -> Result<Option<String>> {
        let reg = self.registry();
        for ((k, dir), open) in &reg.open {
            let open_id = match open {
                Open::Dataset(d) => d.id(),
                Open::KeyValueStore(s) => s.id(),
                Open::RequestQueue(q) => q.id(),
            };
            if *k == kind && open_id == id {
                return Ok(Some(dir.clone()));
            }
        }
        drop(reg);
        let type_dir = self.type_dir(kind);
        let entries = match fs::read_dir(&type_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageError::io(format!("listing {}", type_dir.display()))(e)),
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Ok(Some(m)) = StorageMeta::read(&entry.path())
                && m.id == id
            {
                return Ok(entry.file_name().to_str().map(str::to_owned));
            }
        }
        Ok(None)
    }

    /// Resolves a target to its directory name and the name its metadata must carry.
    fn resolve(&self, kind: Kind, target: &Target, create: bool) -> Result<(String, Option<String>, Claim)> {
        Ok(match target {
            Target::Default => ("default".into(), None, Claim::Unnamed),
            Target::Name(n) => {
                validate_name(n)?;
                (n.clone(), Some(n.clone()), Claim::Named)
            }
            Target::Alias(a) => {
                validate_alias(a)?;
                (a.clone(), None, Claim::Unnamed)
            }
            Target::Unnamed(id) => (id.clone(), None, Claim::Unnamed),
            Target::Id(id) => {
                let _ = create;
                let dir = self
                    .find_by_id(kind, id)?
                    .ok_or_else(|| StorageError::NotFound { kind: kind.label(), what: format!("ID {id:?}") })?;
                (dir, None, Claim::Any)
            }
        })
    }

    fn open_generic<T>(
        &self,
        kind: Kind,
        target: &Target,
        wrap: fn(Arc<T>) -> Open,
        unwrap: fn(&Open) -> Option<Arc<T>>,
        open: impl FnOnce(&Path, StorageMeta, StorageLock, &StorageConfig) -> Result<T>,
    ) -> Result<(Arc<T>, bool)> {
        let (dir_name, name, claim) = self.resolve(kind, target, true)?;
        let mut reg = self.registry();
        if let Some(existing) = reg.open.get(&(kind, dir_name.clone())).and_then(unwrap) {
            return Ok((existing, false));
        }
        let dir = self.type_dir(kind).join(&dir_name);
        fs::create_dir_all(&dir).map_err(StorageError::io(format!("creating {}", dir.display())))?;
        let lock = self.lock(kind, &dir_name)?;
        let now = self.cfg.clock.now();
        let (meta, created) = match StorageMeta::read(&dir)? {
            Some(m) => {
                claim.check(kind, &dir_name, &m)?;
                (m, false)
            }
            // A directory without metadata is adopted (as the reference does).
            None => {
                let id = if let Target::Unnamed(id) = target { id.clone() } else { new_id() };
                (StorageMeta::new(id, name, now), true)
            }
        };
        let storage = Arc::new(open(&dir, meta, lock, &self.cfg)?);
        reg.open.insert((kind, dir_name), wrap(storage.clone()));
        Ok((storage, created))
    }

    /// Opens (creating if needed) a dataset; `true` when it was created.
    pub fn open_dataset(&self, target: &Target) -> Result<(Arc<Dataset>, bool)> {
        self.open_generic(
            Kind::Dataset,
            target,
            Open::Dataset,
            |o| if let Open::Dataset(d) = o { Some(d.clone()) } else { None },
            Dataset::open,
        )
    }

    /// Opens (creating if needed) a key-value store; `true` when it was created.
    pub fn open_key_value_store(&self, target: &Target) -> Result<(Arc<KeyValueStore>, bool)> {
        self.open_generic(
            Kind::KeyValueStore,
            target,
            Open::KeyValueStore,
            |o| if let Open::KeyValueStore(s) = o { Some(s.clone()) } else { None },
            KeyValueStore::open,
        )
    }

    /// Opens (creating if needed) a request queue; `true` when it was created.
    pub fn open_request_queue(&self, target: &Target) -> Result<(Arc<RequestQueue>, bool)> {
        self.open_generic(
            Kind::RequestQueue,
            target,
            Open::RequestQueue,
            |o| if let Open::RequestQueue(q) = o { Some(q.clone()) } else { None },
            RequestQueue::open,
        )
    }

    /// Metadata of every storage of a kind (unreadable ones skipped), sorted by creation.
    pub fn list(&self, kind: Kind) -> Result<Vec<(String, StorageMeta)>> {
        let type_dir = self.type_dir(kind);
        let mut out = Vec::new();
        // Open storages report their live metadata (it may be newer than the file).
        let live: HashMap<String, StorageMeta> = self
            .registry()
            .open
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, dir), o)| {
                let m = match o {
                    Open::Dataset(d) => d.meta(),
                    Open::KeyValueStore(s) => s.meta(),
                    Open::RequestQueue(q) => q.meta(),
                };
                (dir.clone(), m)
            })
            .collect();
        if let Ok(entries) = fs::read_dir(&type_dir) {
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let Some(dir) = entry.file_name().to_str().map(str::to_owned) else { continue };
                if let Some(m) = live.get(&dir) {
                    out.push((dir, m.clone()));
                } else if let Ok(Some(m)) = StorageMeta::read(&entry.path()) {
                    out.push((dir, m));
                }
            }
        }
        out.sort_by(|a, b| a.1.created_at.cmp(&b.1.created_at).then_with(|| a.1.id.cmp(&b.1.id)));
        Ok(out)
    }

    /// Deletes a storage's directory and forgets it (`drop()`); dropping a request queue
    /// also deletes its `__RQ_STATE_<id>` record (W16).
    pub fn drop_storage(&self, kind: Kind, target: &Target) -> Result<bool> {
        let dir_name = match self.resolve(kind, target, false) {
            Ok((d, ..)) => d,
            Err(StorageError::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        let mut reg = self.registry();
        let removed = reg.open.remove(&(kind, dir_name.clone()));
        let id = match &removed {
            Some(Open::RequestQueue(q)) => Some(q.id().to_owned()),
            _ => None,
        };
        let dir = self.type_dir(kind).join(&dir_name);
        let existed = dir.exists();
        // W4: the lock of our own instance (whose handles then fail instead of writing),
        // or else the lock no other process may hold.
        let held = removed.as_ref().and_then(Open::close);
        if existed {
            let lock = match held {
                Some(l) => l,
                None => match self.lock(kind, &dir_name) {
                    Ok(l) => l,
                    Err(e) => {
                        restore(&mut reg, kind, dir_name, removed, None);
                        return Err(e);
                    }
                },
            };
            let meta_id = StorageMeta::read(&dir).ok().flatten().map(|m| m.id);
            if let Err(e) = fs::remove_dir_all(&dir) {
                // What is left stays usable, under its lock, by the handles that had it.
                restore(&mut reg, kind, dir_name, removed, Some(lock));
                return Err(StorageError::io(format!("deleting {}", dir.display()))(e));
            }
            drop(reg);
            crate::fsio::sync_dir(&self.type_dir(kind)).ok();
            if kind == Kind::RequestQueue
                && let Some(id) = id.or(meta_id)
                && let Ok((kvs, _)) = self.open_key_value_store(&Target::Default)
            {
                kvs.delete_raw(&format!("__RQ_STATE_{id}"))?;
            }
        }
        Ok(existed)
    }

    /// Renames a named storage: its directory follows its name.
    pub fn rename(&self, kind: Kind, target: &Target, new_name: &str) -> Result<()> {
        validate_name(new_name)?;
        let (dir_name, ..) = self.resolve(kind, target, false)?;
        if dir_name == new_name {
            return Ok(());
        }
        let to = self.type_dir(kind).join(new_name);
        let already = || StorageError::InvalidName(format!("a {} named {new_name:?} already exists", kind.label()));
        if to.exists() {
            return Err(already());
        }
        let mut reg = self.registry();
        // The new name's lock too: no other process may be creating a storage there.
        let _new_lock = self.lock(kind, new_name)?;
        let open = reg.open.remove(&(kind, dir_name.clone()));
        let from = self.type_dir(kind).join(&dir_name);
        // W4: hold the old name's lock (ours, or one no other process holds) while moving;
        // the lock file is per directory name, so a reopen takes the new one. Our handles
        // on the old name fail from now on instead of writing where they no longer should.
        let held = open.as_ref().and_then(Open::close);
        let lock = match held {
            Some(l) => l,
            None => match self.lock(kind, &dir_name) {
                Ok(l) => l,
                Err(e) => {
                    restore(&mut reg, kind, dir_name, open, None);
                    return Err(e);
                }
            },
        };
        if let Err(e) = crate::fsio::rename_no_replace(&from, &to) {
            restore(&mut reg, kind, dir_name, open, Some(lock));
            return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
                already()
            } else {
                StorageError::io(format!("renaming {}", from.display()))(e)
            });
        }
        drop(reg);
        let mut meta = StorageMeta::read(&to)?.ok_or_else(|| StorageError::Corrupt {
            path: to.join("__metadata__.json"),
            detail: "missing after rename".into(),
        })?;
        meta.name = Some(new_name.to_owned());
        meta.modified_at = self.cfg.clock.now();
        meta.write(&to, self.cfg.durability)?;
        Ok(())
    }

    /// Writes the metadata files that lag behind memory (cheap; the emulator does it every
    /// second).
    pub fn flush_metadata(&self) -> Result<()> {
        let opened: Vec<Open> = self.registry().open.values().cloned().collect();
        let mut first_error = None;
        for o in &opened {
            note_error(&mut first_error, o.flush());
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Writes everything kept in memory: metadata, and the compatibility state records of
    /// request queues (for the Python SDK's reader).
    pub fn flush(&self) -> Result<()> {
        let opened: Vec<Open> = self.registry().open.values().cloned().collect();
        // One storage that cannot be written (its folder removed by hand, a full disk) must
        // not keep the others from being flushed: every one is tried, the first error told.
        let mut first_error = None;
        let mut states = Vec::new();
        for o in &opened {
            note_error(&mut first_error, o.flush());
            if let Open::RequestQueue(q) = o
                && !q.life.is_closed()
            {
                states.push((q.id().to_owned(), q.compat_state()));
            }
        }
        if !states.is_empty() {
            match self.open_key_value_store(&Target::Default) {
                Ok((kvs, _)) => {
                    for (id, state) in states {
                        let written = kvs.set_raw(
                            &format!("__RQ_STATE_{id}"),
                            crate::format::pyjson::to_string_pretty(&state).as_bytes(),
                            "application/json",
                        );
                        note_error(&mut first_error, written);
                    }
                }
                Err(e) => note_error(&mut first_error, Err(e)),
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Storages {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "flushing local storages failed");
        }
    }
}

/// Keeps the first error (logging the others) so that a loop can go on.
fn note_error(first: &mut Option<StorageError>, result: Result<()>) {
    if let Err(e) = result {
        if first.is_some() {
            tracing::warn!(error = %e, "flushing a local storage failed");
        } else {
            *first = Some(e);
        }
    }
}

/// Puts a storage back after a failed drop or rename: its handles work again, under its
/// lock.
fn restore(reg: &mut Registry, kind: Kind, dir_name: String, open: Option<Open>, lock: Option<StorageLock>) {
    if let Some(open) = open {
        open.reopen(lock);
        reg.open.insert((kind, dir_name), open);
    }
}

impl Open {
    fn flush(&self) -> Result<()> {
        match self {
            Self::Dataset(d) => d.flush(),
            Self::KeyValueStore(s) => s.flush(),
            Self::RequestQueue(q) => q.flush(),
        }
    }

    /// See [`Lifecycle::close`].
    fn close(&self) -> Option<StorageLock> {
        match self {
            Self::Dataset(d) => d.close(),
            Self::KeyValueStore(s) => s.close(),
            Self::RequestQueue(q) => q.close(),
        }
    }

    /// Undoes [`Open::close`] after the deletion or move failed.
    fn reopen(&self, lock: Option<StorageLock>) {
        match self {
            Self::Dataset(d) => d.life.reopen(lock),
            Self::KeyValueStore(s) => s.life.reopen(lock),
            Self::RequestQueue(q) => q.life.reopen(lock),
        }
    }
}

/// The accessors every storage handle has, over its `id`, `dir`, `state` (a mutex around
/// a `State` with the `meta`) and `life` fields and its `write_meta_if_dirty`.
macro_rules! handle_accessors {
    () => {
        fn state(&self) -> MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(|p| p.into_inner())
        }

        /// Storage ID.
        pub fn id(&self) -> &str {
            &self.id
        }

        /// Closes this handle for a drop or rename (see [`super::Lifecycle::close_with`]).
        pub(crate) fn close(&self) -> Option<StorageLock> {
            self.life.close_with(self.state(), |st| self.write_meta_if_dirty(st))
        }

        /// The state, unless this handle was closed.
        fn live(&self) -> Result<MutexGuard<'_, State>> {
            self.life.guard(self.state())
        }

        /// Directory.
        pub fn dir(&self) -> &Path {
            &self.dir
        }

        /// Current metadata.
        pub fn meta(&self) -> StorageMeta {
            self.state().meta.clone()
        }
    };
}
pub(crate) use handle_accessors;

/// The advisory lock of an open storage and whether the storage was dropped or renamed
/// under it. A caller may keep a handle after that; it then gets "not found" instead of
/// writing, unlocked, into a directory that is gone or belongs to someone else.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    kind: Kind,
    lock: Mutex<Option<StorageLock>>,
    closed: std::sync::atomic::AtomicBool,
}

impl Lifecycle {
    pub(crate) fn new(kind: Kind, lock: StorageLock) -> Self {
        Self { kind, lock: Mutex::new(Some(lock)), closed: std::sync::atomic::AtomicBool::new(false) }
    }

    /// Fails once the storage was closed; checked under the storage's state lock, which
    /// [`Lifecycle::close`] is called under too, so no operation straddles a close.
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_closed() {
            return Err(StorageError::NotFound {
                kind: self.kind.label(),
                what: "this handle (it was dropped or renamed since it was opened)".into(),
            });
        }
        Ok(())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks the storage closed and hands over its lock (to hold while the directory is
    /// deleted or moved). Call with the storage's state lock held.
    /// Closes a storage handle for a drop or rename: its metadata is written first (it
    /// moves with a rename), then every later call fails with "not found". Returns the lock.
    pub(crate) fn close_with<S>(
        &self,
        mut state: MutexGuard<'_, S>,
        write_meta: impl FnOnce(&mut S) -> Result<()>,
    ) -> Option<StorageLock> {
        if !self.is_closed()
            && let Err(e) = write_meta(&mut state)
        {
            tracing::warn!(error = %e, "writing metadata before closing a storage failed");
        }
        self.close()
    }

    /// `state`, unless the handle was closed (checked under the state's lock).
    pub(crate) fn guard<'a, S>(&self, state: MutexGuard<'a, S>) -> Result<MutexGuard<'a, S>> {
        self.check()?;
        Ok(state)
    }

    /// Runs `f` on the storage's lock (`None` once it was handed over by a close).
    pub(crate) fn with_lock<R>(&self, f: impl FnOnce(&StorageLock) -> R) -> Option<R> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(f)
    }

    pub(crate) fn close(&self) -> Option<StorageLock> {
        self.closed.store(true, std::sync::atomic::Ordering::Release);
        self.lock.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn reopen(&self, lock: Option<StorageLock>) {
        *self.lock.lock().unwrap_or_else(|p| p.into_inner()) = lock;
        self.closed.store(false, std::sync::atomic::Ordering::Release);
    }
}

impl Storages {
    /// Takes a storage's advisory lock (W4); `InUse` if another process holds it.
    fn lock(&self, kind: Kind, dir_name: &str) -> Result<StorageLock> {
        StorageLock::acquire(&self.cfg.root, kind.dir(), dir_name).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                StorageError::InUse(e.to_string())
            } else {
                StorageError::io("locking the storage")(e)
            }
        })
    }
}

/// What a directory's metadata must say about its name (W6: names and aliases do not mix).
#[derive(Debug, Clone, Copy)]
enum Claim {
    Named,
    Unnamed,
    Any,
}

impl Claim {
    fn check(self, kind: Kind, dir: &str, meta: &StorageMeta) -> Result<()> {
        match (self, &meta.name) {
            (Self::Named, None) if dir != "default" => Err(StorageError::InvalidName(format!(
                "{}/{dir} belongs to an unnamed storage (an alias); it cannot be opened by name",
                kind.dir()
            ))),
            (Self::Named, None) => {
                Err(StorageError::InvalidName("\"default\" is the default storage, not a name".into()))
            }
            (Self::Unnamed, Some(n)) => Err(StorageError::InvalidName(format!(
                "{}/{dir} belongs to the storage named {n:?}; it cannot be opened by alias",
                kind.dir()
            ))),
            _ => Ok(()),
        }
    }
}
