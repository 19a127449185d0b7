//! Decodes the examples of the official OpenAPI document (Apache-2.0, copied to
//! `fixtures/apify-openapi.json`) with our models: the hand-written storage models, and the
//! models `codegen/` generates for the rest of the API (`openapi_examples/generated.rs`,
//! generated with them, lists each with its schema and sees into nested `extra`s).
//!
//! Most success responses carry no example of their own, so besides every documented
//! example (response media `example`/`examples`, schema-level `example`/`examples`) each
//! schema is also synthesised from its property examples in four shapes: required fields
//! only (nullable ones `null`), documented fields only, every field, and every field with
//! nullable ones `null`. Each value must decode, survive a serialise/decode round trip,
//! lose no non-null field, and leave no declared field unmodeled (in `extra`; for generated
//! models also nested ones, and no documented enum value may decode as `Other`).

#[path = "openapi_examples/generated.rs"]
mod generated;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use apify_core::config::Config;
use apify_core::models::{
    ActorShort, ActorVersion, AddedRequest, BatchAddResult, BatchDeleteResult, BuildShort, Dataset,
    DatasetFieldStatistics, DatasetListItem, DatasetStatistics, DatasetStats, DeletedRequest, EnvVar, GeneralAccess,
    HeadRequest, ItemList, KeyValueStore, KeyValueStoreKey, KeyValueStoreStats, ListOfKeys, ListOfRequests, ListPage,
    LockedRequestQueueHead, RecordValue, Request, RequestLockInfo, RequestQueue, RequestQueueHead, RequestQueueShort,
    RequestQueueStats, RequestRegistration, RunShort, ScheduleInvoked, ScheduleShort, StoreActor, TaskShort, Timestamp,
    UnlockRequestsResult, UnprocessedRequest, Webhook, WebhookDispatch, WebhookShort, timestamp,
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
        if let Some(value) = r.get("const") {
            return value.clone();
        }
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

impl<T: Unmodeled> Unmodeled for ItemList<T> {
    fn unmodeled(&self) -> Vec<String> {
        let mut out = Vec::new();
        nested(&mut out, "items", &self.items);
        out
    }
}

// What generated models are made of: containers look inside, leaves model everything.
impl<T: Unmodeled> Unmodeled for Option<T> {
    fn unmodeled(&self) -> Vec<String> {
        self.as_ref().map(T::unmodeled).unwrap_or_default()
    }
}

impl<T: Unmodeled> Unmodeled for Vec<T> {
    fn unmodeled(&self) -> Vec<String> {
        self.iter().flat_map(|i| i.unmodeled().into_iter().map(|k| format!("[]{}", joined(&k)))).collect()
    }
}

impl<T: Unmodeled> Unmodeled for BTreeMap<String, T> {
    fn unmodeled(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (key, value) in self {
            nested(&mut out, key, value);
        }
        out
    }
}

without_extra!(String, u64, i64, f64, bool, Value, Map<String, Value>, Timestamp);

impl Unmodeled for GeneralAccess {
    fn unmodeled(&self) -> Vec<String> {
        enum_value(self.as_str(), matches!(self, Self::Other(_)))
    }
}

/// `.key`, or `[]…` and `=…` as they are.
fn joined(path: &str) -> String {
    if path.starts_with(['[', '=']) { path.to_owned() } else { format!(".{path}") }
}

/// For generated models: the keys of `extra`.
fn extra_keys(extra: &Map<String, Value>) -> Vec<String> {
    extra.keys().cloned().collect()
}

/// For generated models: what a field's value did not model, under the field's name.
fn nested<T: Unmodeled>(out: &mut Vec<String>, name: &str, value: &T) {
    out.extend(value.unmodeled().into_iter().map(|p| format!("{name}{}", joined(&p))));
}

/// For open enums: a value decoded as `Other` is one the model does not know.
fn enum_value(value: &str, other: bool) -> Vec<String> {
    if other { vec![format!("={value:?} (unknown enum value)")] } else { Vec::new() }
}

/// A check of a JSON value against a model.
type Check = fn(&Value) -> Result<(), String>;

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
        return Err(format!("not modeled (kept only in `extra`, or as an `Other` value): {unmodeled:?}"));
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

// ---------------------------------------------------------------------------------------
// The generated models (everything but the storages)
// ---------------------------------------------------------------------------------------

impl Doc {
    /// What a component schema of a generated model is checked with: its documented
    /// examples, then every enum value, or each union variant (all of them, not only the
    /// first) and any other schema synthesised in the four modes.
    fn model_values(&self, name: &str, schema: &Value) -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> =
            self.schema_examples(schema).into_iter().enumerate().map(|(i, e)| (format!("documented {i}"), e)).collect();
        let r = self.resolve(schema);
        if let Some(values) = r.get("enum").and_then(Value::as_array) {
            out.extend(values.iter().filter(|v| !v.is_null()).map(|v| (format!("enum value {v}"), v.clone())));
            return out;
        }
        let union = r.get("oneOf").or_else(|| r.get("anyOf")).and_then(Value::as_array);
        let variants: Vec<&Value> = match union {
            Some(members) => members.iter().filter(|m| types(m) != ["null"]).collect(),
            None => vec![schema],
        };
        for (v, variant) in variants.iter().enumerate() {
            for mode in MODES {
                let label = if union.is_some() { format!("variant {v} {mode:?}") } else { format!("{mode:?}") };
                if self.is_object(variant) || self.resolve(variant).get("additionalProperties").is_some() {
                    let ex = self.object(variant, mode, 0).unwrap_or_else(|| json!({}));
                    // Synthesis must produce the declared required fields (else it proves nothing).
                    let mut parts = Parts::default();
                    self.parts(variant, &mut parts);
                    for req in &parts.required {
                        assert!(ex.get(req).is_some(), "{name} {label}: synthesised example lacks {req}");
                    }
                    out.push((label, ex));
                } else if let Some(ex) = self.synth(variant, mode, 0) {
                    out.push((label, ex));
                }
            }
        }
        out
    }
}

