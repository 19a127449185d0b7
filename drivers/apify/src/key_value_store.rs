//! An SDK key-value store: `get_value`/`set_value` with content-type inference, keys,
//! public URLs, and the Actor input.

use apify_core::models::{KeyValueStoreKey, RecordValue};
use apify_local::format::pyjson;
use apify_local::storage::{Kind, Target};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::backend::{Backend, dispatch};
use crate::error::{Error, Result};

const JSON: &str = "application/json; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// A key-value store of the run.
#[derive(Debug, Clone)]
pub struct KeyValueStore {
    backend: Backend,
    id: String,
    name: Option<String>,
}

/// Decodes a record value as `T`: JSON as is, text as a JSON string (or parsed JSON when
/// `T` is not a string), bytes as JSON.
pub(crate) fn decode_as<T: DeserializeOwned>(v: RecordValue, what: &str) -> Result<T> {
    let json_err = |source| Error::Json { what: what.to_owned(), source };
    match v {
        RecordValue::Json(j) => serde_json::from_value(j).map_err(json_err),
        RecordValue::Text(t) => {
            serde_json::from_value(Value::String(t.clone())).or_else(|_| serde_json::from_str(&t)).map_err(json_err)
        }
        RecordValue::Bytes(b) => serde_json::from_slice(&b).map_err(json_err),
    }
}

/// The Actor input from the working directory, when the store has none (§7.4): `INPUT.json`
/// (must be JSON) or `INPUT` (JSON if it parses, bytes otherwise); both at once is an error.
pub(crate) fn input_from_cwd() -> Result<Option<RecordValue>> {
    let read = |name: &str| match std::fs::read(name) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { context: format!("reading ./{name}"), source }),
    };
    match (read("INPUT.json")?, read("INPUT")?) {
        (Some(_), Some(_)) => {
            Err(Error::InvalidArgument("both ./INPUT and ./INPUT.json exist; only one input file is allowed".into()))
        }
        (Some(json), None) => serde_json::from_slice(&json)
            .map(|v| Some(RecordValue::Json(v)))
            .map_err(|source| Error::Json { what: "./INPUT.json".into(), source }),
        (None, Some(raw)) => Ok(Some(match serde_json::from_slice(&raw) {
            Ok(v) => RecordValue::Json(v),
            Err(_) => RecordValue::Bytes(raw.into()),
        })),
        (None, None) => Ok(None),
    }
}

fn is_json_type(ct: &str) -> bool {
    ct.to_ascii_lowercase().contains("application/json")
}

impl KeyValueStore {
    pub(crate) fn new(backend: Backend, id: String, name: Option<String>) -> Self {
        Self { backend, id, name }
    }

    /// Storage ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Name (`None` for the default and alias stores).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// A value decoded by its content type (JSON, text, or bytes), or `None` if the record
    /// does not exist. An `application/x-none` record (written by the Python SDK for
    /// `None`) reads as JSON `null`.
    pub async fn get_value(&self, key: &str) -> Result<Option<RecordValue>> {
        let record = dispatch!(self.backend, c => c.key_value_store(&self.id).get_record(key).await?);
        Ok(record.map(|r| match r.content_type.as_deref() {
            Some(ct) if ct.starts_with("application/x-none") => RecordValue::Json(Value::Null),
            _ => r.value,
        }))
    }

    /// A value decoded as `T`.
    pub async fn get_value_as<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.get_value(key).await?.map(|v| decode_as(v, &format!("record {key:?}"))).transpose()
    }

    /// Stores a value: a string as `text/plain`, anything else as JSON (numbers and
    /// booleans too, as on the platform: spec W8). NaN and Infinity are refused.
    pub async fn set_value<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = apify_core::json::to_vec(value)?;
        let v: Value =
            serde_json::from_slice(&bytes).map_err(|source| Error::Json { what: format!("record {key:?}"), source })?;
        match v {
            Value::String(s) => self.set_raw(key, s.into_bytes(), TEXT).await,
            // Formatted as the Python SDK writes JSON records.
            other => self.set_raw(key, pyjson::to_string_pretty(&other).into_bytes(), JSON).await,
        }
    }

    /// Stores bytes or text under an explicit content type. Under a JSON content type the
    /// bytes are stored verbatim and must be valid JSON (spec W8).
    pub async fn set_value_with_content_type(
        &self,
        key: &str,
        value: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<()> {
        let value = value.into();
        if is_json_type(content_type) && serde_json::from_slice::<serde::de::IgnoredAny>(&value).is_err() {
            return Err(Error::InvalidArgument(format!(
                "record {key:?}: the value is declared as {content_type:?} but is not valid JSON"
            )));
        }
        self.set_raw(key, value.to_vec(), content_type).await
    }

    pub(crate) async fn set_raw(&self, key: &str, value: Vec<u8>, content_type: &str) -> Result<()> {
        dispatch!(self.backend, c => c.key_value_store(&self.id).set_record(key, Bytes::from(value)).content_type(content_type).await?);
        Ok(())
    }

    /// Deletes a record; a missing record is not an error.
    pub async fn delete_value(&self, key: &str) -> Result<()> {
        match dispatch!(self.backend, c => c.key_value_store(&self.id).delete_record(key).await) {
            Err(e) if e.is_not_found() => Ok(()),
            other => Ok(other?),
        }
    }

    /// Whether a record exists.
    pub async fn record_exists(&self, key: &str) -> Result<bool> {
        Ok(dispatch!(self.backend, c => c.key_value_store(&self.id).record_exists(key).await?))
    }

    /// Every key (with its size), page by page.
    pub fn iterate_keys(&self) -> BoxStream<'static, Result<KeyValueStoreKey>> {
        dispatch!(self.backend, c => StreamExt::boxed(StreamExt::map(c.key_value_store(&self.id).iterate_keys(), |r| r.map_err(Error::from))))
    }

    /// Keys after `exclusive_start_key`, at most `limit`.
    pub async fn list_keys(&self, exclusive_start_key: Option<&str>, limit: u64) -> Result<Vec<KeyValueStoreKey>> {
        let page = dispatch!(self.backend, c => {
            let mut call = c.key_value_store(&self.id).list_keys().limit(limit.clamp(1, 1000));
            if let Some(k) = exclusive_start_key {
                call = call.exclusive_start_key(k);
            }
            call.await?
        });
        Ok(page.items)
    }

    /// A URL of the record: locally the `file://` URI of its file; on the platform the
    /// public API URL, signed when the store has a signing secret.
    pub async fn get_public_url(&self, key: &str) -> Result<String> {
        if let Some(storages) = self.backend.storages() {
            let (store, _) = storages.open_key_value_store(&Target::Id(self.id.clone()))?;
            return Ok(store.public_file_uri(key)?);
        }
        Ok(dispatch!(self.backend, c => c.key_value_store(&self.id).get_record_public_url(key).await?))
    }

    /// Deletes the store.
    pub async fn drop(self) -> Result<()> {
        crate::Actor::drop_storage(&self.backend, Kind::KeyValueStore, &self.id).await
    }
}
