//! A request queue: one JSON file per request (`sha256(unique_key)[:15].json`), with the
//! queue order persisted in each file as `"__order"` (W5), so that no state window is lost
//! on a crash. Locks (`head/lock`) are kept in memory: they expire anyway.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::meta::{METADATA_FILE, MetaSync, StorageMeta};
use super::{Clock, StorageConfig};
use crate::error::{Result, StorageError};
use crate::format::{pyjson, timestamp};
use crate::fsio::{self, Durability, StorageLock};
use crate::unique_key::{request_file_name, request_id};

const ORDER_KEY: &str = "__order";

/// A request as stored; field names follow the local format, not the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRequest {
    /// Deduplication key.
    pub unique_key: String,
    /// URL.
    pub url: String,
    /// HTTP method.
    pub method: String,
    /// Body (text).
    pub payload: Option<String>,
    /// Headers (lower-cased names).
    pub headers: Map<String, Value>,
    /// User data.
    pub user_data: Map<String, Value>,
    /// Retries so far.
    pub retry_count: u64,
    /// Whether not to retry.
    pub no_retry: bool,
    /// URL after redirects.
    pub loaded_url: Option<String>,
    /// When handled.
    pub handled_at: Option<OffsetDateTime>,
    /// Other top-level keys (kept on rewrite; the Python reader ignores them).
    pub extra: Map<String, Value>,
}

fn str_field(m: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| m.get(*n)).and_then(Value::as_str).map(str::to_owned)
}

fn payload_of(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        // The API also accepts an object; the local format stores text.
        Some(other) => Some(other.to_string()),
    }
}

impl StoredRequest {
    /// A request from its wire form (camelCase, `uniqueKey` and `url` required).
    pub fn from_api(v: &Value) -> Result<Self> {
        let m = v.as_object().ok_or_else(|| StorageError::InvalidArgument("a request must be a JSON object".into()))?;
        let unique_key = str_field(m, &["uniqueKey"]).filter(|s| !s.is_empty());
        let url = str_field(m, &["url"]).filter(|s| !s.is_empty());
        let (Some(unique_key), Some(url)) = (unique_key, url) else {
            return Err(StorageError::InvalidArgument("a request needs a non-empty uniqueKey and url".into()));
        };
        let obj = |k: &str| m.get(k).and_then(Value::as_object).cloned().unwrap_or_default();
        let mut extra = Map::new();
        if let Some(e) = m.get("errorMessages").filter(|e| !e.is_null()) {
            extra.insert("error_messages".into(), e.clone());
        }
        Ok(Self {
            unique_key,
            url,
            method: str_field(m, &["method"]).unwrap_or_else(|| "GET".into()).to_ascii_uppercase(),
            payload: payload_of(m.get("payload")),
            headers: obj("headers"),
            user_data: obj("userData"),
            retry_count: m.get("retryCount").and_then(Value::as_u64).unwrap_or(0),
            no_retry: m.get("noRetry").and_then(Value::as_bool).unwrap_or(false),
            loaded_url: str_field(m, &["loadedUrl"]),
            handled_at: m.get("handledAt").and_then(Value::as_str).and_then(timestamp::parse_any),
            extra,
        })
    }

    /// The wire form, with the platform's request ID.
    pub fn to_api(&self, id: &str) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), id.into());
        m.insert("uniqueKey".into(), self.unique_key.clone().into());
        m.insert("url".into(), self.url.clone().into());
        m.insert("method".into(), self.method.clone().into());
        m.insert("retryCount".into(), self.retry_count.into());
        m.insert("noRetry".into(), self.no_retry.into());
        m.insert("loadedUrl".into(), self.loaded_url.clone().map_or(Value::Null, Value::String));
        m.insert("payload".into(), self.payload.clone().map_or(Value::Null, Value::String));
        m.insert("headers".into(), Value::Object(self.headers.clone()));
        m.insert("userData".into(), Value::Object(self.user_data.clone()));
        m.insert("handledAt".into(), self.handled_at.map_or(Value::Null, |t| timestamp::format_api(t).into()));
        if let Some(e) = self.extra.get("error_messages") {
            m.insert("errorMessages".into(), e.clone());
        }
        Value::Object(m)
    }

    /// Reads a request file (snake_case, camelCase tolerated); returns it and its `__order`.
    fn from_file(bytes: &[u8]) -> Option<(Self, Option<i64>)> {
        let (v, _) = pyjson::parse_tolerant(bytes).ok()?;
        let Value::Object(mut m) = v else { return None };
        let mut take = |snake: &str, camel: &str| m.remove(snake).or_else(|| m.remove(camel));
        let unique_key = take("unique_key", "uniqueKey")?.as_str()?.to_owned();
        let url = take("url", "url")?.as_str()?.to_owned();
        let method =
            take("method", "method").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "GET".into());
        let payload = payload_of(take("payload", "payload").as_ref());
        let headers = take("headers", "headers").and_then(|v| v.as_object().cloned()).unwrap_or_default();
        let user_data = take("user_data", "userData").and_then(|v| v.as_object().cloned()).unwrap_or_default();
        let retry_count = take("retry_count", "retryCount").and_then(|v| v.as_u64()).unwrap_or(0);
        let no_retry = take("no_retry", "noRetry").and_then(|v| v.as_bool()).unwrap_or(false);
        let loaded_url = take("loaded_url", "loadedUrl").and_then(|v| v.as_str().map(str::to_owned));
        let handled_at = take("handled_at", "handledAt").and_then(|v| v.as_str().and_then(timestamp::parse_any));
        // An order far out of range (a hand-edited file) counts as none: it would overflow
        // the arithmetic on orders, and it gets a fresh one on open.
        let order = m.remove(ORDER_KEY).and_then(|v| v.as_i64()).filter(|o| o.unsigned_abs() < 1 << 60);
        let req = Self {
            unique_key,
            url,
            method,
            payload,
            headers,
            user_data,
            retry_count,
            no_retry,
            loaded_url,
            handled_at,
            extra: m,
        };
        Some((req, order))
    }

    /// The file as the Python SDK writes it (fixed field order), plus `__order`.
    fn to_file(&self, order: i64) -> Vec<u8> {
        let mut m = Map::new();
        m.insert("unique_key".into(), self.unique_key.clone().into());
        m.insert("url".into(), self.url.clone().into());
        m.insert("method".into(), self.method.clone().into());
        m.insert("payload".into(), self.payload.clone().map_or(Value::Null, Value::String));
        m.insert("headers".into(), Value::Object(self.headers.clone()));
        m.insert("user_data".into(), Value::Object(self.user_data.clone()));
        m.insert("retry_count".into(), self.retry_count.into());
        m.insert("no_retry".into(), self.no_retry.into());
        m.insert("loaded_url".into(), self.loaded_url.clone().map_or(Value::Null, Value::String));
        m.insert("handled_at".into(), self.handled_at.map_or(Value::Null, |t| timestamp::format_python(t).into()));
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        m.insert(ORDER_KEY.into(), order.into());
        pyjson::to_string_pretty(&Value::Object(m)).into_bytes()
    }
}