/// Every generated model against its schema: documented examples, enum values, and the
/// synthesised modes of every variant.
#[test]
fn generated_models_decode_their_schemas() {
    let doc = Doc::load();
    let mut tally = Tally::default();
    let mut synthesised = 0;
    for &(name, pointer, check) in generated::GENERATED {
        let schema = doc.0.pointer(pointer).unwrap_or_else(|| panic!("{name}: no schema at {pointer}"));
        let values = doc.model_values(name, schema);
        assert!(!values.is_empty(), "{name}: nothing to check it with");
        for (label, value) in values {
            if label.starts_with("documented") {
                tally.documented += 1;
            } else {
                synthesised += 1;
            }
            tally.record(format!("{name} ({pointer}) {label} {value}"), check(&value));
        }
    }
    tally.assert_clean();
    assert!(generated::GENERATED.len() >= FLOOR_GENERATED_MODELS, "generated models: {}", generated::GENERATED.len());
    assert!(synthesised >= generated::GENERATED.len(), "synthesised: {synthesised}");
    assert!(tally.documented >= FLOOR_GENERATED_DOCUMENTED, "documented component examples: {}", tally.documented);
}

// Observed on the v2-2026-08-05 document: 95 component schemas and 12 inline ones; the
// component schemas document few examples of their own.
const FLOOR_GENERATED_MODELS: usize = 107;
const FLOOR_GENERATED_DOCUMENTED: usize = 8;

/// How a model wraps a list of items, for the list-shaped success bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// The item itself.
    One,
    /// `PaginationResponse` & `{items: [X]}`: `ListPage<X>`.
    Page,
    /// `{total, items: [X]}` without pagination: `ItemList<X>`.
    ItemList,
    /// `[X]`: `Vec<X>`.
    Vec,
}

/// The list models the non-storage responses decode into, by item schema.
const LISTS: &[(Shape, &str, Check)] = &[
    (Shape::Page, "ActorShort", check_as::<ListPage<ActorShort>>),
    (Shape::Page, "BuildShort", check_as::<ListPage<BuildShort>>),
    (Shape::Page, "RunShort", check_as::<ListPage<RunShort>>),
    (Shape::Page, "TaskShort", check_as::<ListPage<TaskShort>>),
    (Shape::Page, "Webhook", check_as::<ListPage<Webhook>>),
    (Shape::Page, "WebhookShort", check_as::<ListPage<WebhookShort>>),
    (Shape::Page, "WebhookDispatch", check_as::<ListPage<WebhookDispatch>>),
    (Shape::Page, "ScheduleShort", check_as::<ListPage<ScheduleShort>>),
    (Shape::Page, "StoreListActor", check_as::<ListPage<StoreActor>>),
    (Shape::ItemList, "Version", check_as::<ItemList<ActorVersion>>),
    (Shape::ItemList, "EnvVar", check_as::<ItemList<EnvVar>>),
    (Shape::Vec, "ScheduleInvoked", check_as::<Vec<ScheduleInvoked>>),
];

