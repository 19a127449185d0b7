//! Key-value store operations (storage-methods §4).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};
use serde::Serialize;

use super::registry;
use super::{Op, Operation, setters};
use crate::config::{Config, TimeoutTier};
use crate::error::Error;
use crate::models::{KeyValueStore, ListOfKeys, Record, RecordValue};
use crate::path::{Query, ResourcePath, encode_segment};
use crate::request::{ApiRequest, RequestBuilder};
use crate::response::{NotFound, Response, expect_data, expect_no_content};

/// `GET .../keys`: one page of keys.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct ListKeys {
    pub limit: Option<u64>,
    pub exclusive_start_key: Option<String>,
    pub collection: Option<String>,
    pub prefix: Option<String>,
    pub signature: Option<String>,
    /// Set by `iterate_keys`, whose pages use the `long` tier (client-behaviour §10.2).
    pub(crate) iterating: bool,
}

setters!(paged [] ListKeys {
    /// Page size (1–1000); for iteration, the overall number of keys.
    limit: u64,
    /// Start after this key.
    exclusive_start_key: String,
    /// Only keys of this collection of the store's schema.
    collection: String,
    /// Only keys with this prefix.
    prefix: String,
    /// Signature for reading without a token.
    signature: String,
});

impl ListKeys {
    /// All keys.
    pub fn new() -> Self {
        Self::default()
    }

    fn query(&self) -> Query {
        let mut q = Query::new();
        q.opt("limit", self.limit)
            .opt("exclusiveStartKey", self.exclusive_start_key.as_ref())
            .opt("collection", self.collection.as_ref())
            .opt("prefix", self.prefix.as_ref())
            .opt("signature", self.signature.as_ref());
        q
    }
}

impl Operation for ListKeys {
    type Output = ListOfKeys;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<ListOfKeys>, Error> {
        let (name, tier) = if self.iterating {
            ("KeyValueStoreClient.iterate_keys", TimeoutTier::Long)
        } else {
            ("KeyValueStoreClient.list_keys", TimeoutTier::Medium)
        };
        let req = RequestBuilder::new(config, Method::GET, target, &["keys"], name, tier)
            .operation(&registry::KEY_VALUE_STORE_KEYS_GET)
            .query(self.query())
            .build()?;
        Ok(Op::new(req, |r| expect_data(r, "ListOfKeys")))
    }
}

/// Decodes a record body by its media type: `application/json…` → JSON,
/// `text/…` or `application/…xml` → text, anything else → bytes; a 204 is JSON `null`.
pub fn decode_record_value(status: StatusCode, content_type: Option<&str>, body: Bytes) -> Result<RecordValue, Error> {
    if status == StatusCode::NO_CONTENT {
        return Ok(RecordValue::Json(serde_json::Value::Null));
    }
    // Compared as bytes, ignoring ASCII case, rather than lowercased into a new string.
    let media = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().as_bytes();
    let starts_with = |p: &str| media.get(..p.len()).is_some_and(|m| m.eq_ignore_ascii_case(p.as_bytes()));
    let ends_with =
        |p: &str| media.len() >= p.len() && media[media.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes());
    if starts_with("application/json") {
        return serde_json::from_slice(&body).map(RecordValue::Json).map_err(|e| Error::InvalidResponseBody {
            status: status.as_u16(),
            detail: format!("record declared as JSON is not JSON: {e}"),
            source: Some(e),
        });
    }
    if starts_with("text/") || (starts_with("application/") && ends_with("xml")) {
        return Ok(match String::from_utf8(body.to_vec()) {
            Ok(s) => RecordValue::Text(s),
            // Mislabelled binary stays intact instead of failing.
            Err(_) => RecordValue::Bytes(body),
        });
    }
    Ok(RecordValue::Bytes(body))
}

/// The record key, checked and encoded as one path segment.
fn key_segment(key: &str) -> Result<String, Error> {
    encode_segment("a record key", key)
}

fn record_request(
    config: &Config,
    target: &ResourcePath,
    key: &str,
    signature: Option<&str>,
    name: &'static str,
    streamed: bool,
) -> Result<ApiRequest, Error> {
    let seg = key_segment(key)?;
    let mut q = Query::new();
    q.push("attachment", &true).opt("signature", signature);
    let mut b = RequestBuilder::new(config, Method::GET, target, &["records", &seg], name, TimeoutTier::Long)
        .operation(&registry::KEY_VALUE_STORE_RECORD_GET)
        .query(q);
    if streamed {
        b = b.streamed();
    }
    b.build()
}

