//! A key-value store: a value file named `quote(key)` plus a sidecar
//! `<file>.__metadata__.json` per record, and the special input file (§5, §6).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};

use super::meta::{METADATA_FILE, MetaSync, StorageMeta};
use super::{Clock, StorageConfig};
use crate::error::{Result, StorageError};
use crate::format::pyjson;
use crate::fsio::{self, Durability, StorageLock};

const SIDECAR_SUFFIX: &str = ".__metadata__.json";
/// Longest encoded key: the sidecar's temp file must stay within NAME_MAX (255).
const MAX_ENCODED_KEY: usize = 200;

/// Python's `quote(key, safe='')`: everything but `A-Z a-z 0-9 _ . - ~` percent-encoded.
const KEY_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~');
/// Python's `Path.as_uri()` keeps `/` too.
const URI_SET: &AsciiSet = &KEY_SET.remove(b'/');

/// The value file name of a key.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_SET).to_string()
}

/// Keys the file-system storage refuses (W12): they would name the metadata, a sidecar,
/// the directory itself, or a file name too long for the file system.
pub fn validate_key(key: &str) -> Result<()> {
    let bad = |why: &str| Err(StorageError::InvalidName(format!("record key {key:?} is not allowed: {why}")));
    match key {
        "" => bad("it is empty"),
        "." | ".." => bad("it names a directory"),
        METADATA_FILE => bad("it is the store's metadata file"),
        k if k.ends_with(SIDECAR_SUFFIX) => bad("it ends like a record's metadata file"),
        k if encode_key(k).len() > MAX_ENCODED_KEY => {
            bad(&format!("it is longer than {MAX_ENCODED_KEY} bytes once percent-encoded"))
        }
        _ => Ok(()),
    }
}

/// A key with its content type and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key.
    pub key: String,
    /// Stored content type.
    pub content_type: String,
    /// Size of the value in bytes.
    pub size: u64,
}

/// A record's value with its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The key.
    pub key: String,
    /// The bytes as stored.
    pub value: Vec<u8>,
    /// Stored content type.
    pub content_type: String,
}

struct State {
    meta: StorageMeta,
    sync: MetaSync,
    // By value file name: byte order of encoded names is the listing order (§5.6).
    index: BTreeMap<String, KeyInfo>,
    input_file: Option<String>,
}

/// An open key-value store.
pub struct KeyValueStore {
    id: String,
    dir: PathBuf,
    durability: Durability,
    clock: Arc<dyn Clock>,
    input_key: String,
    state: Mutex<State>,
    pub(crate) life: super::Lifecycle,
}

fn sidecar_bytes(info: &KeyInfo) -> Vec<u8> {
    let mut m = Map::new();
    m.insert("key".into(), info.key.clone().into());
    m.insert("content_type".into(), info.content_type.clone().into());
    m.insert("size".into(), info.size.into());
    pyjson::to_string_pretty(&Value::Object(m)).into_bytes()
}

fn parse_sidecar(bytes: &[u8], value_len: Option<u64>) -> Option<KeyInfo> {
    let (v, _) = pyjson::parse_tolerant(bytes).ok()?;
    let m = v.as_object()?;
    let key = m.get("key")?.as_str()?.to_owned();
    let content_type = m.get("content_type").or_else(|| m.get("contentType"))?.as_str()?.to_owned();
    let size = m.get("size").and_then(Value::as_u64).or(value_len)?;
    Some(KeyInfo { key, content_type, size })
}

