//! Decodes the examples of the official OpenAPI document (Apache-2.0, copied to
//! `fixtures/apify-openapi.json`) with our storage models.
//!
//! Most success responses carry no example of their own, so besides every documented
//! example (response media `example`/`examples`, schema-level `example`/`examples`) each
//! schema is also synthesised from its property examples in four shapes: required fields
//! only (nullable ones `null`), documented fields only, every field, and every field with
//! nullable ones `null`. Each value must decode, survive a serialise/decode round trip,
//! lose no non-null field, and leave no declared field unmodeled (in `extra`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use apify_core::config::Config;
use apify_core::models::{
    AddedRequest, BatchAddResult, BatchDeleteResult, Dataset, DatasetFieldStatistics, DatasetListItem,
    DatasetStatistics, DatasetStats, DeletedRequest, HeadRequest, KeyValueStore, KeyValueStoreKey, KeyValueStoreStats,
    ListOfKeys, ListOfRequests, ListPage, LockedRequestQueueHead, RecordValue, Request, RequestLockInfo, RequestQueue,
    RequestQueueHead, RequestQueueShort, RequestQueueStats, RequestRegistration, UnlockRequestsResult,
    UnprocessedRequest, timestamp,
};
use apify_core::ops::Operation;
use apify_core::ops::dataset::{ListItems, PushItems};
use apify_core::ops::key_value_store::GetRecord;
use apify_core::ops::request_queue::RequestRef;
use apify_core::ops::storage::{Datasets, UpdateStorage};
use apify_core::path::ResourcePath;
use apify_core::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

const DOC: &str = include_str!("fixtures/apify-openapi.json");

/// Examples that do not decode because of a model bug, as (source substring, failure
/// substring). Empty: every example decodes.
// KNOWN MODEL BUG: add entries here only with a note, and remove them once fixed.
const KNOWN_MODEL_BUGS: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------------------
// The document and an example synthesiser
// ---------------------------------------------------------------------------------------

struct Doc(Value);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Only required properties; a required nullable property is `null`.
    Required,
    /// Only properties with a documented example (plus required ones).
    Examples,
    /// Every property; a placeholder where nothing is documented.
    Full,
    /// Every property; every nullable property `null`.
    Nulls,
}

const MODES: [Mode; 4] = [Mode::Required, Mode::Examples, Mode::Full, Mode::Nulls];

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Properties and required names of an object schema, after `$ref`, siblings and `allOf`.
#[derive(Default)]
struct Parts {
    props: Vec<(String, Value)>,
    required: BTreeSet<String>,
    additional: Option<Value>,
}

impl Doc {
    fn load() -> Self {
        Self(serde_json::from_str(DOC).expect("the fixture is JSON"))
    }

    fn pointer(&self, reference: &str) -> &Value {
        let ptr = reference.strip_prefix('#').unwrap_or_else(|| panic!("external $ref {reference}"));
        self.0.pointer(ptr).unwrap_or_else(|| panic!("dangling $ref {reference}"))
    }