/// Success bodies that are inline objects with properties, yet free-form to the client
/// (`{"valid": true}`: a 200 is the answer), by operation ID.
const INLINE_OBJECT_BODIES: &[&str] = &["actor_validateInput_post"];

/// What a non-storage success body decodes into.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    /// `{"data": …}`: the model of the named schema, in a shape.
    Data(Shape, String),
    /// The body is the model of the named schema (`BrowserInfoResponse`).
    Bare(String),
    /// A free-form object (task input, run-sync output, charge, openapi.json, deletes):
    /// `serde_json::Map`.
    Object,
    /// Free-form objects (run-sync dataset items): `Vec<serde_json::Map>`.
    Objects,
}

fn schema_name(schema: &Value) -> Option<&str> {
    schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
}

fn generated_check(name: &str) -> Option<Check> {
    let pointer = format!("/components/schemas/{name}");
    generated::GENERATED.iter().find(|(_, p, _)| *p == pointer).map(|&(_, _, check)| check)
}

/// Maps a success body schema to its model from the schema names in the document.
fn classify(doc: &Doc, id: &str, schema: &Value) -> Result<Body, String> {
    let mut s = schema;
    // `allOf: [X]` says X.
    while let (Some([only]), None) = (s.get("allOf").and_then(Value::as_array).map(Vec::as_slice), s.get("properties"))
    {
        s = only;
    }
    if let Some(name) = schema_name(s) {
        if generated_check(name).is_some() {
            return Ok(Body::Bare(name.to_owned()));
        }
        s = doc.resolve(s);
    }
    let props = s.get("properties").and_then(Value::as_object);
    if let Some(data) = props.filter(|p| p.len() == 1).and_then(|p| p.get("data")) {
        return data_body(doc, data);
    }
    if types(s) == ["object"] && (props.is_none() || INLINE_OBJECT_BODIES.contains(&id)) {
        return Ok(Body::Object);
    }
    if types(s) == ["array"] && s["items"].get("properties").is_none() && types(&s["items"]) == ["object"] {
        return Ok(Body::Objects);
    }
    Err(format!("no model for the body schema {s}"))
}

/// The `data` of an envelope: a model, a (paginated) list of models, or an array.
fn data_body(doc: &Doc, data: &Value) -> Result<Body, String> {
    let list = |s: &Value| -> Result<Body, String> {
        let mut parts = Parts::default();
        doc.parts(s, &mut parts);
        let items = parts.props.iter().find(|(n, _)| n == "items").map(|(_, i)| &i["items"]);
        let item = items.and_then(schema_name).ok_or_else(|| format!("a list without named items: {s}"))?;
        let pagination = doc.resolve(s).get("allOf").or_else(|| s.get("allOf")).and_then(Value::as_array);
        let paginated =
            pagination.is_some_and(|parts| parts.iter().any(|p| schema_name(p) == Some("PaginationResponse")));
        let names: BTreeSet<&str> = parts.props.iter().map(|(n, _)| n.as_str()).collect();
        if paginated {
            Ok(Body::Data(Shape::Page, item.to_owned()))
        } else if names == BTreeSet::from(["total", "items"]) {
            Ok(Body::Data(Shape::ItemList, item.to_owned()))
        } else {
            Err(format!("a list of unknown shape: {s}"))
        }
    };
    match schema_name(data) {
        Some(name) if name.starts_with("ListOf") => list(doc.resolve(data)),
        Some(name) => Ok(Body::Data(Shape::One, name.to_owned())),
        None if data.get("allOf").is_some() => list(data),
        None if types(data) == ["array"] => match schema_name(&data["items"]) {
            Some(item) => Ok(Body::Data(Shape::Vec, item.to_owned())),
            None => Err(format!("an array of unnamed items: {data}")),
        },
        None => Err(format!("an envelope of an unnamed schema: {data}")),
    }
}

