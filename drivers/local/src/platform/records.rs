//! The one-JSON-file-per-record folders of the local platform (`actor_tasks/`, `actors/`,
//! `webhooks/`, `webhook_dispatches/`): read, written atomically, removed, and the
//! pass-through fields a client set on a record.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::fsio::{self, Durability};

/// Every `<id>.json` of `dir`; one that does not parse is skipped with a warning and left on
/// disk for a person to look at.
pub(crate) fn load_dir<T: DeserializeOwned>(dir: &Path, what: &str) -> Vec<T> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|path| {
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<T>(&b).map_err(|e| e.to_string()));
            parsed.map_err(|e| tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable {what}")).ok()
        })
        .collect()
}

/// Writes `dir/<id>.json` atomically (a crash leaves the old record or the new one).
pub(crate) fn save(dir: &Path, id: &str, value: &impl Serialize, durability: Durability) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    fsio::write_atomic(dir, &format!("{id}.json"), &bytes, durability)
}

/// Removes `dir/<id>.json`; one already gone is fine.
pub(crate) fn remove(dir: &Path, id: &str) -> io::Result<()> {
    match std::fs::remove_file(dir.join(format!("{id}.json"))) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Keeps the fields of `fields` not in `own` as given (`null` removes one): the local
/// platform has no use for them but loses nothing a client set.
pub(crate) fn merge_extra(extra: &mut BTreeMap<String, Value>, fields: &Map<String, Value>, own: &[&str]) {
    for (k, v) in fields {
        if own.contains(&k.as_str()) {
            continue;
        }
        if v.is_null() {
            extra.remove(k);
        } else {
            extra.insert(k.clone(), v.clone());
        }
    }
}