/// A stale temp file: `<name>.<8 alnum>.tmp` with no sidecar of its own (a real key of that
/// shape has one).
fn is_temp_name(name: &str) -> bool {
    name.strip_suffix(".tmp").and_then(|s| s.rsplit_once('.')).is_some_and(|(base, rand)| {
        !base.is_empty() && rand.len() == 8 && rand.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// `<input key>` or `<input key>.<ext>`: a file the input key is redirected to (§6).
fn is_input_candidate(file: &str, input_key: &str) -> bool {
    file.strip_prefix(input_key).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Finishes a record write a crash interrupted (see `KeyValueStore::set_raw`): a sidecar's
/// temp file whose value has no temp file left belongs to a value that was renamed into
/// place, so the sidecar follows it. With the value's temp file still there, neither was
/// renamed: both are stale and removed with the other temp files. `true` if anything was
/// put in place.
fn recover_pairs(dir: &Path, names: &[String], durability: Durability) -> Result<bool> {
    let present: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
    let value_temps: std::collections::HashSet<&str> = names
        .iter()
        .filter(|n| !present.contains(format!("{n}{SIDECAR_SUFFIX}").as_str()))
        .filter_map(|n| target_of(n))
        .collect();
    // Newest first, so that of two interrupted writes of one record the later wins.
    let mut pending: Vec<(&str, &str, std::time::SystemTime)> = names
        .iter()
        .filter_map(|n| {
            let value = target_of(n)?.strip_suffix(SIDECAR_SUFFIX)?;
            let mtime = fs::metadata(dir.join(n)).and_then(|m| m.modified()).ok()?;
            Some((n.as_str(), value, mtime))
        })
        .filter(|(_, value, _)| present.contains(value) && !value_temps.contains(value))
        .collect();
    pending.sort_by_key(|p| std::cmp::Reverse(p.2));
    let mut done = std::collections::HashSet::new();
    for (temp, value, _) in pending {
        if !done.insert(value) {
            continue;
        }
        fs::rename(dir.join(temp), dir.join(format!("{value}{SIDECAR_SUFFIX}")))
            .map_err(StorageError::io(format!("restoring the metadata of {value}")))?;
        tracing::warn!(file = %dir.join(value).display(), "finished a record write that was interrupted");
    }
    if !done.is_empty() && durability == Durability::Full {
        fsio::sync_dir(dir).map_err(StorageError::io(format!("syncing {}", dir.display())))?;
    }
    Ok(!done.is_empty())
}

/// The file a temp file was to become: `<name>.<8 alnum>.tmp` → `<name>`.
fn target_of(temp: &str) -> Option<&str> {
    is_temp_name(temp).then(|| &temp[..temp.len() - ".12345678.tmp".len()])
}

/// Content type of an input file that has no sidecar (§6).
fn input_content_type(name: &str, bytes: &[u8]) -> &'static str {
    const JSON: &str = "application/json; charset=utf-8";
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("json") => JSON,
        Some("txt") => "text/plain; charset=utf-8",
        None if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => JSON,
        _ => "application/octet-stream",
    }
}

impl std::fmt::Debug for KeyValueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyValueStore").field("id", &self.id).field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl KeyValueStore {
    pub(crate) fn open(dir: &Path, meta: StorageMeta, lock: StorageLock, cfg: &StorageConfig) -> Result<Self> {
        let list = || -> Result<Vec<String>> {
            Ok(fs::read_dir(dir)
                .map_err(StorageError::io(format!("listing {}", dir.display())))?
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect())
        };
        let mut names = list()?;
        if recover_pairs(dir, &names, cfg.durability)? {
            names = list()?;
        }
        let present: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
        let mut index = BTreeMap::new();
        for name in &names {
            if name == METADATA_FILE {
                continue;
            }
            if is_temp_name(name) && !present.contains(format!("{name}{SIDECAR_SUFFIX}").as_str()) {
                let _ = fs::remove_file(dir.join(name));
                continue;
            }
            let Some(value) = name.strip_suffix(SIDECAR_SUFFIX) else { continue };
            if !present.contains(value) {
                continue;
            }
            let len = fs::metadata(dir.join(value)).ok().map(|m| m.len());
            match fsio::read_if_exists(&dir.join(name)).ok().flatten().and_then(|b| parse_sidecar(&b, len)) {
                Some(info) => {
                    index.insert(value.to_owned(), info);
                }
                // W13: skipped with a warning, never listed as a stale entry.
                None => tracing::warn!(file = %dir.join(name).display(), "invalid record metadata; record skipped"),
            }
        }
        for name in &names {
            let is_sidecar = name.ends_with(SIDECAR_SUFFIX) || name == METADATA_FILE;
            if !is_sidecar && !index.contains_key(name) && !is_temp_name(name) && !name.starts_with(&cfg.input_key) {
                tracing::warn!(file = %name, "Found value file for key \"{name}\" but no metadata file.");
            }
        }

        // §6: the input file, `<input key>` or `<input key>.<ext>`.
        let mut inputs: Vec<&String> = names
            .iter()
            .filter(|n| !n.ends_with(SIDECAR_SUFFIX) && !is_temp_name(n) && is_input_candidate(n, &cfg.input_key))
            .collect();
        if inputs.len() > 1 {
            // The Python SDK refuses such a store; refusing it here too would leave it
            // unusable even for the delete that repairs it. So one file is chosen, the same
            // on every open: the one whose sidecar names the input key, else the bare
            // `<input key>`, else the first by name. The others stay records under the keys
            // their sidecars give (writes never create this state: see `set_raw`).
            inputs.sort_by_key(|n| {
                let claims_input = index.get(*n).is_some_and(|i| i.key == cfg.input_key);
                (!claims_input, **n != cfg.input_key, (*n).clone())
            });
            tracing::warn!(
                store = %dir.display(),
                chosen = %inputs[0],
                others = ?&inputs[1..],
                "more than one input file; the first is the input record, delete the others to silence this"
            );
            // A second file claiming the input key would list the key twice.
            for other in &inputs[1..] {
                if index.get(*other).is_some_and(|i| i.key == cfg.input_key) {
                    index.remove(*other);
                }
            }
        }
        let input_file = inputs.first().map(|s| (*s).clone());
        if let Some(file) = &input_file {
            // W7: a sidecar is generated only when none exists; one is never overwritten.
            if !index.contains_key(file) {
                let path = dir.join(file);
                let bytes = fs::read(&path).map_err(StorageError::io(format!("reading {}", path.display())))?;
                let info = KeyInfo {
                    key: cfg.input_key.clone(),
                    content_type: input_content_type(file, &bytes).into(),
                    size: bytes.len() as u64,
                };
                fsio::write_atomic(dir, &format!("{file}{SIDECAR_SUFFIX}"), &sidecar_bytes(&info), cfg.durability)
                    .map_err(StorageError::io("writing the input record's metadata"))?;
                index.insert(file.clone(), info);
            }
        }
        if !present.contains(METADATA_FILE) {
            meta.write(dir, cfg.durability)?;
        }
        Ok(Self {
            id: meta.id.clone(),
            dir: dir.to_owned(),
            durability: cfg.durability,
            clock: cfg.clock.clone(),
            input_key: cfg.input_key.clone(),
            state: Mutex::new(State { meta, sync: MetaSync::default(), index, input_file }),
            life: super::Lifecycle::new(super::Kind::KeyValueStore, lock),
        })
    }

    super::handle_accessors!();

    /// The key of the input record.
    pub fn input_key(&self) -> &str {
        &self.input_key
    }

    /// The value file a key is stored in (the input key is redirected to the input file).
    fn file_of(&self, st: &State, key: &str) -> String {
        match &st.input_file {
            Some(f) if key == self.input_key => f.clone(),
            _ => encode_key(key),
        }
    }

    fn touch(&self, st: &mut State) {
        st.meta.accessed_at = self.clock.now();
        st.sync.touch();
    }

    /// A record, or `None` if it does not exist (a value file without sidecar counts as
    /// missing).
    pub fn get(&self, key: &str) -> Result<Option<Record>> {
        let mut st = self.live()?;
        self.touch(&mut st);
        let file = self.file_of(&st, key);
        let Some(info) = st.index.get(&file).cloned() else { return Ok(None) };
        let path = self.dir.join(&file);
        match fsio::read_if_exists(&path).map_err(StorageError::io(format!("reading {}", path.display())))? {
            Some(value) => Ok(Some(Record { key: info.key, value, content_type: info.content_type })),
            None => {
                st.index.remove(&file);
                Ok(None)
            }
        }
    }

    /// Content type and size of a record, without reading it.
    pub fn info(&self, key: &str) -> Option<KeyInfo> {
        let mut st = self.state();
        self.touch(&mut st);
        let file = self.file_of(&st, key);
        st.index.get(&file).cloned()
    }

    /// Stores a record: the value file, then its sidecar (W2).
    pub fn set(&self, key: &str, value: &[u8], content_type: &str) -> Result<()> {
        validate_key(key)?;
        self.set_raw(key, value, content_type)
    }

    pub(crate) fn set_raw(&self, key: &str, value: &[u8], content_type: &str) -> Result<()> {
        let mut st = self.live()?;
        let file = self.file_of(&st, key);
        // §6: a second input file would make the store unreadable to the Python SDK (and
        // ambiguous to us): `INPUT.json` is refused while `INPUT` exists, and vice versa.
        let is_input_file = is_input_candidate(&file, &self.input_key);
        if is_input_file && let Some(input) = st.input_file.as_ref().filter(|f| **f != file) {
            return Err(StorageError::InputConflict(vec![input.clone(), file]));
        }
        let info = KeyInfo { key: key.to_owned(), content_type: content_type.to_owned(), size: value.len() as u64 };
        // The value and its sidecar are both staged before either is renamed into place:
        // after a crash between the two renames, the sidecar's temp file is still there and
        // the next open puts it in place (see `recover_pairs`). Not `fsio::Rewriter`:
        // records are read by other programs too (`file://` public URLs), and a reader
        // holding the old file must keep seeing it whole.
        let sidecar_name = format!("{file}{SIDECAR_SUFFIX}");
        let value_tmp = fsio::stage(&self.dir, &file, value, self.durability)
            .map_err(StorageError::io(format!("writing record {key:?}")))?;
        fsio::crash_points::hit("record value staged");
        let sidecar_tmp = fsio::stage(&self.dir, &sidecar_name, &sidecar_bytes(&info), self.durability)
            .map_err(StorageError::io(format!("writing the metadata of record {key:?}")))?;
        fsio::crash_points::hit("record sidecar staged");
        value_tmp.commit().map_err(StorageError::io(format!("writing record {key:?}")))?;
        fsio::crash_points::hit("record value renamed");
        // From here the new value is in place; if its sidecar cannot be, its temp file is
        // kept for the next open, and memory already describes the new value.
        let committed = sidecar_tmp.commit_or_keep();
        if is_input_file {
            st.input_file = Some(file.clone());
        }
        st.index.insert(file, info);
        committed.map_err(StorageError::io(format!("writing the metadata of record {key:?}")))?;
        fsio::crash_points::hit("record sidecar renamed");
        if self.durability == Durability::Full {
            fsio::sync_dir(&self.dir).map_err(StorageError::io(format!("syncing {}", self.dir.display())))?;
        }
        self.modified(&mut st)
    }

    /// Records a modification; the metadata is written when due (see [`MetaSync`]).
    fn modified(&self, st: &mut State) -> Result<()> {
        let now = self.clock.now();
        st.meta.accessed_at = now;
        st.meta.modified_at = now;
        if st.sync.changed() {
            st.meta.write(&self.dir, self.durability)?;
            st.sync.written();
        }
        Ok(())
    }

    /// Deletes a record: the sidecar first, then the value (W2). `false` if it was missing.
    pub fn delete(&self, key: &str) -> Result<bool> {
        validate_key(key)?;
        self.delete_raw(key)
    }

    pub(crate) fn delete_raw(&self, key: &str) -> Result<bool> {
        let mut st = self.live()?;
        let file = self.file_of(&st, key);
        let existed = st.index.remove(&file).is_some();
        fsio::remove_if_exists(&self.dir.join(format!("{file}{SIDECAR_SUFFIX}")))
            .map_err(StorageError::io(format!("deleting the metadata of record {key:?}")))?;
        fsio::remove_if_exists(&self.dir.join(&file)).map_err(StorageError::io(format!("deleting record {key:?}")))?;
        if st.input_file.as_deref() == Some(file.as_str()) {
            st.input_file = None;
        }
        if existed {
            self.modified(&mut st)?;
        }
        Ok(existed)
    }

    /// Keys after `exclusive_start_key` (compared as strings), in the order of their encoded
    /// file names, filtered by `prefix`; the flag says whether more keys follow.
    pub fn list_keys(
        &self,
        exclusive_start_key: Option<&str>,
        limit: usize,
        prefix: Option<&str>,
    ) -> (Vec<KeyInfo>, bool) {
        let mut st = self.state();
        self.touch(&mut st);
        let mut matching = st
            .index
            .values()
            .filter(|i| exclusive_start_key.is_none_or(|s| i.key.as_str() > s))
            .filter(|i| prefix.is_none_or(|p| i.key.starts_with(p)));
        let page: Vec<KeyInfo> = matching.by_ref().take(limit).cloned().collect();
        let more = matching.next().is_some();
        (page, more)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.state().index.len()
    }

    /// Whether the store has no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `file://` URI of a record's value file (`%` of the file name escaped as `%25`,
    /// which is the correct URI of that file; spec D2).
    pub fn public_file_uri(&self, key: &str) -> Result<String> {
        let st = self.live()?;
        let file = self.file_of(&st, key);
        let path = std::path::absolute(self.dir.join(file)).map_err(StorageError::io("resolving the record path"))?;
        Ok(format!("file://{}", utf8_percent_encode(&path.to_string_lossy(), URI_SET)))
    }

    /// Deletes every record except the input file (purge on start keeps the input).
    pub fn purge(&self) -> Result<()> {
        let mut st = self.live()?;
        let keep_input = st.input_file.clone();
        for e in fs::read_dir(&self.dir).map_err(StorageError::io(format!("listing {}", self.dir.display())))?.flatten()
        {
            let Ok(name) = e.file_name().into_string() else { continue };
            if !e.file_type().is_ok_and(|t| t.is_file()) || name == METADATA_FILE {
                continue;
            }
            if let Some(input) = &keep_input
                && (name == *input || name == format!("{input}{SIDECAR_SUFFIX}"))
            {
                continue;
            }
            fsio::remove_if_exists(&e.path()).map_err(StorageError::io(format!("purging {name}")))?;
        }
        st.index.retain(|file, _| Some(file) == keep_input.as_ref());
        self.modified(&mut st)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_encoding_matches_python_quote() {
        assert_eq!(encode_key("DICT"), "DICT");
        assert_eq!(encode_key("PNG.png"), "PNG.png");
        assert_eq!(encode_key("weird key/with spaces?&#"), "weird%20key%2Fwith%20spaces%3F%26%23");
        assert_eq!(encode_key("klíč-ü"), "kl%C3%AD%C4%8D-%C3%BC");
        assert_eq!(encode_key("a~b_c"), "a~b_c");
    }

    #[test]
    fn hazardous_keys_are_refused() {
        for k in ["", ".", "..", "__metadata__.json", "x.__metadata__.json"] {
            assert!(validate_key(k).is_err(), "{k:?}");
        }
        assert!(validate_key(&"a".repeat(200)).is_ok());
        assert!(validate_key(&"a".repeat(201)).is_err());
        assert!(validate_key(&"é".repeat(34)).is_err(), "34 × 6 encoded bytes");
        assert!(validate_key("INPUT").is_ok());
    }

    #[test]
    fn input_content_types() {
        assert_eq!(input_content_type("INPUT.json", b"{}"), "application/json; charset=utf-8");
        assert_eq!(input_content_type("INPUT.txt", b"hello"), "text/plain; charset=utf-8");
        assert_eq!(input_content_type("INPUT", b"{\"x\":1}"), "application/json; charset=utf-8");
        assert_eq!(input_content_type("INPUT", b"notjson"), "application/octet-stream");
        assert_eq!(input_content_type("INPUT.bin", b"\x01\x02"), "application/octet-stream");
    }

    #[test]
    fn temp_names() {
        assert!(is_temp_name("DICT.abcd1234.tmp"));
        assert!(!is_temp_name("DICT.tmp"));
        assert!(!is_temp_name(".abcd1234.tmp"));
    }
}