fn content_type_of(r: &Response) -> Option<String> {
    r.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `GET .../records/{key}` decoded by content type; `None` on 404 (even on chained clients).
#[derive(Debug, Clone)]
pub struct GetRecord {
    /// Record key.
    pub key: String,
    /// Signature for reading without a token.
    pub signature: Option<String>,
}

impl GetRecord {
    /// The record `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self { key: key.into(), signature: None }
    }
}

setters!([] GetRecord {
    /// Signature for reading without a token.
    signature: String,
});

impl Operation for GetRecord {
    type Output = Option<Record>;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let req = record_request(
            config,
            target,
            &self.key,
            self.signature.as_deref(),
            "KeyValueStoreClient.get_record",
            false,
        )?;
        let key = self.key.clone();
        Ok(Op::new(req, move |r| {
            if r.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let r = r.success()?;
            let content_type = content_type_of(&r);
            let value = decode_record_value(r.status, content_type.as_deref(), r.body)?;
            Ok(Some(Record { key, value, content_type }))
        }))
    }
}

/// `GET .../records/{key}` as raw bytes; `None` on 404.
#[derive(Debug, Clone)]
pub struct GetRecordAsBytes {
    /// Record key.
    pub key: String,
    /// Signature for reading without a token.
    pub signature: Option<String>,
}

impl GetRecordAsBytes {
    /// The record `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Self { key: key.into(), signature: None }
    }

    /// The request, also used (streamed) by `stream_record`.
    pub fn api_request(&self, config: &Config, target: &ResourcePath, streamed: bool) -> Result<ApiRequest, Error> {
        let name =
            if streamed { "KeyValueStoreClient.stream_record" } else { "KeyValueStoreClient.get_record_as_bytes" };
        record_request(config, target, &self.key, self.signature.as_deref(), name, streamed)
    }
}

setters!(streamed [] GetRecordAsBytes {
    /// Signature for reading without a token.
    signature: String,
});

impl Operation for GetRecordAsBytes {
    type Output = Option<Record<Bytes>>;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let req = self.api_request(config, target, false)?;
        let key = self.key.clone();
        Ok(Op::new(req, move |r| {
            if r.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let r = r.success()?;
            let content_type = content_type_of(&r);
            Ok(Some(Record { key, value: r.body, content_type }))
        }))
    }
}

/// `HEAD .../records/{key}`: whether the record exists.
#[derive(Debug, Clone)]
pub struct RecordExists {
    /// Record key.
    pub key: String,
}

impl Operation for RecordExists {
    type Output = bool;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<bool>, Error> {
        let seg = key_segment(&self.key)?;
        let req = RequestBuilder::new(
            config,
            Method::HEAD,
            target,
            &["records", &seg],
            "KeyValueStoreClient.record_exists",
            TimeoutTier::Long,
        )
        .operation(&registry::KEY_VALUE_STORE_RECORD_HEAD)
        .build()?;
        Ok(Op::new(req, |r| match r.status {
            StatusCode::NOT_FOUND => Ok(false),
            _ => r.success().map(|_| true),
        }))
    }
}

/// `PUT .../records/{key}`: stores a value with its content type.
#[derive(Debug, Clone)]
pub struct SetRecord {
    key: String,
    body: Bytes,
    content_type: HeaderValue,
    content_encoding: Option<HeaderValue>,
    // What kind of value the body came from, for the content-type rules.
    source: ValueSource,
    // `POST` instead of `PUT` (the API's keyed POST variant).
    post: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueSource {
    Json,
    Text,
    Bytes,
}

fn header_value(what: &str, v: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(v).map_err(|e| Error::invalid_argument(format!("invalid {what} {v:?}: {e}")))
}

fn is_json_type(ct: &HeaderValue) -> bool {
    ct.to_str().is_ok_and(|s| s.trim().to_ascii_lowercase().starts_with("application/json"))
}

impl SetRecord {
    /// A JSON value (`application/json; charset=utf-8`); NaN and Infinity are refused.
    pub fn json<T: Serialize + ?Sized>(key: impl Into<String>, value: &T) -> Result<Self, Error> {
        Ok(Self {
            key: key.into(),
            body: crate::json::to_vec(value)?.into(),
            content_type: HeaderValue::from_static("application/json; charset=utf-8"),
            content_encoding: None,
            source: ValueSource::Json,
            post: false,
        })
    }