    /// Follows `$ref` chains (siblings are ignored here; see `parts`).
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            schema = self.pointer(r);
        }
        schema
    }

    fn schema(&self, name: &str) -> &Value {
        &self.0["components"]["schemas"][name]
    }

    /// The schema's own example: `example`, else the first of `examples`, else its `$ref`'s.
    fn own_example(&self, schema: &Value) -> Option<Value> {
        if let Some(e) = schema.get("example") {
            return Some(e.clone());
        }
        if let Some(e) = schema.get("examples").and_then(Value::as_array).and_then(|a| a.first()) {
            return Some(e.clone());
        }
        schema.get("$ref").and_then(Value::as_str).and_then(|r| self.own_example(self.pointer(r)))
    }

    fn nullable(&self, schema: &Value) -> bool {
        types(self.resolve(schema)).contains(&"null") || types(schema).contains(&"null")
    }

    fn parts(&self, schema: &Value, out: &mut Parts) {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            self.parts(self.pointer(r), out);
        }
        for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.parts(part, out);
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                match out.props.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = prop.clone(),
                    None => out.props.push((name.clone(), prop.clone())),
                }
            }
        }
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            out.required.insert(name.as_str().unwrap_or_default().to_owned());
        }
        if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            out.additional = Some(extra.clone());
        }
    }

    fn is_object(&self, schema: &Value) -> bool {
        let r = self.resolve(schema);
        types(r).contains(&"object")
            || r.get("properties").is_some()
            || r.get("allOf").is_some()
            || schema.get("properties").is_some()
            || schema.get("allOf").is_some()
    }

    fn placeholder(&self, schema: &Value, mode: Mode, depth: usize) -> Value {
        let r = self.resolve(schema);
        if let Some(first) = r.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
            return first.clone();
        }
        if let Some(first) = r.get("anyOf").or_else(|| r.get("oneOf")).and_then(Value::as_array).and_then(|a| a.first())
        {
            return self.synth(first, mode, depth + 1).unwrap_or_else(|| self.placeholder(first, mode, depth + 1));
        }
        if self.is_object(schema) {
            return self.object(schema, mode, depth).unwrap_or_else(|| json!({}));
        }
        let ts = types(r);
        match ts.iter().copied().find(|t| *t != "null") {
            Some("string") => match r.get("format").and_then(Value::as_str) {
                Some("date-time") => json!("2024-01-02T03:04:05.678Z"),
                Some("uri") => json!("https://example.com/placeholder"),
                _ => json!("placeholder"),
            },
            Some("integer") => json!(3),
            Some("number") => json!(1.5),
            Some("boolean") => json!(true),
            Some("array") => {
                let items = r.get("items").cloned().unwrap_or_else(|| json!({}));
                let item =
                    self.synth(&items, mode, depth + 1).unwrap_or_else(|| self.placeholder(&items, mode, depth + 1));
                json!([item])
            }
            _ => json!({}),
        }
    }

    /// An example for `schema`, or `None` when nothing is documented and the mode does not
    /// ask for placeholders.
    fn synth(&self, schema: &Value, mode: Mode, depth: usize) -> Option<Value> {
        assert!(depth < 20, "schema nesting too deep (a cycle?)");
        if let Some(e) = self.own_example(schema) {
            return Some(e);
        }
        let r = self.resolve(schema);
        if self.is_object(schema) && r.get("anyOf").is_none() && r.get("oneOf").is_none() {
            return self.object(schema, mode, depth);
        }
        if types(r).contains(&"array") {
            let items = r.get("items").cloned().unwrap_or_else(|| json!({}));
            return match self.synth(&items, mode, depth + 1) {
                Some(item) => Some(json!([item])),
                None if mode == Mode::Examples => None,
                None => Some(self.placeholder(schema, mode, depth)),
            };
        }
        (mode != Mode::Examples).then(|| self.placeholder(schema, mode, depth))
    }

    fn object(&self, schema: &Value, mode: Mode, depth: usize) -> Option<Value> {
        let mut parts = Parts::default();
        self.parts(schema, &mut parts);
        let mut out = Map::new();
        for (name, prop) in &parts.props {
            let required = parts.required.contains(name);
            let value = match mode {
                Mode::Required if !required => continue,
                Mode::Required | Mode::Nulls if self.nullable(prop) => Value::Null,
                Mode::Examples => match self.synth(prop, mode, depth + 1) {
                    Some(v) => v,
                    None if required => self.placeholder(prop, mode, depth + 1),
                    None => continue,
                },
                // Full: a documented `null` gives way to a real value, for coverage of the type.
                _ => self
                    .synth(prop, mode, depth + 1)
                    .filter(|v| !(mode == Mode::Full && v.is_null()))
                    .unwrap_or_else(|| self.placeholder(prop, mode, depth + 1)),
            };
            out.insert(name.clone(), value);
        }
        if let (Some(extra), Mode::Full | Mode::Nulls) = (&parts.additional, mode) {
            let v = self.synth(extra, mode, depth + 1).unwrap_or_else(|| self.placeholder(extra, mode, depth + 1));
            out.insert("someKey".into(), v);
        }
        (mode != Mode::Examples || !out.is_empty()).then_some(Value::Object(out))
    }

    /// Documented examples of a schema itself (not of its properties).
    fn schema_examples(&self, schema: &Value) -> Vec<Value> {
        let mut out = Vec::new();
        let mut s = schema;
        loop {
            out.extend(s.get("example").cloned());
            out.extend(s.get("examples").and_then(Value::as_array).into_iter().flatten().cloned());
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => s = self.pointer(r),
                None => break,
            }
        }
        // An inline `allOf` part's example describes the whole; a `$ref`'d part's does not.
        for sub in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            if sub.get("$ref").is_none() {
                out.extend(sub.get("example").cloned());
            }
        }
        // Every example of an `anyOf`/`oneOf` variant is an example of the whole.
        for part in ["anyOf", "oneOf"] {
            for sub in s.get(part).and_then(Value::as_array).into_iter().flatten() {
                out.extend(self.schema_examples(sub));
            }
        }
        out
    }

    /// Every example a media type object documents (`example`, `examples.*.value`).
    fn media_examples(&self, media: &Value) -> Vec<Value> {
        let mut out: Vec<Value> = media.get("example").cloned().into_iter().collect();
        for ex in media.get("examples").and_then(Value::as_object).into_iter().flat_map(Map::values) {
            out.extend(self.resolve(ex).get("value").cloned());
        }
        out
    }

    /// A top-level synthesis that ignores the schema's own example (documented separately).
    fn synth_top(&self, schema: &Value, mode: Mode) -> Value {
        let r = self.resolve(schema);
        if let Some(first) = r.get("anyOf").or_else(|| r.get("oneOf")).and_then(Value::as_array).and_then(|a| a.first())
        {
            return self.synth_top(first, mode);
        }
        self.object(schema, mode, 0).unwrap_or_else(|| json!({}))
    }

    /// Every declared property name of an object schema.
    fn declared(&self, schema: &Value) -> BTreeSet<String> {
        let mut parts = Parts::default();
        self.parts(schema, &mut parts);
        parts.props.into_iter().map(|(n, _)| n).collect()
    }
}