/// Result of adding one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOutcome {
    /// Request ID.
    pub request_id: String,
    /// Unique key.
    pub unique_key: String,
    /// Whether a request with this unique key already existed.
    pub was_already_present: bool,
    /// Whether it was already handled.
    pub was_already_handled: bool,
}

/// A request at the head of the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadItem {
    /// Request ID.
    pub id: String,
    /// Unique key.
    pub unique_key: String,
    /// URL.
    pub url: String,
    /// Method.
    pub method: String,
    /// Retries so far.
    pub retry_count: u64,
    /// Lock expiry, for locked heads.
    pub lock_expires_at: Option<OffsetDateTime>,
    /// The whole request, when its file could be read (so a consumer needs no extra call).
    pub request: Option<StoredRequest>,
}

/// Result of `head/lock`.
#[derive(Debug, Clone, PartialEq)]
pub struct LockedHead {
    /// The locked requests.
    pub items: Vec<HeadItem>,
    /// Whether any request of the queue is locked now.
    pub queue_has_locked_requests: bool,
    /// Whether several clients have used the queue.
    pub had_multiple_clients: bool,
    /// Last modification of the queue.
    pub queue_modified_at: OffsetDateTime,
}

/// A request and its queue state.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestEntry {
    /// Request ID.
    pub id: String,
    /// The request.
    pub request: StoredRequest,
    /// Lock expiry, when locked now.
    pub lock_expires_at: Option<OffsetDateTime>,
    /// Client holding the lock.
    pub lock_by_client: Option<String>,
}

/// Outcome of a batch delete: `(id, unique key)` of the deleted requests, and the
/// references that matched nothing.
pub type BatchDeleted = (Vec<(String, String)>, Vec<RequestRef>);

/// A request named by ID or unique key (batch delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRef {
    /// By request ID.
    Id(String),
    /// By unique key.
    UniqueKey(String),
}

#[derive(Debug, Clone)]
struct Lock {
    client: String,
    expires_at: OffsetDateTime,
    forefront_on_expiry: bool,
}

#[derive(Debug, Clone)]
struct Entry {
    file: String,
    id: String,
    order: i64,
    handled: bool,
    url: String,
    method: String,
    retry_count: u64,
    lock: Option<Lock>,
}

struct State {
    meta: StorageMeta,
    sync: MetaSync,
    entries: HashMap<String, Entry>,
    by_id: HashMap<String, String>,
    // Unhandled requests by order: forefront (negative) first, then regular (positive).
    queue: BTreeMap<i64, String>,
    locked: HashSet<String>,
    next_regular: i64,
    next_forefront: i64,
    handled: u64,
    clients: HashSet<String>,
}

/// An open request queue.
pub struct RequestQueue {
    id: String,
    dir: PathBuf,
    durability: Durability,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    files: fsio::Rewriter,
    pub(crate) life: super::Lifecycle,
}

/// Client name used for calls without `clientKey` (each such call is a new client).
const ANONYMOUS: &str = "";

impl State {
    fn take_order(&mut self, forefront: bool) -> i64 {
        if forefront {
            let o = self.next_forefront;
            self.next_forefront -= 1;
            o
        } else {
            let o = self.next_regular;
            self.next_regular += 1;
            o
        }
    }

