//! A dataset: one pretty-printed JSON file per item (`000000001.json`, ...).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};

use super::meta::{METADATA_FILE, MetaSync, StorageMeta};
use super::{Clock, StorageConfig};
use crate::error::{Result, StorageError};
use crate::format::pyjson;
use crate::fsio::{self, Durability, StorageLock};

/// Which items to read (the platform's item parameters the local storage honours).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemQuery {
    /// Items to skip.
    pub offset: u64,
    /// Most items to scan (`None`: all).
    pub limit: Option<u64>,
    /// Newest first.
    pub desc: bool,
    /// Skip items that are empty objects.
    pub skip_empty: bool,
    /// Drop fields starting with `#`.
    pub skip_hidden: bool,
    /// Keep only these fields, in this order.
    pub fields: Option<Vec<String>>,
    /// Drop these fields.
    pub omit: Option<Vec<String>>,
}

/// A window of items and the numbers the platform reports with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsPage {
    /// The items.
    pub items: Vec<Value>,
    /// Items in the dataset.
    pub total: u64,
    /// The window's offset.
    pub offset: u64,
    /// The window's size limit.
    pub limit: u64,
    /// Rows scanned (≥ `items.len()` when empty items were skipped).
    pub count: u64,
    /// Newest first.
    pub desc: bool,
}

struct State {
    meta: StorageMeta,
    sync: MetaSync,
}

/// An open dataset.
pub struct Dataset {
    id: String,
    dir: PathBuf,
    durability: Durability,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// The metadata file's writer: it is rewritten on every push.
    files: fsio::Rewriter,
    pub(crate) life: super::Lifecycle,
}

/// `000000001.json` for item 1; item 1,000,000,000 gets ten digits.
fn item_file(n: u64) -> String {
    format!("{n:09}.json")
}

/// `push FIRST LAST`: the item numbers of a push in flight.
fn parse_push_note(note: &str) -> Option<(u64, u64)> {
    let mut words = note.strip_prefix("push ")?.split(' ');
    let (first, last) = (words.next()?.parse().ok()?, words.next()?.parse().ok()?);
    (words.next().is_none() && 1 <= first && first <= last).then_some((first, last))
}

/// The number in an item file name (`None` for anything else).
fn item_number(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".json")?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Beyond any real dataset; such a name would overflow the numbering of the next item.
    stem.parse().ok().filter(|n| *n < 1 << 60)
}