// ---------------------------------------------------------------------------------------
// Checking a value against a model
// ---------------------------------------------------------------------------------------

/// Names of fields that landed in `extra` (i.e. were not modeled).
trait Unmodeled {
    fn unmodeled(&self) -> Vec<String>;
}

macro_rules! with_extra {
    ($($t:ty),*) => {$(
        impl Unmodeled for $t {
            fn unmodeled(&self) -> Vec<String> {
                self.extra.keys().cloned().collect()
            }
        }
    )*};
}
with_extra!(
    Dataset,
    DatasetListItem,
    KeyValueStore,
    KeyValueStoreKey,
    RequestQueue,
    RequestQueueShort,
    Request,
    HeadRequest
);

// Models without `extra`: a dropped field is caught by the "nothing lost" check instead.
macro_rules! without_extra {
    ($($t:ty),*) => {$(
        impl Unmodeled for $t {
            fn unmodeled(&self) -> Vec<String> {
                Vec::new()
            }
        }
    )*};
}
without_extra!(
    DatasetStatistics,
    DatasetFieldStatistics,
    DatasetStats,
    KeyValueStoreStats,
    RequestQueueStats,
    RequestRegistration,
    AddedRequest,
    UnprocessedRequest,
    DeletedRequest,
    BatchAddResult,
    BatchDeleteResult,
    RequestLockInfo,
    UnlockRequestsResult
);

impl<T: Unmodeled> Unmodeled for ListPage<T> {
    fn unmodeled(&self) -> Vec<String> {
        self.items.iter().flat_map(|i| i.unmodeled().into_iter().map(|k| format!("items[].{k}"))).collect()
    }
}

macro_rules! items_extra {
    ($($t:ty),*) => {$(
        impl Unmodeled for $t {
            fn unmodeled(&self) -> Vec<String> {
                self.items.iter().flat_map(|i| i.unmodeled().into_iter().map(|k| format!("items[].{k}"))).collect()
            }
        }
    )*};
}
items_extra!(ListOfKeys, ListOfRequests, RequestQueueHead, LockedRequestQueueHead);

/// Whether every non-null value of `original` survives in `again` (timestamps compared as
/// instants, numbers as numbers).
fn covers(original: &Value, again: &Value, at: &str) -> Result<(), String> {
    match (original, again) {
        (Value::Null, _) => Ok(()),
        (Value::Object(o), Value::Object(a)) => {
            for (k, v) in o {
                match a.get(k) {
                    Some(av) => covers(v, av, &format!("{at}.{k}"))?,
                    None if v.is_null() => {}
                    None => return Err(format!("field {at}.{k} = {v} is lost on re-serialisation")),
                }
            }
            Ok(())
        }
        (Value::Array(o), Value::Array(a)) if o.len() == a.len() => {
            o.iter().zip(a).enumerate().try_for_each(|(i, (x, y))| covers(x, y, &format!("{at}[{i}]")))
        }
        (Value::String(o), Value::String(a)) if o != a => match (timestamp::parse(o), timestamp::parse(a)) {
            (Ok(x), Ok(y)) if x == y => Ok(()),
            _ => Err(format!("{at}: {o:?} became {a:?}")),
        },
        (Value::Number(o), Value::Number(a)) if o.as_f64() == a.as_f64() => Ok(()),
        (o, a) if o == a => Ok(()),
        (o, a) => Err(format!("{at}: {o} became {a}")),
    }
}

fn check_as<T>(value: &Value) -> Result<(), String>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug + Unmodeled,
{
    let parsed: T = serde_json::from_value(value.clone()).map_err(|e| format!("does not decode: {e}"))?;
    let again = serde_json::to_value(&parsed).map_err(|e| format!("does not serialise: {e}"))?;
    let reparsed: T =
        serde_json::from_value(again.clone()).map_err(|e| format!("re-serialised form does not decode: {e}"))?;
    if parsed != reparsed {
        return Err(format!("round trip changed the value: {parsed:?} vs {reparsed:?}"));
    }
    covers(value, &again, "")?;
    let unmodeled = parsed.unmodeled();
    if !unmodeled.is_empty() {
        return Err(format!("fields not modeled (kept only in `extra`): {unmodeled:?}"));
    }
    Ok(())
}