/// The check for a body, and whether it is enveloped.
fn body_check(body: &Body) -> Result<(Check, bool), String> {
    match body {
        Body::Bare(name) => Ok((generated_check(name).ok_or_else(|| format!("{name} is not generated"))?, false)),
        Body::Data(Shape::One, name) => {
            Ok((generated_check(name).ok_or_else(|| format!("{name} is not generated"))?, true))
        }
        Body::Data(shape, item) => LISTS
            .iter()
            .find(|(s, i, _)| s == shape && i == item)
            .map(|&(_, _, check)| (check, true))
            .ok_or_else(|| format!("LISTS has no {shape:?} of {item}")),
        Body::Object => Ok((check_as::<Map<String, Value>>, false)),
        Body::Objects => Ok((check_as::<Vec<Map<String, Value>>>, false)),
    }
}

fn check_body(check: Check, enveloped: bool, value: &Value) -> Result<(), String> {
    if !enveloped {
        return check(value);
    }
    match value.get("data") {
        Some(inner) => check(inner),
        None => Err(format!("no `data` envelope in {value}")),
    }
}

#[test]
fn non_storage_operation_examples_decode() {
    let doc = Doc::load();
    let mut tally = Tally::default();
    let mut synthesised: BTreeMap<String, usize> = BTreeMap::new();
    let mut lists_used = BTreeSet::new();
    let mut unmapped = Vec::new();
    let paths = doc.0["paths"].as_object().expect("paths");
    for (path, item) in paths {
        if STORAGE_PATH_PARTS.iter().any(|s| path.contains(s)) {
            assert!(storage_route(path).is_some(), "{path}: a storage path the storage test does not cover");
            continue;
        }
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"].as_str().unwrap_or("?");
            for (code, resp) in op["responses"].as_object().expect("responses") {
                if !code.starts_with('2') {
                    continue;
                }
                let resp = doc.resolve(resp);
                for (media_type, media) in resp.get("content").and_then(Value::as_object).into_iter().flatten() {
                    if !is_json(media_type) {
                        // Logs are `text/plain`.
                        continue;
                    }
                    let schema = media.get("schema").cloned().unwrap_or_else(|| json!({}));
                    let body = match classify(&doc, id, &schema) {
                        Ok(body) => body,
                        Err(e) => {
                            unmapped.push(format!("{method} {path} ({id}) {code}: {e}"));
                            continue;
                        }
                    };
                    let (check, enveloped) = match body_check(&body) {
                        Ok(c) => c,
                        Err(e) => {
                            unmapped.push(format!("{method} {path} ({id}) {code}: {e}"));
                            continue;
                        }
                    };
                    if let Body::Data(shape @ (Shape::Page | Shape::ItemList | Shape::Vec), item) = &body {
                        lists_used.insert((format!("{shape:?}"), item.clone()));
                    }
                    tally.operations.insert(format!("{method} {path}"));
                    let documented = doc.media_examples(media).into_iter().chain(doc.schema_examples(&schema));
                    for (i, ex) in documented.enumerate() {
                        tally.documented += 1;
                        let source = format!("{id} {code} documented example {i} ({body:?})");
                        tally.record(source, check_body(check, enveloped, &ex));
                    }
                    if matches!(body, Body::Object | Body::Objects) {
                        // Free-form bodies: only their documented examples are meaningful.
                        continue;
                    }
                    for mode in MODES {
                        let ex = doc.synth_top(&schema, mode);
                        *synthesised.entry(format!("{body:?}")).or_default() += 1;
                        let source = format!("{id} {code} synthesised {mode:?} ({body:?}) {ex}");
                        tally.record(source, check_body(check, enveloped, &ex));
                    }
                }
            }
        }
    }
    assert!(unmapped.is_empty(), "success bodies without a model:\n{}", unmapped.join("\n"));
    tally.assert_clean();
    for &(shape, item, _) in LISTS {
        assert!(lists_used.contains(&(format!("{shape:?}"), item.to_owned())), "LISTS: {shape:?} of {item} is unused");
    }
    assert!(synthesised.values().all(|n| *n >= MODES.len()));
    assert!(
        tally.operations.len() >= FLOOR_NON_STORAGE_OPERATIONS,
        "non-storage operations with a JSON success body: {}",
        tally.operations.len()
    );
    assert!(tally.documented >= FLOOR_NON_STORAGE_DOCUMENTED, "documented examples: {}", tally.documented);
    assert!(tally.checked >= FLOOR_NON_STORAGE_CHECKED, "examples checked: {}", tally.checked);
}