    fn note_client(&mut self, client: Option<&str>) {
        match client {
            Some(c) => {
                self.clients.insert(c.to_owned());
            }
            // "A request without clientKey is considered to come from a new client."
            None => {
                let n = self.clients.len();
                self.clients.insert(format!("\u{0}anonymous-{n}"));
            }
        }
        if self.clients.len() > 1 {
            self.meta.had_multiple_clients = Some(true);
        }
    }

    fn unhandled_count(&self) -> u64 {
        self.entries.len() as u64 - self.handled
    }
}

/// A listing position: the order key and, to break ties (handled files written by the Python
/// SDK all have order 0), the request ID.
fn encode_cursor(order: i64, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{order}:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<(i64, String)> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (n, id) = s.strip_prefix("o:")?.split_once(':')?;
            Some((n.parse().ok()?, id.to_owned()))
        })
        .ok_or_else(|| StorageError::InvalidArgument(format!("cursor {cursor:?} is not valid")))
}

impl std::fmt::Debug for RequestQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestQueue").field("id", &self.id).field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl RequestQueue {
    pub(crate) fn open(dir: &Path, mut meta: StorageMeta, lock: StorageLock, cfg: &StorageConfig) -> Result<Self> {
        super::dataset::remove_stale_temp_files(dir);
        let mut entries = HashMap::new();
        let mut unordered = Vec::new();
        for e in fs::read_dir(dir).map_err(StorageError::io(format!("listing {}", dir.display())))?.flatten() {
            let Ok(name) = e.file_name().into_string() else { continue };
            if !name.ends_with(".json") || name == METADATA_FILE {
                continue;
            }
            let parsed = fs::read(e.path()).ok().and_then(|b| StoredRequest::from_file(&b));
            let Some((req, order)) = parsed else {
                tracing::warn!(file = %e.path().display(), "unreadable request file skipped");
                continue;
            };
            let entry = Entry {
                file: name.clone(),
                id: request_id(&req.unique_key),
                order: order.unwrap_or(0),
                handled: req.handled_at.is_some(),
                url: req.url.clone(),
                method: req.method.clone(),
                retry_count: req.retry_count,
                lock: None,
            };
            if order.is_none() && !entry.handled {
                unordered.push((name, req.unique_key.clone()));
            }
            entries.insert(req.unique_key.clone(), entry);
        }
        let mut st = State {
            meta: StorageMeta::new(String::new(), None, meta.created_at),
            sync: MetaSync::default(),
            by_id: entries.values().map(|e| (e.id.clone(), String::new())).collect(),
            entries,
            queue: BTreeMap::new(),
            locked: HashSet::new(),
            next_regular: 1,
            next_forefront: -1,
            handled: 0,
            clients: HashSet::new(),
        };
        st.by_id = st.entries.iter().map(|(k, e)| (e.id.clone(), k.clone())).collect();
        for e in st.entries.values() {
            if e.order > 0 {
                st.next_regular = st.next_regular.max(e.order + 1);
            } else if e.order < 0 {
                st.next_forefront = st.next_forefront.min(e.order - 1);
            }
        }
        // Files the Python SDK wrote carry no `__order`: take its state record's order,
        // then the rest by file name (W5).
        if !unordered.is_empty() {
            let state_record = cfg
                .root
                .join("key_value_stores/default")
                .join(super::key_value_store::encode_key(&format!("__RQ_STATE_{}", meta.id)));
            let record = fs::read(&state_record).ok().and_then(|b| pyjson::parse_tolerant(&b).ok()).map(|(v, _)| v);
            let seq_of = |field: &str, key: &str| record.as_ref().and_then(|r| r.get(field)?.get(key)?.as_i64());
            let mut forefront: Vec<(i64, String)> = Vec::new();
            let mut regular: Vec<(i64, String)> = Vec::new();
            let mut rest: Vec<(String, String)> = Vec::new();
            let migrate = unordered.clone();
            for (file, key) in unordered {
                if let Some(s) = seq_of("forefront_requests", &key) {
                    forefront.push((s, key));
                } else if let Some(s) = seq_of("regular_requests", &key) {
                    regular.push((s, key));
                } else {
                    rest.push((file, key));
                }
            }
            // Highest forefront sequence is served first, so it gets the smallest order.
            forefront.sort();
            for (_, key) in forefront {
                let o = st.take_order(true);
                if let Some(e) = st.entries.get_mut(&key) {
                    e.order = o;
                }
            }
            regular.sort();
            rest.sort();
            for key in regular.into_iter().map(|(_, k)| k).chain(rest.into_iter().map(|(_, k)| k)) {
                let o = st.take_order(false);
                if let Some(e) = st.entries.get_mut(&key) {
                    e.order = o;
                }
            }
            // Persist the orders just given (W5). Kept only in memory, they would be given
            // again on the next open, below/above the requests added meanwhile, and the queue
            // order would change across restarts.
            // In queue order, so that a crash midway leaves a prefix written, and best effort:
            // a folder that cannot be written (read-only media) still opens. A file holding
            // NaN is left alone: rewriting it would turn the NaN into null.
            let mut migrate: Vec<(i64, String)> =
                migrate.into_iter().filter_map(|(file, key)| st.entries.get(&key).map(|e| (e.order, file))).collect();
            migrate.sort();
            for (order, file) in migrate {
                let path = dir.join(&file);
                let Ok(bytes) = fs::read(&path) else { continue };
                if !matches!(pyjson::parse_tolerant(&bytes), Ok((_, false))) {
                    continue;
                }
                let Some((req, _)) = StoredRequest::from_file(&bytes) else { continue };
                if let Err(e) = fsio::write_atomic(dir, &file, &req.to_file(order), cfg.durability) {
                    tracing::warn!(file = %path.display(), error = %e, "could not write a request's order; it is kept in memory");
                    break;
                }
            }
        }
        for (key, e) in &st.entries {
            if e.handled {
                st.handled += 1;
            } else {
                st.queue.insert(e.order, key.clone());
            }
        }
        let total = st.entries.len() as u64;
        let counts = (Some(st.handled), Some(total - st.handled), Some(total));
        let recorded = (meta.handled_request_count, meta.pending_request_count, meta.total_request_count);
        let write = recorded != counts || meta.had_multiple_clients.is_none();
        if recorded != counts && recorded.2.is_some() {
            tracing::warn!(queue = %dir.display(), ?recorded, found = ?counts, "request counts recovered from the request files");
        }
        meta.handled_request_count = counts.0;
        meta.pending_request_count = counts.1;
        meta.total_request_count = counts.2;
        meta.had_multiple_clients.get_or_insert(false);
        if write {
            meta.write(dir, cfg.durability)?;
        }
        st.meta = meta;
        Ok(Self {
            id: st.meta.id.clone(),
            dir: dir.to_owned(),
            durability: cfg.durability,
            clock: cfg.clock.clone(),
            state: Mutex::new(st),
            files: fsio::Rewriter::new(dir),
            life: super::Lifecycle::new(super::Kind::RequestQueue, lock),
        })
    }

    super::handle_accessors!();

    fn write_meta(&self, st: &mut State) -> Result<()> {
        let now = self.clock.now();
        let total = st.entries.len() as u64;
        st.meta.accessed_at = now;
        st.meta.modified_at = now;
        st.meta.handled_request_count = Some(st.handled);
        st.meta.pending_request_count = Some(total - st.handled);
        st.meta.total_request_count = Some(total);
        // Written when due (see `MetaSync`): the counts are recovered from the request
        // files on open, so a lagging file loses nothing.
        if st.sync.changed() {
            st.meta.write(&self.dir, self.durability)?;
            st.sync.written();
        }
        Ok(())
    }

    fn read_request(&self, file: &str) -> Result<StoredRequest> {
        let path = self.dir.join(file);
        let bytes = self
            .files
            .read(file)
            .and_then(|b| b.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound)))
            .map_err(StorageError::io(format!("reading {}", path.display())))?;
        StoredRequest::from_file(&bytes)
            .map(|(r, _)| r)
            .ok_or_else(|| StorageError::Corrupt { path, detail: "not a valid request file".into() })
    }

    fn write_request(&self, file: &str, req: &StoredRequest, order: i64) -> Result<()> {
        // Updates mostly grow a request (handledAt set): rewritten in place when relaxed.
        self.files
            .overwrite(file, &req.to_file(order), self.durability)
            .map_err(StorageError::io(format!("writing request {:?}", req.unique_key)))
    }

    /// Releases expired locks (moving to the front those asked to go there).
    fn expire_locks(&self, st: &mut State, now: OffsetDateTime) -> Result<()> {
        let expired: Vec<String> = st
            .locked
            .iter()
            .filter(|k| st.entries.get(*k).and_then(|e| e.lock.as_ref()).is_none_or(|l| l.expires_at <= now))
            .cloned()
            .collect();
        for key in expired {
            st.locked.remove(&key);
            let Some(lock) = st.entries.get_mut(&key).and_then(|e| e.lock.take()) else { continue };
            if lock.forefront_on_expiry {
                self.move_to(st, &key, true)?;
            }
        }
        Ok(())
    }

    /// Gives an unhandled request a new place (rewriting its file, W5).
    fn move_to(&self, st: &mut State, key: &str, forefront: bool) -> Result<()> {
        let Some(e) = st.entries.get(key) else { return Ok(()) };
        if e.handled {
            return Ok(());
        }
        let (old, file) = (e.order, e.file.clone());
        let order = st.take_order(forefront);
        let req = self.read_request(&file)?;
        self.write_request(&file, &req, order)?;
        st.queue.remove(&old);
        st.queue.insert(order, key.to_owned());
        if let Some(e) = st.entries.get_mut(key) {
            e.order = order;
        }
        Ok(())
    }

    /// Adds requests (deduplicated by unique key). New files are written before the
    /// counters; a forefront re-add of a queued request moves it to the front.
    pub fn add(&self, requests: Vec<StoredRequest>, forefront: bool, client: Option<&str>) -> Result<Vec<AddOutcome>> {
        let mut st = self.live()?;
        st.note_client(client);
        let mut out = Vec::with_capacity(requests.len());
        let mut new_files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut new_entries: Vec<(String, Entry)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut moved = false;
        for mut req in requests {
            if let Some(e) = st.entries.get(&req.unique_key) {
                let (id, handled, locked) = (e.id.clone(), e.handled, e.lock.is_some());
                if forefront && !handled && !locked {
                    let key = req.unique_key.clone();
                    self.move_to(&mut st, &key, true)?;
                    moved = true;
                }
                out.push(AddOutcome {
                    request_id: id,
                    unique_key: req.unique_key,
                    was_already_present: true,
                    was_already_handled: handled,
                });
                continue;
            }
            if !seen.insert(req.unique_key.clone()) {
                let id = request_id(&req.unique_key);
                out.push(AddOutcome {
                    request_id: id,
                    unique_key: req.unique_key,
                    was_already_present: true,
                    was_already_handled: false,
                });
                continue;
            }
            let file = request_file_name(&req.unique_key);
            // W14: a file of this name with another unique key is a hash collision.
            if let Some(bytes) = self.files.read(&file).ok().flatten()
                && let Some((existing, _)) = StoredRequest::from_file(&bytes)
                && existing.unique_key != req.unique_key
            {
                return Err(StorageError::Collision { file, existing: existing.unique_key, new: req.unique_key });
            }
            if req.handled_at.is_some() {
                // Requests are added pending; handling is recorded by update.
                req.handled_at = None;
            }
            let order = st.take_order(forefront);
            let id = request_id(&req.unique_key);
            new_files.push((file.clone(), req.to_file(order)));
            new_entries.push((
                req.unique_key.clone(),
                Entry {
                    file,
                    id: id.clone(),
                    order,
                    handled: false,
                    url: req.url.clone(),
                    method: req.method.clone(),
                    retry_count: req.retry_count,
                    lock: None,
                },
            ));
            out.push(AddOutcome {
                request_id: id,
                unique_key: req.unique_key,
                was_already_present: false,
                was_already_handled: false,
            });
        }
        let files = new_files.iter().map(|(n, b)| (n.as_str(), b.as_slice()));
        let written = fsio::write_many(&self.dir, files, self.durability);
        let n = match &written {
            Ok(n) => *n,
            Err((n, _)) => *n,
        };
        for (key, entry) in new_entries.into_iter().take(n) {
            st.by_id.insert(entry.id.clone(), key.clone());
            st.queue.insert(entry.order, key.clone());
            st.entries.insert(key, entry);
        }
        if n > 0 || moved || !out.is_empty() {
            self.write_meta(&mut st)?;
        }
        written.map_err(|(n, e)| StorageError::Io {
            context: format!("adding requests: {n} of {} new ones stored", new_files.len()),
            source: e,
        })?;
        Ok(out)
    }

    fn entry_by_id<'a>(st: &'a State, id: &str) -> Option<(&'a String, &'a Entry)> {
        let key = st.by_id.get(id)?;
        st.entries.get_key_value(key)
    }

    /// A request by ID, with its lock.
    pub fn get(&self, id: &str) -> Result<Option<RequestEntry>> {
        let (file, lock) = {
            let mut st = self.live()?;
            st.meta.accessed_at = self.clock.now();
            st.sync.touch();
            let Some((_, e)) = Self::entry_by_id(&st, id) else { return Ok(None) };
            (e.file.clone(), e.lock.clone())
        };
        let now = self.clock.now();
        let lock = lock.filter(|l| l.expires_at > now);
        Ok(Some(RequestEntry {
            id: id.to_owned(),
            request: self.read_request(&file)?,
            lock_expires_at: lock.as_ref().map(|l| l.expires_at),
            lock_by_client: lock.map(|l| l.client).filter(|c| !c.is_empty()),
        }))
    }

    fn check_lock(e: &Entry, client: Option<&str>, now: OffsetDateTime) -> Result<()> {
        match &e.lock {
            Some(l) if l.expires_at > now && l.client != client.unwrap_or(ANONYMOUS) => Err(StorageError::Locked(
                format!("request {} is locked by another client until {}", e.id, timestamp::format_api(l.expires_at)),
            )),
            _ => Ok(()),
        }
    }

    /// Replaces a request's data. Setting `handled_at` marks it handled (and unlocks it);
    /// clearing it puts a handled request back in the queue.
    pub fn update(
        &self,
        id: &str,
        mut req: StoredRequest,
        forefront: bool,
        client: Option<&str>,
    ) -> Result<AddOutcome> {
        let mut st = self.live()?;
        st.note_client(client);
        let now = self.clock.now();
        let Some((key, e)) = Self::entry_by_id(&st, id) else {
            return Err(StorageError::ItemNotFound(format!("Request {id:?} was not found")));
        };
        let key = key.clone();
        Self::check_lock(e, client, now)?;
        if req.unique_key != key {
            return Err(StorageError::InvalidArgument(format!(
                "the uniqueKey of request {id} is {key:?} and cannot be changed"
            )));
        }
        let was_handled = e.handled;
        let file = e.file.clone();
        let old_order = e.order;
        let handled = req.handled_at.is_some();
        let order = if !handled && (forefront || was_handled) { st.take_order(forefront) } else { old_order };
        if handled && req.handled_at.is_none() {
            req.handled_at = Some(now);
        }
        self.write_request(&file, &req, order)?;
        st.queue.remove(&old_order);
        st.locked.remove(&key);
        if !handled {
            st.queue.insert(order, key.clone());
        }
        match (was_handled, handled) {
            (false, true) => st.handled += 1,
            (true, false) => st.handled -= 1,
            _ => {}
        }
        if let Some(e) = st.entries.get_mut(&key) {
            e.order = order;
            e.handled = handled;
            e.url = req.url.clone();
            e.method = req.method.clone();
            e.retry_count = req.retry_count;
            e.lock = None;
        }
        self.write_meta(&mut st)?;
        Ok(AddOutcome {
            request_id: id.to_owned(),
            unique_key: key,
            was_already_present: true,
            was_already_handled: was_handled,
        })
    }

    fn remove_entry(&self, st: &mut State, key: &str) -> Result<bool> {
        let Some(e) = st.entries.remove(key) else { return Ok(false) };
        fsio::remove_if_exists(&self.dir.join(&e.file))
            .map_err(StorageError::io(format!("deleting request {key:?}")))?;
        st.by_id.remove(&e.id);
        st.locked.remove(key);
        if e.handled {
            st.handled -= 1;
        } else {
            st.queue.remove(&e.order);
        }
        Ok(true)
    }

    /// Deletes a request.
    pub fn delete(&self, id: &str, client: Option<&str>) -> Result<()> {
        let mut st = self.live()?;
        st.note_client(client);
        let Some((key, e)) = Self::entry_by_id(&st, id) else {
            return Err(StorageError::ItemNotFound(format!("Request {id:?} was not found")));
        };
        Self::check_lock(e, client, self.clock.now())?;
        let key = key.clone();
        self.remove_entry(&mut st, &key)?;
        self.write_meta(&mut st)
    }

    /// Deletes requests by ID or unique key; the ones not found come back unprocessed.
    pub fn batch_delete(&self, refs: Vec<RequestRef>, client: Option<&str>) -> Result<BatchDeleted> {
        let mut st = self.live()?;
        st.note_client(client);
        let (mut done, mut missing) = (Vec::new(), Vec::new());
        for r in refs {
            let key = match &r {
                RequestRef::Id(id) => st.by_id.get(id).cloned(),
                RequestRef::UniqueKey(k) => st.entries.contains_key(k).then(|| k.clone()),
            };
            match key {
                Some(k) => {
                    let id = st.entries.get(&k).map(|e| e.id.clone()).unwrap_or_default();
                    self.remove_entry(&mut st, &k)?;
                    done.push((id, k));
                }
                None => missing.push(r),
            }
        }
        if !done.is_empty() {
            self.write_meta(&mut st)?;
        }
        Ok((done, missing))
    }

    fn head_item(e: &Entry, key: &str, lock: bool) -> HeadItem {
        HeadItem {
            id: e.id.clone(),
            unique_key: key.to_owned(),
            url: e.url.clone(),
            method: e.method.clone(),
            retry_count: e.retry_count,
            lock_expires_at: if lock { e.lock.as_ref().map(|l| l.expires_at) } else { None },
            request: None,
        }
    }

    /// Adds the whole requests to head items (read after the state lock is released).
    fn with_requests(&self, mut items: Vec<HeadItem>) -> Vec<HeadItem> {
        for i in &mut items {
            i.request = self.read_request(&request_file_name(&i.unique_key)).ok();
        }
        items
    }

    /// The first unlocked, unhandled requests, without locking them.
    pub fn head(&self, limit: usize, client: Option<&str>) -> Result<(Vec<HeadItem>, bool, OffsetDateTime)> {
        let mut st = self.live()?;
        st.note_client(client);
        let now = self.clock.now();
        self.expire_locks(&mut st, now)?;
        st.meta.accessed_at = now;
        st.sync.touch();
        let items = st
            .queue
            .values()
            .filter_map(|k| st.entries.get(k).map(|e| (k, e)))
            .filter(|(_, e)| e.lock.is_none())
            .take(limit)
            .map(|(k, e)| Self::head_item(e, k, false))
            .collect();
        let (multiple, modified) = (st.meta.had_multiple_clients.unwrap_or(false), st.meta.modified_at);
        drop(st);
        Ok((self.with_requests(items), multiple, modified))
    }

    /// Takes and locks the first `limit` unlocked, unhandled requests for `lock`.
    pub fn lock_head(&self, limit: usize, lock: Duration, client: Option<&str>) -> Result<LockedHead> {
        let mut st = self.live()?;
        st.note_client(client);
        let now = self.clock.now();
        self.expire_locks(&mut st, now)?;
        let expires_at = now + lock;
        let keys: Vec<String> = st
            .queue
            .values()
            .filter(|k| st.entries.get(*k).is_some_and(|e| e.lock.is_none()))
            .take(limit)
            .cloned()
            .collect();
        let mut items = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(e) = st.entries.get_mut(&k) {
                e.lock = Some(Lock {
                    client: client.unwrap_or(ANONYMOUS).to_owned(),
                    expires_at,
                    forefront_on_expiry: false,
                });
                items.push(Self::head_item(e, &k, true));
            }
            st.locked.insert(k);
        }
        if !items.is_empty() {
            st.meta.modified_at = now;
        }
        st.meta.accessed_at = now;
        st.sync.touch();
        let queue_has_locked_requests = !st.locked.is_empty();
        let (had_multiple_clients, queue_modified_at) =
            (st.meta.had_multiple_clients.unwrap_or(false), st.meta.modified_at);
        drop(st);
        Ok(LockedHead {
            items: self.with_requests(items),
            queue_has_locked_requests,
            had_multiple_clients,
            queue_modified_at,
        })
    }

    fn own_lock<'a>(
        st: &'a mut State,
        id: &str,
        client: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(String, &'a mut Entry)> {
        let key = st
            .by_id
            .get(id)
            .cloned()
            .ok_or_else(|| StorageError::ItemNotFound(format!("Request {id:?} was not found")))?;
        let e = st
            .entries
            .get_mut(&key)
            .ok_or_else(|| StorageError::ItemNotFound(format!("Request {id:?} was not found")))?;
        match &e.lock {
            Some(l) if l.client == client.unwrap_or(ANONYMOUS) => Ok((key, e)),
            Some(l) if l.expires_at > now => {
                Err(StorageError::Locked(format!("request {id} is locked by another client")))
            }
            _ if e.handled => Err(StorageError::Locked(format!("request {id} is already handled"))),
            _ => Err(StorageError::Locked(format!("request {id} is not locked by this client"))),
        }
    }

    /// Extends this client's lock of a request.
    pub fn prolong_lock(
        &self,
        id: &str,
        lock: Duration,
        forefront: bool,
        client: Option<&str>,
    ) -> Result<OffsetDateTime> {
        let mut st = self.live()?;
        st.note_client(client);
        let now = self.clock.now();
        let (key, e) = Self::own_lock(&mut st, id, client, now)?;
        let expires_at = now + lock;
        e.lock =
            Some(Lock { client: client.unwrap_or(ANONYMOUS).to_owned(), expires_at, forefront_on_expiry: forefront });
        st.locked.insert(key);
        Ok(expires_at)
    }

    /// Releases this client's lock of a request (to the front with `forefront`).
    pub fn delete_lock(&self, id: &str, forefront: bool, client: Option<&str>) -> Result<()> {
        let mut st = self.live()?;
        st.note_client(client);
        let now = self.clock.now();
        let (key, e) = Self::own_lock(&mut st, id, client, now)?;
        e.lock = None;
        st.locked.remove(&key);
        if forefront {
            self.move_to(&mut st, &key, true)?;
            self.write_meta(&mut st)?;
        }
        Ok(())
    }

    /// Releases every lock this client holds; returns how many.
    pub fn unlock_all(&self, client: Option<&str>) -> Result<u64> {
        let mut st = self.live()?;
        st.note_client(client);
        let who = client.unwrap_or(ANONYMOUS);
        let mine: Vec<String> = st
            .locked
            .iter()
            .filter(|k| st.entries.get(*k).and_then(|e| e.lock.as_ref()).is_some_and(|l| l.client == who))
            .cloned()
            .collect();
        for k in &mine {
            st.locked.remove(k);
            if let Some(e) = st.entries.get_mut(k) {
                e.lock = None;
            }
        }
        Ok(mine.len() as u64)
    }

    /// Requests in queue order (handled ones included), from after `cursor`; `filter`
    /// keeps pending and/or locked ones. The next cursor is given only for a full page.
    pub fn list(
        &self,
        limit: usize,
        cursor: Option<&str>,
        pending: bool,
        locked: bool,
        client: Option<&str>,
    ) -> Result<(Vec<RequestEntry>, Option<String>)> {
        let after = cursor.map(decode_cursor).transpose()?;
        let picked: Vec<(i64, String, String, Option<Lock>)> = {
            let mut st = self.live()?;
            st.note_client(client);
            let now = self.clock.now();
            self.expire_locks(&mut st, now)?;
            let mut all: Vec<(&String, &Entry)> = st.entries.iter().collect();
            all.sort_by(|(_, a), (_, b)| {
                (cursor_key(a.handled, a.order), &a.id).cmp(&(cursor_key(b.handled, b.order), &b.id))
            });
            all.into_iter()
                .filter(|(_, e)| {
                    after.as_ref().is_none_or(|(o, id)| (cursor_key(e.handled, e.order), &e.id) > (*o, id))
                })
                .filter(|(_, e)| match (pending, locked) {
                    (false, false) => true,
                    (p, l) => (p && !e.handled) || (l && e.lock.is_some()),
                })
                .take(limit)
                .map(|(k, e)| (cursor_key(e.handled, e.order), e.id.clone(), k.clone(), e.lock.clone()))
                .collect()
        };
        let next =
            (picked.len() == limit && limit > 0).then(|| picked.last().map(|p| encode_cursor(p.0, &p.1))).flatten();
        let mut out = Vec::with_capacity(picked.len());
        for (_, id, key, lock) in picked {
            let file = request_file_name(&key);
            let request = match self.read_request(&file) {
                Ok(r) => r,
                // A request deleted meanwhile is simply not listed.
                Err(StorageError::Io { .. }) => continue,
                Err(e) => return Err(e),
            };
            out.push(RequestEntry {
                id,
                request,
                lock_expires_at: lock.as_ref().map(|l| l.expires_at),
                lock_by_client: lock.map(|l| l.client).filter(|c| !c.is_empty()),
            });
        }
        Ok((out, next))
    }

    /// Deletes every request (ID, name and creation time kept).
    pub fn purge(&self) -> Result<()> {
        let mut st = self.live()?;
        for e in fs::read_dir(&self.dir).map_err(StorageError::io(format!("listing {}", self.dir.display())))?.flatten()
        {
            let Ok(name) = e.file_name().into_string() else { continue };
            if name.ends_with(".json") && name != METADATA_FILE {
                fsio::remove_if_exists(&e.path()).map_err(StorageError::io(format!("purging {name}")))?;
            }
        }
        st.entries.clear();
        st.by_id.clear();
        st.queue.clear();
        st.locked.clear();
        st.handled = 0;
        st.next_regular = 1;
        st.next_forefront = -1;
        self.write_meta(&mut st)
    }

    /// Counts: (handled, pending, total).
    pub fn counts(&self) -> (u64, u64, u64) {
        let st = self.state();
        (st.handled, st.unhandled_count(), st.entries.len() as u64)
    }

    /// Whether any request is locked now.
    pub fn has_locked_requests(&self) -> bool {
        let mut st = self.state();
        let now = self.clock.now();
        let _ = self.expire_locks(&mut st, now);
        !st.locked.is_empty()
    }

    /// Writes the metadata if memory is ahead of the file.
    pub fn flush(&self) -> Result<()> {
        let mut st = self.state();
        if self.life.is_closed() {
            return Ok(());
        }
        self.write_meta_if_dirty(&mut st)
    }

    fn write_meta_if_dirty(&self, st: &mut State) -> Result<()> {
        if st.sync.is_dirty() {
            st.meta.write(&self.dir, self.durability)?;
            st.sync.written();
        }
        Ok(())
    }

    /// The Python SDK's state record (`__RQ_STATE_<id>`), so its reader keeps our order.
    pub fn compat_state(&self) -> Value {
        let st = self.state();
        let mut forefront = Map::new();
        let mut regular = Map::new();
        for (order, key) in &st.queue {
            if *order < 0 {
                forefront.insert(key.clone(), (-order - 1).into());
            } else {
                regular.insert(key.clone(), (order - 1).into());
            }
        }
        let mut handled: Vec<&String> = st.entries.iter().filter(|(_, e)| e.handled).map(|(k, _)| k).collect();
        handled.sort();
        let mut in_progress: Vec<&String> = st.locked.iter().collect();
        in_progress.sort();
        serde_json::json!({
            "sequence_counter": st.next_regular - 1,
            "forefront_sequence_counter": -st.next_forefront - 1,
            "forefront_requests": forefront,
            "regular_requests": regular,
            "in_progress_requests": in_progress,
            "handled_requests": handled,
        })
    }
}