/// What a JSON body of a storage operation decodes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Model {
    Dataset,
    DatasetListItem,
    DatasetList,
    DatasetStatistics,
    DatasetFieldStatistics,
    DatasetStats,
    KeyValueStore,
    KeyValueStoreList,
    KeyValueStoreKey,
    KeyValueStoreStats,
    ListOfKeys,
    RequestQueue,
    RequestQueueShort,
    RequestQueueList,
    RequestQueueStats,
    Request,
    ListOfRequests,
    HeadRequest,
    RequestQueueHead,
    LockedRequestQueueHead,
    RequestRegistration,
    AddedRequest,
    UnprocessedRequest,
    DeletedRequest,
    BatchAddResult,
    BatchDeleteResult,
    RequestLockInfo,
    UnlockRequestsResult,
    /// Raw dataset items (no envelope), decoded by `ListItems`.
    Items,
    /// A raw record (no envelope), decoded by `GetRecord`.
    Record,
    /// `201 {}` of pushes and record writes.
    Empty,
}

impl Model {
    fn enveloped(self) -> bool {
        !matches!(self, Self::Items | Self::Record | Self::Empty)
    }

    fn check(self, v: &Value) -> Result<(), String> {
        match self {
            Self::Dataset => check_as::<Dataset>(v),
            Self::DatasetListItem => check_as::<DatasetListItem>(v),
            Self::DatasetList => check_as::<ListPage<DatasetListItem>>(v),
            Self::DatasetStatistics => check_as::<DatasetStatistics>(v),
            Self::DatasetFieldStatistics => check_as::<DatasetFieldStatistics>(v),
            Self::DatasetStats => check_as::<DatasetStats>(v),
            Self::KeyValueStore => check_as::<KeyValueStore>(v),
            Self::KeyValueStoreList => check_as::<ListPage<KeyValueStore>>(v),
            Self::KeyValueStoreKey => check_as::<KeyValueStoreKey>(v),
            Self::KeyValueStoreStats => check_as::<KeyValueStoreStats>(v),
            Self::ListOfKeys => check_as::<ListOfKeys>(v),
            Self::RequestQueue => check_as::<RequestQueue>(v),
            Self::RequestQueueShort => check_as::<RequestQueueShort>(v),
            Self::RequestQueueList => check_as::<ListPage<RequestQueueShort>>(v),
            Self::RequestQueueStats => check_as::<RequestQueueStats>(v),
            Self::Request => check_as::<Request>(v),
            Self::ListOfRequests => check_as::<ListOfRequests>(v),
            Self::HeadRequest => check_as::<HeadRequest>(v),
            Self::RequestQueueHead => check_as::<RequestQueueHead>(v),
            Self::LockedRequestQueueHead => check_as::<LockedRequestQueueHead>(v),
            Self::RequestRegistration => check_as::<RequestRegistration>(v),
            Self::AddedRequest => check_as::<AddedRequest>(v),
            Self::UnprocessedRequest => check_as::<UnprocessedRequest>(v),
            Self::DeletedRequest => check_as::<DeletedRequest>(v),
            Self::BatchAddResult => check_as::<BatchAddResult>(v),
            Self::BatchDeleteResult => check_as::<BatchDeleteResult>(v),
            Self::RequestLockInfo => check_as::<RequestLockInfo>(v),
            Self::UnlockRequestsResult => check_as::<UnlockRequestsResult>(v),
            Self::Items => check_items(v),
            Self::Record => check_record(v),
            Self::Empty => check_empty(v),
        }
    }
}

