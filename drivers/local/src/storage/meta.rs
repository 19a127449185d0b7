//! `__metadata__.json` of a storage: read tolerantly (snake_case or camelCase, any
//! timestamp format), written exactly as the Python SDK writes it.

use std::path::Path;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::error::{Result, StorageError};
use crate::format::{pyjson, timestamp};
use crate::fsio::{self, Durability};

pub(crate) const METADATA_FILE: &str = "__metadata__.json";

/// Metadata of a storage; counters are `Some` for the kinds that have them.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageMeta {
    /// Storage ID.
    pub id: String,
    /// Name; `None` for the default and alias storages.
    pub name: Option<String>,
    /// Last access.
    pub accessed_at: OffsetDateTime,
    /// Creation.
    pub created_at: OffsetDateTime,
    /// Last modification.
    pub modified_at: OffsetDateTime,
    /// Datasets: items stored.
    pub item_count: Option<u64>,
    /// Request queues: whether several clients used the queue.
    pub had_multiple_clients: Option<bool>,
    /// Request queues: handled requests.
    pub handled_request_count: Option<u64>,
    /// Request queues: pending requests.
    pub pending_request_count: Option<u64>,
    /// Request queues: all requests.
    pub total_request_count: Option<u64>,
}

fn field<'a>(m: &'a Map<String, Value>, snake: &str, camel: &str) -> Option<&'a Value> {
    m.get(snake).or_else(|| m.get(camel))
}

fn time_field(m: &Map<String, Value>, snake: &str, camel: &str) -> Option<OffsetDateTime> {
    field(m, snake, camel).and_then(Value::as_str).and_then(timestamp::parse_any)
}

fn count(m: &Map<String, Value>, snake: &str, camel: &str) -> Option<u64> {
    field(m, snake, camel).and_then(Value::as_u64)
}

impl StorageMeta {
    /// Fresh metadata of a new storage.
    pub fn new(id: String, name: Option<String>, now: OffsetDateTime) -> Self {
        Self {
            id,
            name,
            accessed_at: now,
            created_at: now,
            modified_at: now,
            item_count: None,
            had_multiple_clients: None,
            handled_request_count: None,
            pending_request_count: None,
            total_request_count: None,
        }
    }

    /// Parses metadata; `None` if it lacks an ID.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let (value, _) = pyjson::parse_tolerant(bytes).ok()?;
        let m = value.as_object()?;
        let id = field(m, "id", "id")?.as_str()?.to_owned();
        let created_at = time_field(m, "created_at", "createdAt")?;
        Some(Self {
            id,
            name: field(m, "name", "name").and_then(Value::as_str).map(str::to_owned),
            accessed_at: time_field(m, "accessed_at", "accessedAt").unwrap_or(created_at),
            modified_at: time_field(m, "modified_at", "modifiedAt").unwrap_or(created_at),
            created_at,
            item_count: count(m, "item_count", "itemCount"),
            had_multiple_clients: field(m, "had_multiple_clients", "hadMultipleClients").and_then(Value::as_bool),
            handled_request_count: count(m, "handled_request_count", "handledRequestCount"),
            pending_request_count: count(m, "pending_request_count", "pendingRequestCount"),
            total_request_count: count(m, "total_request_count", "totalRequestCount"),
        })
    }

    /// Reads `dir/__metadata__.json`: `None` if there is none. A file that cannot be
    /// parsed is set aside as `__metadata__.json.corrupt` (never deleted) and `None`
    /// returned, so that the storage is adopted with fresh metadata and its data kept.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(METADATA_FILE);
        let Some(bytes) =
            fsio::read_if_exists(&path).map_err(StorageError::io(format!("reading {}", path.display())))?
        else {
            return Ok(None);
        };
        if let Some(m) = Self::parse(&bytes) {
            return Ok(Some(m));
        }
        let aside = dir.join(format!("{METADATA_FILE}.corrupt"));
        tracing::warn!(path = %path.display(), aside = %aside.display(), "corrupt storage metadata set aside; the storage gets fresh metadata");
        std::fs::rename(&path, &aside).map_err(StorageError::io(format!("setting aside {}", path.display())))?;
        Ok(None)
    }

    /// The metadata as the Python SDK writes it (field order per storage type).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("name".into(), self.name.clone().map_or(Value::Null, Value::String));
        m.insert("accessed_at".into(), timestamp::format_python(self.accessed_at).into());
        m.insert("created_at".into(), timestamp::format_python(self.created_at).into());
        m.insert("modified_at".into(), timestamp::format_python(self.modified_at).into());
        if let Some(n) = self.item_count {
            m.insert("item_count".into(), n.into());
        }
        if let Some(b) = self.had_multiple_clients {
            m.insert("had_multiple_clients".into(), b.into());
        }
        for (k, v) in [
            ("handled_request_count", self.handled_request_count),
            ("pending_request_count", self.pending_request_count),
            ("total_request_count", self.total_request_count),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v.into());
            }
        }
        Value::Object(m)
    }

    /// Writes the metadata through `files` (see [`fsio::Rewriter::overwrite`]): for
    /// metadata rewritten on every change.
    pub(crate) fn write_with(&self, files: &fsio::Rewriter, durability: Durability) -> Result<()> {
        let text = pyjson::to_string_pretty(&self.to_value());
        files
            .overwrite(METADATA_FILE, text.as_bytes(), durability)
            .map_err(StorageError::io(format!("writing the metadata of {}", self.id)))
    }

    /// Writes `dir/__metadata__.json` atomically.
    pub fn write(&self, dir: &Path, durability: Durability) -> Result<()> {
        let text = pyjson::to_string_pretty(&self.to_value());
        fsio::write_atomic(dir, METADATA_FILE, text.as_bytes(), durability)
            .map_err(StorageError::io(format!("writing {}", dir.join(METADATA_FILE).display())))
    }
}

/// When `__metadata__.json` is rewritten: at once after a quiet period, then at most once
/// per [`MetaSync::INTERVAL`] while changes keep coming, and by `flush` for what is left.
/// Nothing depends on the file being current: counts are recovered from the data files on
/// open (W3), so coalescing saves a file write per operation and loses nothing on a crash.
#[derive(Debug, Default)]
pub(crate) struct MetaSync {
    dirty: bool,
    last: Option<std::time::Instant>,
}

impl MetaSync {
    pub(crate) const INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

    /// Notes a change that needs no write of its own (a read's `accessed_at`, W10).
    pub(crate) fn touch(&mut self) {
        self.dirty = true;
    }

    /// Notes a change; true when the metadata is due to be written now.
    pub(crate) fn changed(&mut self) -> bool {
        self.dirty = true;
        self.last.is_none_or(|t| t.elapsed() >= Self::INTERVAL)
    }

    /// Notes that the metadata was written.
    pub(crate) fn written(&mut self) {
        self.dirty = false;
        self.last = Some(std::time::Instant::now());
    }

    /// Whether the file lags behind memory.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty
    }
}
