//! An SDK dataset: `push_data`, `get_data`, `iterate_items`, `export_to`.

use apify_core::models::ListPage;
use apify_local::format::pyjson;
use apify_local::storage::Kind;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::Serialize;
use serde_json::Value;

use crate::backend::{Backend, dispatch};
use crate::error::{Error, Result};
use crate::key_value_store::KeyValueStore;

/// Options of `get_data` / `iterate_items` (the platform's item parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetData {
    offset: Option<u64>,
    limit: Option<u64>,
    desc: bool,
    clean: bool,
    skip_empty: bool,
    skip_hidden: bool,
    fields: Option<Vec<String>>,
    omit: Option<Vec<String>>,
}

impl GetData {
    /// All items.
    pub fn new() -> Self {
        Self::default()
    }
    /// Skip this many items.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }
    /// At most this many items.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }
    /// Newest first.
    pub fn desc(mut self, on: bool) -> Self {
        self.desc = on;
        self
    }
    /// Only non-empty items, without `#hidden` fields.
    pub fn clean(mut self, on: bool) -> Self {
        self.clean = on;
        self
    }
    /// Skip empty items.
    pub fn skip_empty(mut self, on: bool) -> Self {
        self.skip_empty = on;
        self
    }
    /// Drop fields starting with `#`.
    pub fn skip_hidden(mut self, on: bool) -> Self {
        self.skip_hidden = on;
        self
    }
    /// Only these fields.
    pub fn fields<S: Into<String>>(mut self, f: impl IntoIterator<Item = S>) -> Self {
        self.fields = Some(f.into_iter().map(Into::into).collect());
        self
    }
    /// Without these fields.
    pub fn omit<S: Into<String>>(mut self, f: impl IntoIterator<Item = S>) -> Self {
        self.omit = Some(f.into_iter().map(Into::into).collect());
        self
    }
}

/// Format of [`Dataset::export_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A JSON array (stored as a real array, not a string: spec W9).
    Json,
    /// CSV with the Python SDK's columns and value rendering.
    Csv {
        /// Columns from every item instead of the first non-empty one.
        collect_all_keys: bool,
    },
}

/// A dataset of the run.
#[derive(Debug, Clone)]
pub struct Dataset {
    backend: Backend,
    id: String,
    name: Option<String>,
}

/// Checks that data is an object or an array of objects (W11) and returns the items.
pub(crate) fn items_of<T: Serialize + ?Sized>(data: &T) -> Result<Vec<Value>> {
    // Serialise with the NaN check, then read back as values to inspect their shape.
    let bytes = apify_core::json::to_vec(data)?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|source| Error::Json { what: "dataset items".into(), source })?;
    match value {
        Value::Object(_) => Ok(vec![value]),
        Value::Array(items) => match items.iter().position(|v| !v.is_object()) {
            Some(i) => Err(Error::InvalidArgument(format!(
                "item at index {i} is not a JSON object; dataset items must be objects"
            ))),
            None => Ok(items),
        },
        _ => Err(Error::InvalidArgument("dataset data must be a JSON object or an array of objects".into())),
    }
}

macro_rules! with_options {
    ($call:expr, $o:expr) => {{
        let o = $o;
        let mut call = $call.desc(o.desc).clean(o.clean).skip_empty(o.skip_empty).skip_hidden(o.skip_hidden);
        if let Some(n) = o.offset {
            call = call.offset(n);
        }
        if let Some(n) = o.limit {
            call = call.limit(n);
        }
        if let Some(f) = o.fields.clone() {
            call = call.fields(f);
        }
        if let Some(f) = o.omit.clone() {
            call = call.omit(f);
        }
        call
    }};
}

impl Dataset {
    pub(crate) fn new(backend: Backend, id: String, name: Option<String>) -> Self {
        Self { backend, id, name }
    }

    /// Storage ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Name (`None` for the default and alias datasets).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Whether the dataset is in the local folder.
    pub fn is_local(&self) -> bool {
        self.backend.is_local()
    }

    /// Appends one item (an object) or several (an array of objects); NaN and Infinity
    /// are refused. On the platform, bodies are packed into chunks of at most 9 MiB.
    pub async fn push_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<()> {
        let items = items_of(data)?;
        if items.is_empty() {
            return Ok(());
        }
        dispatch!(self.backend, c => c.dataset(&self.id).push_items(&items).await?);
        Ok(())
    }

    /// One page of items.
    pub async fn get_data(&self, options: GetData) -> Result<ListPage<Value>> {
        Ok(dispatch!(self.backend, c => with_options!(c.dataset(&self.id).list_items(), &options).await?))
    }

    /// Every item of the window, fetched page by page as the stream is read.
    pub fn iterate_items(&self, options: GetData) -> BoxStream<'static, Result<Value>> {
        dispatch!(self.backend, c => StreamExt::boxed(StreamExt::map(with_options!(c.dataset(&self.id).iterate_items(), &options), |r| r.map_err(Error::from))))
    }

    /// The dataset's metadata from the API.
    pub async fn get_info(&self) -> Result<Option<apify_core::models::Dataset>> {
        Ok(dispatch!(self.backend, c => c.dataset(&self.id).get().await?))
    }

    /// Writes every item into one record of `kvs` as CSV or as a JSON array.
    pub async fn export_to(&self, key: &str, format: ExportFormat, kvs: &KeyValueStore) -> Result<()> {
        let mut items = Vec::new();
        let mut stream = self.iterate_items(GetData::new());
        while let Some(item) = stream.next().await {
            items.push(item?);
        }
        match format {
            ExportFormat::Json => {
                let body = pyjson::to_string_pretty(&Value::Array(items));
                kvs.set_raw(key, body.into_bytes(), "application/json").await
            }
            ExportFormat::Csv { collect_all_keys } => {
                let csv = crate::export::to_csv(&items, collect_all_keys)?;
                kvs.set_raw(key, csv.into_bytes(), "text/csv").await
            }
        }
    }

    /// Deletes the dataset.
    pub async fn drop(self) -> Result<()> {
        crate::Actor::drop_storage(&self.backend, Kind::Dataset, &self.id).await
    }
}