fn response(status: u16, headers: &[(&'static str, &str)], body: &Value) -> Response {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    Response {
        status: StatusCode::from_u16(status).unwrap(),
        headers: map,
        body: Bytes::from(serde_json::to_vec(body).unwrap()),
        attempt: 1,
        method: Method::GET,
        url: http::Uri::from_static("https://api.apify.com/v2/x"),
    }
}

fn check_items(v: &Value) -> Result<(), String> {
    let target = ResourcePath::resource("datasets", "d").unwrap();
    let op = ListItems::new().build(&Config::new(), &target).map_err(|e| e.to_string())?;
    let n = v.as_array().map_or(1, Vec::len).to_string();
    let headers = [
        ("x-apify-pagination-total", n.as_str()),
        ("x-apify-pagination-offset", "0"),
        ("x-apify-pagination-limit", n.as_str()),
        ("x-apify-pagination-count", n.as_str()),
        ("x-apify-pagination-desc", "false"),
    ];
    let page = op.decode(response(200, &headers, v)).map_err(|e| format!("items do not decode: {e}"))?;
    let want = v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
    if page.items != want {
        return Err(format!("items decoded as {:?}", page.items));
    }
    Ok(())
}

fn check_record(v: &Value) -> Result<(), String> {
    let target = ResourcePath::resource("key-value-stores", "s").unwrap();
    let op = GetRecord::new("k").build(&Config::new(), &target).map_err(|e| e.to_string())?;
    let rec = op
        .decode(response(200, &[("content-type", "application/json; charset=utf-8")], v))
        .map_err(|e| format!("record does not decode: {e}"))?
        .ok_or("record decoded as none")?;
    if rec.value != RecordValue::Json(v.clone()) {
        return Err(format!("record decoded as {:?}", rec.value));
    }
    Ok(())
}

fn check_empty(v: &Value) -> Result<(), String> {
    let target = ResourcePath::resource("datasets", "d").unwrap();
    let op = PushItems::raw_json("[]").build(&Config::new(), &target).map_err(|e| e.to_string())?;
    op.decode(response(201, &[], v)).map_err(|e| format!("201 body does not decode: {e}"))
}

/// An error example must come out as an API error with the example's type and message.
fn check_error(status: u16, v: &Value) -> Result<(), String> {
    let err = response(status, &[], v).to_api_error();
    let api = err.api_error().ok_or_else(|| format!("not an API error: {err:?}"))?;
    let detail = &v["error"];
    if api.status.as_u16() != status {
        return Err(format!("status {} instead of {status}", api.status));
    }
    if let Some(t) = detail["type"].as_str()
        && api.error_type.as_ref().map(|t| t.as_str()) != Some(t)
    {
        return Err(format!("type {:?} instead of {t:?}", api.error_type));
    }
    match detail["message"].as_str() {
        Some(m) if api.message != m => return Err(format!("message {:?} instead of {m:?}", api.message)),
        None if !api.message.starts_with("Unexpected error: ") => return Err(format!("message {:?}", api.message)),
        _ => {}
    }
    if let Some(data) = detail.get("data").and_then(Value::as_object)
        && &api.data != data
    {
        return Err(format!("data {:?} instead of {data:?}", api.data));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The storage operations of the document
// ---------------------------------------------------------------------------------------

/// `datasets/{id}/items` for `/v2/datasets/{datasetId}/items` and for the chained forms
/// (`/v2/actor-runs/{runId}/dataset/items`, `.../runs/last/dataset/items`); `None` for
/// paths outside the storages.
fn storage_route(path: &str) -> Option<String> {
    let segs: Vec<&str> = path.strip_prefix("/v2/")?.split('/').collect();
    let (collection, rest) = match segs.as_slice() {
        [c @ ("datasets" | "key-value-stores" | "request-queues")] => return Some((*c).to_owned()),
        [c @ ("datasets" | "key-value-stores" | "request-queues"), _id, rest @ ..] => ((*c).to_owned(), rest),
        ["actor-runs" | "actors" | "actor-tasks", ..] => {
            let i = segs.iter().position(|s| matches!(*s, "dataset" | "key-value-store" | "request-queue"))?;
            (format!("{}s", segs[i]), &segs[i + 1..])
        }
        _ => return None,
    };
    Some(rest.iter().fold(format!("{collection}/{{id}}"), |acc, s| format!("{acc}/{s}")))
}

/// (route, method) → the model of its 2xx JSON body, with the response schema it names.
fn operation_table() -> BTreeMap<(&'static str, &'static str), (Model, Option<&'static str>)> {
    use Model as M;
    BTreeMap::from([
        (("datasets", "get"), (M::DatasetList, Some("ListOfDatasetsResponse"))),
        (("datasets", "post"), (M::Dataset, Some("DatasetResponse"))),
        (("datasets/{id}", "get"), (M::Dataset, Some("DatasetResponse"))),
        (("datasets/{id}", "put"), (M::Dataset, Some("DatasetResponse"))),
        (("datasets/{id}", "delete"), (M::Empty, None)),
        (("datasets/{id}/items", "get"), (M::Items, None)),
        (("datasets/{id}/items", "head"), (M::Items, None)),
        (("datasets/{id}/items", "post"), (M::Empty, None)),
        (("datasets/{id}/statistics", "get"), (M::DatasetStatistics, Some("DatasetStatisticsResponse"))),
        (("key-value-stores", "get"), (M::KeyValueStoreList, Some("ListOfKeyValueStoresResponse"))),
        (("key-value-stores", "post"), (M::KeyValueStore, Some("KeyValueStoreResponse"))),
        (("key-value-stores/{id}", "get"), (M::KeyValueStore, Some("KeyValueStoreResponse"))),
        (("key-value-stores/{id}", "put"), (M::KeyValueStore, Some("KeyValueStoreResponse"))),
        (("key-value-stores/{id}", "delete"), (M::Empty, None)),
        (("key-value-stores/{id}/keys", "get"), (M::ListOfKeys, Some("ListOfKeysResponse"))),
        // A zip of all records: no JSON success body.
        (("key-value-stores/{id}/records", "get"), (M::Empty, None)),
        (("key-value-stores/{id}/records/{recordKey}", "get"), (M::Record, None)),
        (("key-value-stores/{id}/records/{recordKey}", "head"), (M::Empty, None)),
        (("key-value-stores/{id}/records/{recordKey}", "put"), (M::Empty, None)),
        (("key-value-stores/{id}/records/{recordKey}", "post"), (M::Empty, None)),
        (("key-value-stores/{id}/records/{recordKey}", "delete"), (M::Empty, None)),
        (("request-queues", "get"), (M::RequestQueueList, Some("ListOfRequestQueuesResponse"))),
        (("request-queues", "post"), (M::RequestQueue, Some("RequestQueueResponse"))),
        (("request-queues/{id}", "get"), (M::RequestQueue, Some("RequestQueueResponse"))),
        (("request-queues/{id}", "put"), (M::RequestQueue, Some("RequestQueueResponse"))),
        (("request-queues/{id}", "delete"), (M::Empty, None)),
        (("request-queues/{id}/requests", "get"), (M::ListOfRequests, Some("ListOfRequestsResponse"))),
        (("request-queues/{id}/requests", "post"), (M::RequestRegistration, Some("AddRequestResponse"))),
        (("request-queues/{id}/requests/batch", "post"), (M::BatchAddResult, Some("BatchAddResponse"))),
        (("request-queues/{id}/requests/batch", "delete"), (M::BatchDeleteResult, Some("BatchDeleteResponse"))),
        (("request-queues/{id}/requests/unlock", "post"), (M::UnlockRequestsResult, Some("UnlockRequestsResponse"))),
        (("request-queues/{id}/requests/{requestId}", "get"), (M::Request, Some("RequestResponse"))),
        (("request-queues/{id}/requests/{requestId}", "put"), (M::RequestRegistration, Some("UpdateRequestResponse"))),
        (("request-queues/{id}/requests/{requestId}", "delete"), (M::Empty, None)),
        (
            ("request-queues/{id}/requests/{requestId}/lock", "put"),
            (M::RequestLockInfo, Some("ProlongRequestLockResponse")),
        ),
        (("request-queues/{id}/requests/{requestId}/lock", "delete"), (M::Empty, None)),
        (("request-queues/{id}/head", "get"), (M::RequestQueueHead, Some("HeadResponse"))),
        (("request-queues/{id}/head/lock", "post"), (M::LockedRequestQueueHead, Some("HeadAndLockResponse"))),
    ])
}

const METHODS: [&str; 6] = ["get", "post", "put", "delete", "head", "patch"];

#[derive(Default)]
struct Tally {
    checked: usize,
    documented: usize,
    by_model: BTreeMap<Model, (usize, usize)>,
    errors: usize,
    operations: BTreeSet<String>,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, source: String, result: Result<(), String>) {
        self.checked += 1;
        if let Err(e) = result {
            let known = KNOWN_MODEL_BUGS.iter().any(|(s, f)| source.contains(s) && e.contains(f));
            if !known {
                self.failures.push(format!("{source}: {e}"));
            }
        }
    }

    fn model(&mut self, model: Model, documented: bool, source: String, value: &Value) {
        let entry = self.by_model.entry(model).or_default();
        if documented {
            entry.0 += 1;
            self.documented += 1;
        } else {
            entry.1 += 1;
        }
        let result = if model.enveloped() {
            match value.get("data") {
                Some(inner) => model.check(inner),
                None => Err(format!("no `data` envelope in {value}")),
            }
        } else {
            model.check(value)
        };
        self.record(source, result);
    }

    fn assert_clean(&self) {
        assert!(self.failures.is_empty(), "{} example(s) failed:\n{}", self.failures.len(), self.failures.join("\n"));
    }
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json"
}

#[test]
fn storage_operation_examples_decode() {
    let doc = Doc::load();
    let table = operation_table();
    let mut tally = Tally::default();
    let paths = doc.0["paths"].as_object().expect("paths");
    for (path, item) in paths {
        let Some(route) = storage_route(path) else { continue };
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"].as_str().unwrap_or("?");
            let Some(&(model, schema_name)) = table.get(&(route.as_str(), method)) else {
                panic!("{method} {path} ({id}) is a storage operation the table does not map")
            };
            tally.operations.insert(format!("{route} {method}"));
            for (code, resp) in op["responses"].as_object().expect("responses") {
                let resp = doc.resolve(resp);
                let status: u16 = code.parse().expect("numeric status");
                for (media_type, media) in resp.get("content").and_then(Value::as_object).into_iter().flatten() {
                    if !is_json(media_type) {
                        continue;
                    }
                    let schema = media.get("schema").cloned().unwrap_or_else(|| json!({}));
                    let documented = doc.media_examples(media).into_iter().chain(doc.schema_examples(&schema));
                    if status >= 400 {
                        for (i, ex) in documented.enumerate() {
                            tally.errors += 1;
                            tally.record(format!("{id} {status} error example {i}"), check_error(status, &ex));
                        }
                        let synth = doc.synth_top(&schema, Mode::Full);
                        tally.errors += 1;
                        tally.record(format!("{id} {status} synthesised error"), check_error(status, &synth));
                        continue;
                    }
                    if let Some(name) = schema_name {
                        let named = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next());
                        assert_eq!(named, Some(name), "{id} {status}: response schema");
                    }
                    for (i, ex) in documented.enumerate() {
                        tally.model(model, true, format!("{id} {status} documented example {i}"), &ex);
                    }
                    if model == Model::Items || model == Model::Record || model == Model::Empty {
                        // Free-form bodies: only their documented examples are meaningful.
                        continue;
                    }
                    for mode in MODES {
                        let ex = doc.synth_top(&schema, mode);
                        tally.model(model, false, format!("{id} {status} synthesised {mode:?} {ex}"), &ex);
                    }
                }
            }
        }
    }
    tally.assert_clean();

    // Every mapped operation exists in the document (standalone or chained).
    let mapped: BTreeSet<String> = table.keys().map(|(r, m)| format!("{r} {m}")).collect();
    assert_eq!(tally.operations, mapped, "operations in the document vs the table");
    // Every JSON success model got synthesised examples, several documented ones exist,
    // and every error response decodes. Floors observed on the v2-2026-08-05 document.
    for (model, (_, synthesised)) in &tally.by_model {
        assert!(
            *synthesised >= MODES.len() || matches!(model, Model::Items | Model::Record | Model::Empty),
            "{model:?}: {synthesised}"
        );
    }
    for model in [
        Model::ListOfKeys,
        Model::ListOfRequests,
        Model::RequestQueueHead,
        Model::LockedRequestQueueHead,
        Model::BatchAddResult,
        Model::Items,
        Model::Record,
        Model::Empty,
    ] {
        assert!(tally.by_model.get(&model).is_some_and(|c| c.0 > 0), "{model:?} has no documented example");
    }
    assert!(tally.documented >= FLOOR_DOCUMENTED, "documented success examples: {}", tally.documented);
    assert!(tally.errors >= FLOOR_ERRORS, "error examples: {}", tally.errors);
    assert!(tally.checked >= FLOOR_CHECKED, "examples checked: {}", tally.checked);
}