/// Path parts of the storage operations (`storage_operation_examples_decode` checks them).
const STORAGE_PATH_PARTS: [&str; 6] =
    ["/datasets", "/key-value-stores", "/request-queues", "/dataset", "/key-value-store", "/request-queue"];

// Observed on the v2-2026-08-05 document; the walk must not silently find less.
const FLOOR_NON_STORAGE_OPERATIONS: usize = 96;
const FLOOR_NON_STORAGE_DOCUMENTED: usize = 39;
const FLOOR_NON_STORAGE_CHECKED: usize = 339;

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
    let op = UpdateStorage::<Datasets>::default().name("n").title("t").general_access(GeneralAccess::Restricted);
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

/// The checks of the generated models must be able to fail too: a wrong type, an unknown
/// field or enum value deep inside, and a body shape without a model are each reported.
#[test]
fn the_generated_checks_can_fail() {
    let doc = Doc::load();
    let run_check = generated_check("Run").expect("Run is generated");
    let run = doc.synth_top(doc.schema("Run"), Mode::Full);
    assert!(run_check(&run).is_ok());

    let mut bad = run.clone();
    bad["stats"]["durationMillis"] = json!("long");
    assert!(run_check(&bad).unwrap_err().contains("does not decode"));
    let mut bad = run.clone();
    bad["meta"]["newField"] = json!(1);
    assert!(run_check(&bad).unwrap_err().contains("meta.newField"));
    let mut bad = run.clone();
    bad["metamorphs"][0]["newField"] = json!(1);
    assert!(run_check(&bad).unwrap_err().contains("metamorphs[].newField"));
    let mut bad = run.clone();
    bad["status"] = json!("EXPLODED");
    let err = run_check(&bad).unwrap_err();
    assert!(err.contains("status=") && err.contains("EXPLODED") && err.contains("unknown enum value"), "{err}");
    // Keys the schema allows besides its properties are not unmodeled fields.
    let mut aliased = run.clone();
    aliased["storageIds"]["datasets"]["my-alias"] = json!("datasetId");
    assert!(run_check(&aliased).is_ok());

    let mut actor = doc.synth_top(doc.schema("Actor"), Mode::Full);
    let actor_check = generated_check("Actor").expect("Actor is generated");
    assert!(actor_check(&actor).is_ok());
    let events = actor["pricingInfos"][0]["pricingPerEvent"]["actorChargeEvents"].as_object_mut().unwrap();
    let (key, event) = events.iter_mut().next().expect("a synthesised charge event");
    event["newField"] = json!(1);
    let want = format!("pricingInfos[].pricingPerEvent.actorChargeEvents.{key}.newField");
    let err = actor_check(&actor).unwrap_err();
    assert!(err.contains(&want), "{err}");

    // Body shapes map by schema name; anything else is reported.
    let body = |schema: Value| classify(&doc, "test", &schema);
    assert_eq!(
        body(json!({"$ref": "#/components/schemas/ListOfRunsResponse"})),
        Ok(Body::Data(Shape::Page, "RunShort".into()))
    );
    assert_eq!(
        body(json!({"allOf": [{"$ref": "#/components/schemas/ListOfVersionsResponse"}]})),
        Ok(Body::Data(Shape::ItemList, "Version".into()))
    );
    assert_eq!(
        body(json!({"$ref": "#/components/schemas/BrowserInfoResponse"})),
        Ok(Body::Bare("BrowserInfoResponse".into()))
    );
    assert_eq!(body(json!({"type": "object"})), Ok(Body::Object));
    assert!(body(json!({"type": "object", "properties": {"valid": {"type": "boolean"}}})).is_err());
    assert!(body(json!({"type": "string"})).is_err());
    let unnamed = json!({"type": "object", "properties": {"data": {"type": "object"}}});
    assert!(body(unnamed).is_err());
    assert!(body_check(&Body::Data(Shape::Page, "Run".into())).is_err());
    let (check, enveloped) = body_check(&Body::Data(Shape::One, "Run".into())).unwrap();
    assert!(enveloped && check_body(check, enveloped, &run).unwrap_err().contains("no `data` envelope"));
}