/// Removes temp files a crash may have left (`<name>.json.<8>.tmp`; never read as data).
pub(crate) fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale = name.strip_suffix(".tmp").and_then(|s| s.rsplit_once('.')).is_some_and(|(base, rand)| {
            base.ends_with(".json") && rand.len() == 8 && rand.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if stale {
            let _ = fs::remove_file(e.path());
        }
    }
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset").field("id", &self.id).field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Dataset {
    pub(crate) fn open(dir: &Path, mut meta: StorageMeta, lock: StorageLock, cfg: &StorageConfig) -> Result<Self> {
        remove_stale_temp_files(dir);
        let recorded = meta.item_count;
        // A push interrupted before its commit (the count in the metadata) is rolled back:
        // its client was never told it succeeded and will push the same items again.
        if let Some((first, last)) = lock.read_note().ok().flatten().as_deref().and_then(parse_push_note) {
            let committed = recorded.unwrap_or(first - 1);
            let dropped = (first.max(committed + 1)..=last)
                .filter(|n| fsio::remove_if_exists(&dir.join(item_file(*n))).unwrap_or(false))
                .count();
            if dropped > 0 {
                tracing::warn!(dataset = %dir.display(), items = dropped, "rolled back a push that was interrupted before it was committed");
            }
            if cfg.durability == Durability::Full {
                fsio::sync_dir(dir).map_err(StorageError::io(format!("syncing {}", dir.display())))?;
            }
            lock.clear_note().map_err(StorageError::io("clearing the storage's intent note"))?;
        }
        // W3: the files are the truth for anything else (items written by another program
        // whose metadata lags).
        let mut max = 0;
        for e in fs::read_dir(dir).map_err(StorageError::io(format!("listing {}", dir.display())))?.flatten() {
            if let Some(n) = e.file_name().to_str().and_then(item_number) {
                max = max.max(n);
            }
        }
        if recorded != Some(max) {
            if recorded.is_some() {
                tracing::warn!(dataset = %dir.display(), recorded = ?recorded, found = max, "item count recovered from the item files");
            }
            meta.item_count = Some(max);
            meta.write(dir, cfg.durability)?;
        }
        Ok(Self {
            id: meta.id.clone(),
            dir: dir.to_owned(),
            durability: cfg.durability,
            clock: cfg.clock.clone(),
            state: Mutex::new(State { meta, sync: MetaSync::default() }),
            files: fsio::Rewriter::new(dir),
            life: super::Lifecycle::new(super::Kind::Dataset, lock),
        })
    }

    super::handle_accessors!();

    /// Items stored.
    pub fn item_count(&self) -> u64 {
        self.state().meta.item_count.unwrap_or(0)
    }

    /// Appends items (JSON objects only, W11), all or nothing, even across a crash: a
    /// multi-item push first notes its item numbers in the storage's lock file, then writes
    /// the item files, then commits by writing the new count to the metadata (W2), and
    /// only then clears the note. An open that finds a note rolls the uncommitted items
    /// back. If writing fails midway, the items written are removed again and nothing is
    /// counted.
    pub fn push(&self, items: &[Value]) -> Result<()> {
        if let Some(i) = items.iter().position(|v| !v.is_object()) {
            return Err(StorageError::InvalidArgument(format!(
                "item at index {i} is not a JSON object; dataset items must be objects"
            )));
        }
        let mut st = self.live()?;
        let start = st.meta.item_count.unwrap_or(0);
        let now = self.clock.now();
        if items.is_empty() {
            st.meta.accessed_at = now;
            st.meta.modified_at = now;
            return self.save_meta(&mut st, false);
        }
        let mut names = Vec::with_capacity(items.len());
        let mut bodies = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            names.push(item_file(start + 1 + i as u64));
            let mut buf = Vec::with_capacity(128);
            pyjson::write_pretty(&mut buf, item);
            bodies.push(buf);
        }
        let last = start + items.len() as u64;
        // One new file is atomic by itself: only a batch needs the note.
        let noted = items.len() > 1;
        if noted {
            self.life
                .with_lock(|lock| lock.write_note(&format!("push {} {last}", start + 1), self.durability))
                .transpose()
                .map_err(StorageError::io("noting the push in the storage's lock file"))?;
            fsio::crash_points::hit("push noted");
        }
        // On failure the written files are removed at once, so that the next push numbers
        // from the same count; what a failed removal leaves is rolled back by the next open
        // (the note stays for it).
        let undo = |written: &[String]| {
            let undone = written.iter().all(|f| fsio::remove_if_exists(&self.dir.join(f)).is_ok());
            if undone && noted {
                let _ = self.life.with_lock(StorageLock::clear_note);
            }
        };
        let files = names.iter().map(String::as_str).zip(bodies.iter().map(Vec::as_slice));
        if let Err((n, e)) = fsio::write_many(&self.dir, files, self.durability) {
            undo(&names[..n]);
            return Err(StorageError::Io {
                context: format!("pushing items: none of {} stored (failed at item {})", items.len(), n + 1),
                source: e,
            });
        }
        st.meta.item_count = Some(last);
        st.meta.accessed_at = now;
        st.meta.modified_at = now;
        // The count is written at once, not coalesced: it is the push's commit, and the
        // Python SDK numbers its next item from it.
        if let Err(e) = self.save_meta(&mut st, true) {
            st.meta.item_count = Some(start);
            undo(&names);
            return Err(e);
        }
        fsio::crash_points::hit("push committed");
        if noted {
            let _ = self.life.with_lock(StorageLock::clear_note);
        }
        Ok(())
    }

    fn read_item(&self, n: u64) -> Result<Value> {
        let path = self.dir.join(item_file(n));
        let bytes = fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StorageError::Corrupt { path: path.clone(), detail: "item file is missing".into() }
            } else {
                StorageError::io(format!("reading {}", path.display()))(e)
            }
        })?;
        let (value, replaced) = pyjson::parse_tolerant(&bytes)
            .map_err(|e| StorageError::Corrupt { path: path.clone(), detail: format!("not valid JSON ({e})") })?;
        if replaced {
            tracing::warn!(path = %path.display(), "NaN or Infinity in an item read as null");
        }
        Ok(value)
    }

    /// Reads a window of items. Reads touch `accessed_at` in memory only (W10).
    pub fn get_items(&self, q: &ItemQuery) -> Result<ItemsPage> {
        let total = {
            let mut st = self.live()?;
            st.meta.accessed_at = self.clock.now();
            st.sync.touch();
            st.meta.item_count.unwrap_or(0)
        };
        let start = q.offset.min(total);
        let end = q.limit.map_or(total, |l| start.saturating_add(l).min(total));
        let mut items = Vec::with_capacity((end - start) as usize);
        for pos in start..end {
            let n = if q.desc { total - pos } else { pos + 1 };
            let item = filter_item(self.read_item(n)?, q);
            if q.skip_empty && item.as_object().is_some_and(Map::is_empty) {
                continue;
            }
            items.push(item);
        }
        Ok(ItemsPage {
            items,
            total,
            offset: q.offset,
            limit: q.limit.unwrap_or_else(|| total.saturating_sub(q.offset)),
            count: end - start,
            desc: q.desc,
        })
    }

    /// Deletes every item file and resets the count (metadata and ID kept).
    pub fn purge(&self) -> Result<()> {
        let mut st = self.live()?;
        for e in fs::read_dir(&self.dir).map_err(StorageError::io(format!("listing {}", self.dir.display())))?.flatten()
        {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".json") && name != METADATA_FILE {
                fsio::remove_if_exists(&e.path()).map_err(StorageError::io(format!("purging {name}")))?;
            }
        }
        let now = self.clock.now();
        st.meta.item_count = Some(0);
        st.meta.accessed_at = now;
        st.meta.modified_at = now;
        self.save_meta(&mut st, true)
    }

    /// Writes the metadata now (`force`) or when due (see [`MetaSync`]).
    fn save_meta(&self, st: &mut State, force: bool) -> Result<()> {
        if st.sync.changed() || force {
            st.meta.write_with(&self.files, self.durability)?;
            st.sync.written();
        }
        Ok(())
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
            st.meta.write_with(&self.files, self.durability)?;
            st.sync.written();
        }
        Ok(())
    }
}