/// Listing position: unhandled requests (by order) before handled ones (by order).
fn cursor_key(handled: bool, order: i64) -> i64 {
    if handled { order + i64::MAX / 2 } else { order }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str) -> StoredRequest {
        StoredRequest::from_api(&serde_json::json!({"uniqueKey": key, "url": format!("https://e.com/{key}")})).unwrap()
    }

    #[test]
    fn file_format_round_trips_with_order() {
        let mut r = req("a");
        r.user_data.insert("label".into(), "L".into());
        r.extra.insert("error_messages".into(), serde_json::json!(["boom"]));
        let bytes = r.to_file(-3);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\n  \"unique_key\": \"a\",\n  \"url\": \"https://e.com/a\",\n  \"method\": \"GET\",\n  \"payload\": null,\n  \"headers\": {},"), "{text}");
        assert!(text.ends_with("\"error_messages\": [\n    \"boom\"\n  ],\n  \"__order\": -3\n}"), "{text}");
        let (back, order) = StoredRequest::from_file(&bytes).unwrap();
        assert_eq!((back, order), (r, Some(-3)));
    }

    #[test]
    fn wire_form() {
        let r = StoredRequest::from_api(&serde_json::json!({"uniqueKey": "k", "url": "u", "method": "post", "payload": {"q": 1}, "userData": {"x": 1}})).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.payload.as_deref(), Some("{\"q\":1}"));
        let v = r.to_api("id1");
        assert_eq!(v["id"], "id1");
        assert_eq!(v["userData"]["x"], 1);
        assert!(StoredRequest::from_api(&serde_json::json!({"url": "u"})).is_err());
        assert!(StoredRequest::from_api(&serde_json::json!("x")).is_err());
    }

    #[test]
    fn cursors() {
        for o in [-5, 0, 7, cursor_key(true, 3)] {
            assert_eq!(decode_cursor(&encode_cursor(o, "abc")).unwrap(), (o, "abc".to_owned()));
        }
        assert!(decode_cursor("nope").is_err());
    }
}