// Observed on the fixture (standalone and chained storage paths); the walk must not
// silently find less.
const FLOOR_DOCUMENTED: usize = 40;
const FLOOR_ERRORS: usize = 1764;
const FLOOR_CHECKED: usize = 2128;

/// Component schemas we model, with their schema-level examples and synthesised ones.
#[test]
fn component_schema_examples_decode() {
    use Model as M;
    let doc = Doc::load();
    let components = [
        ("Dataset", M::Dataset),
        ("DatasetListItem", M::DatasetListItem),
        ("ListOfDatasets", M::DatasetList),
        ("DatasetStatistics", M::DatasetStatistics),
        ("DatasetFieldStatistics", M::DatasetFieldStatistics),
        ("DatasetStats", M::DatasetStats),
        ("KeyValueStore", M::KeyValueStore),
        ("ListOfKeyValueStores", M::KeyValueStoreList),
        ("KeyValueStoreKey", M::KeyValueStoreKey),
        ("KeyValueStoreStats", M::KeyValueStoreStats),
        ("ListOfKeys", M::ListOfKeys),
        ("RequestQueue", M::RequestQueue),
        ("RequestQueueShort", M::RequestQueueShort),
        ("ListOfRequestQueues", M::RequestQueueList),
        ("RequestQueueStats", M::RequestQueueStats),
        ("Request", M::Request),
        // What we send on add/update is the same model.
        ("RequestWithoutId", M::Request),
        ("ListOfRequests", M::ListOfRequests),
        ("HeadRequest", M::HeadRequest),
        ("LockedHeadRequest", M::HeadRequest),
        ("RequestQueueHead", M::RequestQueueHead),
        ("LockedRequestQueueHead", M::LockedRequestQueueHead),
        ("RequestRegistration", M::RequestRegistration),
        ("AddedRequest", M::AddedRequest),
        ("RequestDraft", M::UnprocessedRequest),
        ("DeletedRequestById", M::DeletedRequest),
        ("DeletedRequestByUniqueKey", M::DeletedRequest),
        ("BatchAddResult", M::BatchAddResult),
        ("BatchDeleteResult", M::BatchDeleteResult),
        ("RequestLockInfo", M::RequestLockInfo),
        ("UnlockRequestsResult", M::UnlockRequestsResult),
    ];
    let mut tally = Tally::default();
    for (name, model) in components {
        let schema = doc.schema(name);
        assert!(schema.is_object(), "schema {name} is missing from the document");
        for (i, ex) in doc.schema_examples(schema).into_iter().enumerate() {
            tally.documented += 1;
            tally.record(format!("{name} documented example {i}"), model.check(&ex));
        }
        for mode in MODES {
            let ex = doc.synth_top(schema, mode);
            // Synthesis must produce the declared required fields (else it proves nothing).
            let mut parts = Parts::default();
            doc.parts(schema, &mut parts);
            for req in &parts.required {
                assert!(ex.get(req).is_some(), "{name} {mode:?}: synthesised example lacks {req}");
            }
            tally.record(format!("{name} synthesised {mode:?} {ex}"), model.check(&ex));
        }
    }
    tally.assert_clean();
    assert!(tally.checked >= components.len() * MODES.len());
    assert!(tally.documented >= FLOOR_COMPONENT_DOCUMENTED, "documented component examples: {}", tally.documented);
}