/// Applies `skipHidden`, `fields` and `omit` to one item.
fn filter_item(item: Value, q: &ItemQuery) -> Value {
    let Value::Object(mut obj) = item else { return item };
    if q.skip_hidden {
        obj.retain(|k, _| !k.starts_with('#'));
    }
    if let Some(fields) = &q.fields {
        let mut picked = Map::new();
        for f in fields {
            if let Some(v) = obj.remove(f) {
                picked.insert(f.clone(), v);
            }
        }
        obj = picked;
    }
    if let Some(omit) = &q.omit {
        for f in omit {
            obj.remove(f);
        }
    }
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_names() {
        assert_eq!(item_file(1), "000000001.json");
        assert_eq!(item_file(1_000_000_000), "1000000000.json");
        assert_eq!(item_number("000000042.json"), Some(42));
        assert_eq!(item_number("__metadata__.json"), None);
        assert_eq!(item_number("000000001.json.abcdefgh.tmp"), None);
        assert_eq!(item_number(".json"), None);
    }

    #[test]
    fn filters() {
        let q = ItemQuery {
            skip_hidden: true,
            fields: Some(vec!["b".into(), "a".into(), "#h".into()]),
            ..Default::default()
        };
        let v = filter_item(serde_json::json!({"a": 1, "#h": 2, "b": 3, "c": 4}), &q);
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"b":3,"a":1}"#);
        let q = ItemQuery { omit: Some(vec!["a".into()]), ..Default::default() };
        assert_eq!(filter_item(serde_json::json!({"a": 1, "b": 2}), &q), serde_json::json!({"b": 2}));
    }
}