    /// A string (`text/plain; charset=utf-8`).
    pub fn text(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            body: Bytes::from(value.into()),
            content_type: HeaderValue::from_static("text/plain; charset=utf-8"),
            content_encoding: None,
            source: ValueSource::Text,
            post: false,
        }
    }

    /// Raw bytes (`application/octet-stream`).
    pub fn bytes(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        Self {
            key: key.into(),
            body: value.into(),
            content_type: HeaderValue::from_static("application/octet-stream"),
            content_encoding: None,
            source: ValueSource::Bytes,
            post: false,
        }
    }

    /// Stores the value under an explicit content type. A JSON value can only be stored as
    /// JSON; text and bytes are sent verbatim under any type.
    pub fn content_type(mut self, content_type: &str) -> Result<Self, Error> {
        let ct = header_value("content type", content_type)?;
        if self.source == ValueSource::Json && !is_json_type(&ct) {
            return Err(Error::invalid_argument(format!(
                "a JSON value cannot be stored as {content_type:?}; pass text or bytes instead"
            )));
        }
        self.content_type = ct;
        Ok(self)
    }

    /// Declares the body as already encoded (forwarded verbatim, never recompressed). Only
    /// for byte values.
    pub fn content_encoding(mut self, encoding: &str) -> Result<Self, Error> {
        if self.source != ValueSource::Bytes && !encoding.eq_ignore_ascii_case("identity") {
            return Err(Error::invalid_argument("a content encoding can only be declared for byte values"));
        }
        self.content_encoding = Some(header_value("content encoding", encoding)?);
        Ok(self)
    }

    /// Sends the record with `POST` (the API's keyed POST variant) instead of `PUT`.
    pub fn by_post(mut self) -> Self {
        self.post = true;
        self
    }

    /// Record key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Operation for SetRecord {
    type Output = ();
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<()>, Error> {
        let seg = key_segment(&self.key)?;
        let spec =
            if self.post { &registry::KEY_VALUE_STORE_RECORD_POST } else { &registry::KEY_VALUE_STORE_RECORD_PUT };
        let req = RequestBuilder::for_op(config, spec, target, &[&seg])
            .body(self.body.clone(), self.content_type.clone(), self.content_encoding.clone())
            .build()?;
        Ok(Op::new(req, |r| expect_no_content(r, NotFound::Error)))
    }
}

/// `PUT .../records/{key}` with a streamed body (chunked, never compressed, one attempt
/// because a stream cannot be rewound).
#[derive(Debug, Clone)]
pub struct UploadRecord {
    /// Record key.
    pub key: String,
    /// Content type of the stream.
    pub content_type: String,
}

impl UploadRecord {
    /// The request; the driver sends the stream as its body.
    pub fn request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error> {
        let seg = key_segment(&self.key)?;
        RequestBuilder::new(
            config,
            Method::PUT,
            target,
            &["records", &seg],
            "KeyValueStoreClient.set_record",
            TimeoutTier::Long,
        )
        .operation(&registry::KEY_VALUE_STORE_RECORD_PUT)
        .body(Bytes::new(), header_value("content type", &self.content_type)?, None)
        .not_replayable()
        .build()
    }
}

/// `DELETE .../records/{key}` (a 404 is an error).
#[derive(Debug, Clone)]
pub struct DeleteRecord {
    /// Record key.
    pub key: String,
}

impl Operation for DeleteRecord {
    type Output = ();
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<()>, Error> {
        let seg = key_segment(&self.key)?;
        let req = RequestBuilder::new(
            config,
            Method::DELETE,
            target,
            &["records", &seg],
            "KeyValueStoreClient.delete_record",
            TimeoutTier::Short,
        )
        .operation(&registry::KEY_VALUE_STORE_RECORD_DELETE)
        .build()?;
        Ok(Op::new(req, |r| expect_no_content(r, NotFound::Error)))
    }
}

fn public_store_url(config: &Config, store: &KeyValueStore, tail: &[&str]) -> Result<String, Error> {
    let path = ResourcePath::resource("key-value-stores", &store.id)?;
    Ok(path.url(&format!("{}/v2", config.public_base_url()), tail))
}

/// `{public}/v2/key-value-stores/{id}/records/{key}`, signed with the HMAC of the raw key
/// when the store has a signing secret.
pub fn record_public_url(config: &Config, store: &KeyValueStore, key: &str) -> Result<String, Error> {
    let seg = key_segment(key)?;
    let mut url = public_store_url(config, store, &["records", &seg])?;
    if let Some(secret) = &store.url_signing_secret_key {
        let mut q = Query::new();
        q.push("signature", &crate::signing::hmac_signature(secret, key));
        url.push('?');
        url.push_str(q.as_str());
    }
    Ok(url)
}