// Only `DatasetStatistics` documents an example at the component level.
const FLOOR_COMPONENT_DOCUMENTED: usize = 1;

/// The bodies we send use only names the document declares (camelCase matches).
#[test]
fn request_bodies_use_declared_names() {
    let doc = Doc::load();
    // A request with every field we model set.
    let mut request = Request::new("k", "https://example.com");
    request.id = Some("id".into());
    request.method = Some("POST".into());
    request.payload = Some(json!("body"));
    request.headers = Some(Map::from_iter([("a".to_owned(), json!("b"))]));
    request.user_data = Some(Map::from_iter([("label".to_owned(), json!("L"))]));
    request.retry_count = Some(1);
    request.no_retry = Some(false);
    request.loaded_url = Some("https://example.com/x".into());
    request.handled_at = Some(timestamp::parse("2024-01-02T03:04:05Z").unwrap());
    request.error_messages = Some(vec!["e".into()]);
    request.lock_expires_at = Some(timestamp::parse("2024-01-02T03:04:05Z").unwrap());
    request.lock_by_client = Some("ck".into());
    let sent = serde_json::to_value(&request).unwrap();
    let declared = doc.declared(doc.schema("Request"));
    // Returned by the live API but not declared (client-behaviour §14): allowed.
    let undeclared_ok = ["lockExpiresAt", "lockByClient"];
    for key in sent.as_object().unwrap().keys() {
        assert!(declared.contains(key) || undeclared_ok.contains(&key.as_str()), "Request field {key} is not declared");
    }
    for key in &declared {
        assert!(sent.get(key).is_some(), "declared Request field {key} is not modeled");
    }

    // Batch delete references match RequestDraftDelete's variants.
    for (r, variant) in [
        (RequestRef::Id("a".into()), "RequestDraftDeleteById"),
        (RequestRef::UniqueKey("u".into()), "RequestDraftDeleteByUniqueKey"),
    ] {
        let v = serde_json::to_value(&r).unwrap();
        let mut parts = Parts::default();
        doc.parts(doc.schema(variant), &mut parts);
        let keys: BTreeSet<String> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, parts.required, "{variant}");
    }

    // Storage updates: `name` and `generalAccess` are declared; `title` is sent as the
    // Python client does (storage-methods §3) although the document does not declare it.
    let target = ResourcePath::resource("datasets", "d").unwrap();
    let op = UpdateStorage::<Datasets>::default()
        .name("n")
        .title("t")
        .general_access(apify_core::models::GeneralAccess::Restricted);
    let body: Value = serde_json::from_slice(&op.build(&Config::new(), &target).unwrap().request.body).unwrap();
    for schema in ["UpdateDatasetRequest", "UpdateStoreRequest", "UpdateRequestQueueRequest"] {
        let declared = doc.declared(doc.schema(schema));
        for key in body.as_object().unwrap().keys() {
            assert!(declared.contains(key) || key == "title", "{schema}: {key} is not declared");
        }
        let example = doc.own_example(doc.schema(schema)).expect("documented update example");
        assert_eq!(example["generalAccess"], body["generalAccess"], "{schema}: access enum spelling");
    }
}

/// The checks above must be able to fail: a wrong type, a dropped field and an unmodeled
/// declared field are each reported.
#[test]
fn the_checks_can_fail() {
    let doc = Doc::load();
    let mut dataset = doc.synth_top(doc.schema("Dataset"), Mode::Full);
    assert!(Model::Dataset.check(&dataset).is_ok());
    dataset["itemCount"] = json!("seven");
    assert!(Model::Dataset.check(&dataset).unwrap_err().contains("does not decode"));

    let mut reg = doc.synth_top(doc.schema("RequestRegistration"), Mode::Full);
    reg["newField"] = json!(1);
    assert!(Model::RequestRegistration.check(&reg).unwrap_err().contains("newField"));

    let mut store = doc.synth_top(doc.schema("KeyValueStore"), Mode::Full);
    store["notModeled"] = json!(true);
    assert!(Model::KeyValueStore.check(&store).unwrap_err().contains("notModeled"));

    let lost = covers(&json!({"a": {"b": [1, 2]}}), &json!({"a": {"b": [1]}}), "");
    assert!(lost.is_err());
    assert!(covers(&json!({"t": "2024-01-01T00:00:00Z"}), &json!({"t": "2024-01-01T00:00:00.000Z"}), "").is_ok());
    assert!(check_error(404, &json!({"error": {"type": "a", "message": "m"}})).is_ok());
    assert!(check_items(&json!([{"a": 1}])).is_ok() && check_record(&json!({"a": 1})).is_ok());
    assert!(Model::Empty.check(&json!({})).is_ok());
    assert_eq!(
        storage_route("/v2/actor-runs/{runId}/key-value-store/records/{recordKey}").as_deref(),
        Some("key-value-stores/{id}/records/{recordKey}")
    );
    assert_eq!(storage_route("/v2/actors/{actorId}/runs"), None);
}