/// `{public}/v2/key-value-stores/{id}/keys?...`, signed when the store has a secret.
pub fn keys_public_url(
    config: &Config,
    store: &KeyValueStore,
    list: &ListKeys,
    expires_at_millis: Option<u64>,
) -> Result<String, Error> {
    let mut url = public_store_url(config, store, &["keys"])?;
    let mut q = list.query();
    if let Some(secret) = &store.url_signing_secret_key {
        q.push("signature", &crate::signing::storage_signature(&store.id, secret, expires_at_millis.unwrap_or(0)));
    }
    if !q.is_empty() {
        url.push('?');
        url.push_str(q.as_str());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_values_decode_by_media_type() {
        let ok = StatusCode::OK;
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        assert_eq!(
            decode_record_value(ok, Some("application/json; charset=utf-8"), b("[1]")).unwrap(),
            RecordValue::Json(serde_json::json!([1]))
        );
        assert_eq!(decode_record_value(ok, Some("text/csv"), b("a,b")).unwrap(), RecordValue::Text("a,b".into()));
        // Media types are case-insensitive; a non-ASCII one is simply not matched.
        assert_eq!(
            decode_record_value(ok, Some(" Application/JSON "), b("[1]")).unwrap(),
            RecordValue::Json(serde_json::json!([1]))
        );
        assert_eq!(decode_record_value(ok, Some("TEXT/Plain"), b("a")).unwrap(), RecordValue::Text("a".into()));
        assert_eq!(
            decode_record_value(ok, Some("application/RSS+XML"), b("x")).unwrap(),
            RecordValue::Text("x".into())
        );
        assert_eq!(decode_record_value(ok, Some("té/x"), b("x")).unwrap(), RecordValue::Bytes(b("x")));
        assert_eq!(
            decode_record_value(ok, Some("application/rss+xml"), b("<x/>")).unwrap(),
            RecordValue::Text("<x/>".into())
        );
        assert_eq!(decode_record_value(ok, Some("image/png"), b("\u{1}")).unwrap(), RecordValue::Bytes(b("\u{1}")));
        assert_eq!(decode_record_value(ok, None, b("x")).unwrap(), RecordValue::Bytes(b("x")));
        assert_eq!(
            decode_record_value(StatusCode::NO_CONTENT, None, Bytes::new()).unwrap(),
            RecordValue::Json(serde_json::Value::Null)
        );
        let e = decode_record_value(ok, Some("application/json"), b("{bad")).unwrap_err();
        assert!(matches!(e, Error::InvalidResponseBody { .. }), "{e:?}");
    }

    #[test]
    fn content_type_rules() {
        assert!(SetRecord::json("k", &serde_json::json!({"a": 1})).unwrap().content_type("text/plain").is_err());
        assert!(SetRecord::json("k", &1).unwrap().content_type("application/json").is_ok());
        assert!(SetRecord::text("k", "{}").content_type("application/json").is_ok());
        assert!(SetRecord::text("k", "x").content_encoding("gzip").is_err());
        assert!(SetRecord::bytes("k", vec![1u8]).content_encoding("gzip").is_ok());
        assert!(SetRecord::bytes("k", vec![1u8]).content_type("bad\ntype").is_err());
    }
}

/// `GET .../records`: every record (or a collection's, or those with a key prefix) as one
/// ZIP archive, handed over as it downloads.
#[derive(Debug, Clone, Default)]
pub struct DownloadRecords {
    /// Only records of this collection.
    pub collection: Option<String>,
    /// Only records whose key starts with this.
    pub prefix: Option<String>,
    /// Signature for reading without a token.
    pub signature: Option<String>,
}

setters!(streamed [] DownloadRecords {
    /// Only records of this collection.
    collection: String,
    /// Only records whose key starts with this.
    prefix: String,
    /// Signature for reading without a token.
    signature: String,
});

impl DownloadRecords {
    /// The request (marked as streamed).
    pub fn api_request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error> {
        let mut q = Query::new();
        q.opt("collection", self.collection.as_ref())
            .opt("prefix", self.prefix.as_ref())
            .opt("signature", self.signature.as_ref());
        RequestBuilder::for_op(config, &registry::KEY_VALUE_STORE_RECORDS_GET, target, &[]).query(q).streamed().build()
    }
}
