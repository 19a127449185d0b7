//! Fuzz bodies, shared by the cargo-fuzz targets in `fuzz/` and by the corpus replay test
//! `tests/fuzz_corpus.rs` (the rustls/str0m layout: the bodies live in the library, so they
//! build and run on stable; the targets are one-line wrappers).
//!
//! Every body checks properties, not only the absence of panics: a violated property panics
//! with a message naming it. Not part of the public API.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, DATE, LOCATION, RETRY_AFTER};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::call::{Action, Call};
use crate::config::{Config, Timeout, TimeoutTier, Timeouts};
use crate::error::{ApiErrorKind, Error, ErrorType, GiveUpReason, TransportError, TransportErrorKind};
use crate::models::{ListPage, RecordValue};
use crate::ops::dataset::items_page;
use crate::ops::key_value_store::decode_record_value;
use crate::path::ResourcePath;
use crate::request::{ApiRequest, RequestBuilder};
use crate::response::Response;
use crate::retry::{
    Decision, FailureKind, JitterMode, JitterSource, NonIdempotentRetry, Outcome, RetryBudget, RetryPolicy, RetryState,
    SeededJitter, StopReason, THROTTLE_COST, TRANSIENT_COST,
};
use crate::stats::Stats;
use crate::stream::{JsonArrayDecoder, JsonLinesDecoder, LineDecoder, StreamError};
use crate::time::Instant;

/// UTF-8 byte order mark, which the stream decoders tolerate at the start.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads control values off the front of an input. Missing bytes read as zero, so every
/// input (the empty one included) is usable.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        b
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// JSON insignificant whitespace (RFC 8259); `u8::is_ascii_whitespace` also has form feed.
fn is_json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn first_non_ws(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|&b| !is_json_ws(b))
}

/// Shows a failing input as a Rust byte-string literal, ready to paste into a test.
pub fn byte_literal(data: &[u8]) -> String {
    let escaped: String = data.iter().flat_map(|&b| std::ascii::escape_default(b)).map(char::from).collect();
    format!("b\"{escaped}\"")
}

// ------------------------------------------------------------------------------ responses

const URL: &str = "https://api.apify.com/v2/datasets/fuzz/items";

/// Response decoding: `ApiError::from_response`, the `data` envelope, `items_page` with and
/// without pagination headers, and `decode_record_value` for several content types.
///
/// Input: two bytes of status (taken as is in 100..=599, folded into it otherwise), one
/// byte `n`, `n` bytes of `name: value` header lines separated by `\n` (invalid lines are
/// skipped), then the body.
pub fn response(data: &[u8]) {
    let mut r = Reader(data);
    let status = status_from(u16::from_be_bytes([r.byte(), r.byte()]));
    let head_len = usize::from(r.byte());
    let head = r.take(head_len);
    let resp = Response {
        status,
        headers: parse_headers(head),
        body: Bytes::copy_from_slice(r.0),
        attempt: 3,
        method: Method::POST,
        url: http::Uri::from_static(URL),
    };
    // The reference every decoder is compared with.
    let json = serde_json::from_slice::<Value>(&resp.body).ok();
    check_api_error(&resp, json.as_ref());
    check_envelope(&resp, json.as_ref());
    check_items_page(&resp, json.as_ref());
    check_items_page(&Response { headers: HeaderMap::new(), ..resp.clone() }, json.as_ref());
    check_record_values(&resp, &String::from_utf8_lossy(head), json.as_ref());
}

fn status_from(v: u16) -> StatusCode {
    let v = if (100..600).contains(&v) { v } else { 100 + v % 500 };
    StatusCode::from_u16(v).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn parse_headers(head: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let name = HeaderName::from_bytes(line[..colon].trim_ascii());
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    headers
}

/// client-behaviour §7.2: the kind follows the status only.
fn expected_kind(status: u16) -> ApiErrorKind {
    match status {
        400 => ApiErrorKind::InvalidRequest,
        401 => ApiErrorKind::Unauthorized,
        403 => ApiErrorKind::Forbidden,
        404 => ApiErrorKind::NotFound,
        409 => ApiErrorKind::Conflict,
        429 => ApiErrorKind::RateLimit,
        500.. => ApiErrorKind::Server,
        _ => ApiErrorKind::Other,
    }
}

fn check_api_error(resp: &Response, json: Option<&Value>) {
    let err = resp.to_api_error();
    let Some(e) = err.api_error() else { panic!("to_api_error gave {err:?}") };
    assert_eq!((e.status, e.attempt, &e.method, e.url.as_str()), (resp.status, 3, &Method::POST, URL));
    assert_eq!(err.attempts(), Some(3));
    assert_eq!(err.is_not_found(), resp.status == StatusCode::NOT_FOUND);
    assert_eq!(resp.clone().success().is_ok(), resp.status.is_success());

    // §7.2: only an object under `error` in an object counts; its string `type` and
    // `message` and object `data` are taken as they are, anything else falls back.
    let error = json.and_then(|v| v.get("error")).and_then(Value::as_object);
    let field = |name: &str| error.and_then(|e| e.get(name));
    assert_eq!(e.error_type.as_ref().map(ErrorType::as_str), field("type").and_then(Value::as_str), "error.type");
    match field("message").and_then(Value::as_str) {
        Some(message) => assert_eq!(e.message, message, "error.message"),
        None => assert_eq!(e.message, format!("Unexpected error: {}", String::from_utf8_lossy(&resp.body))),
    }
    let empty = Map::new();
    assert_eq!(&e.data, field("data").and_then(Value::as_object).unwrap_or(&empty), "error.data");
    assert_eq!(e.kind(), expected_kind(resp.status.as_u16()));

    // A plain delta-seconds `Retry-After` is carried on the error.
    let delta = resp.headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(secs) = delta.filter(|d| d.len() <= 19 && !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) {
        assert_eq!(e.retry_after, secs.parse().ok().map(Duration::from_secs), "Retry-After {secs:?}");
    }
    let shown = e.to_string();
    let head = format!("POST {URL} answered {}", resp.status.as_u16());
    assert!(shown.starts_with(&head) && shown.ends_with(&e.message), "display: {shown}");
}

/// Counts the top-level `data` keys of an object (`Value` keeps only the last duplicate).
struct DataKeys(usize);

impl<'de> Deserialize<'de> for DataKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = DataKeys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataKeys, A::Error> {
                let mut n = 0;
                while let Some(key) = map.next_key::<String>()? {
                    n += usize::from(key == "data");
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(DataKeys(n))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

fn check_envelope(resp: &Response, json: Option<&Value>) {
    let status = resp.status.as_u16();
    match (json, resp.data::<Value>("envelope")) {
        (Some(Value::Object(o)), Ok(data)) => assert_eq!(o.get("data"), Some(&data), "envelope data"),
        (Some(v), Ok(data)) => panic!("{v} decoded as an envelope holding {data}"),
        (Some(v), Err(Error::Decode { .. })) => {
            // A wrong shape; an object with one `data` key is the right shape.
            if v.get("data").is_some() {
                let keys = serde_json::from_slice::<DataKeys>(&resp.body).map_or(0, |k| k.0);
                assert!(keys > 1, "an object with one `data` key failed to decode");
            }
        }
        (Some(v), Err(e)) => panic!("valid JSON {v} gave {e:?}; a wrong shape is a Decode error"),
        (None, Ok(data)) => panic!("a body that is not JSON decoded to {data}"),
        (None, Err(Error::InvalidResponseBody { status: s, .. })) => assert_eq!(s, status),
        (None, Err(e)) => panic!("non-JSON body gave {e:?}; expected InvalidResponseBody"),
    }
}

fn check_items_page(resp: &Response, json: Option<&Value>) {
    let page = match (json, items_page::<Value>(resp)) {
        // An array is the page; a top-level object is a one-item list (§6).
        (Some(Value::Array(a)), Ok(page)) => {
            assert_eq!(&page.items, a, "items of an array body");
            page
        }
        (Some(v @ Value::Object(_)), Ok(page)) => {
            assert_eq!(page.items.as_slice(), std::slice::from_ref(v), "a top-level object is one item");
            page
        }
        (Some(v), Ok(page)) => panic!("scalar {v} gave a page of {} items", page.items.len()),
        (Some(v @ (Value::Array(_) | Value::Object(_))), Err(e)) => panic!("{v} gave {e:?}"),
        (Some(_), Err(Error::Decode { .. })) => return,
        (Some(v), Err(e)) => panic!("scalar {v} gave {e:?}; expected Decode"),
        (None, Ok(page)) => panic!("a body that is not JSON gave {} items", page.items.len()),
        (None, Err(Error::InvalidResponseBody { status, .. })) => {
            assert_eq!(status, resp.status.as_u16());
            return;
        }
        (None, Err(e)) => panic!("non-JSON body gave {e:?}; expected InvalidResponseBody"),
    };
    check_pagination(resp, &page);
}

/// client-behaviour §9.1: the `X-Apify-Pagination-*` headers, `count = max(header, items)`.
fn check_pagination(resp: &Response, page: &ListPage<Value>) {
    let header = |name: &str| resp.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let num = |name: &str| header(name).and_then(|v| v.parse::<u64>().ok());
    let n = page.items.len() as u64;
    assert!(page.count >= n, "count {} below the {n} items returned", page.count);
    assert_eq!(page.count, num("x-apify-pagination-count").map_or(n, |c| c.max(n)), "count");
    assert_eq!(page.total, num("x-apify-pagination-total").unwrap_or(n), "total");
    assert_eq!(page.offset, num("x-apify-pagination-offset").unwrap_or(0), "offset");
    assert_eq!(page.limit, num("x-apify-pagination-limit").unwrap_or(n), "limit");
    assert_eq!(page.desc, header("x-apify-pagination-desc").is_some_and(|d| d.eq_ignore_ascii_case("true")), "desc");
    assert_eq!(page.unnamed, None);
}

fn check_record_values(resp: &Response, head: &str, json: Option<&Value>) {
    let from_header = resp.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let content_types = [
        None,
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some(" Application/JSON ;q=1"),
        Some("text/plain; charset=utf-8"),
        Some("TEXT/CSV"),
        Some("application/xml"),
        Some("application/rss+xml"),
        Some("application/xml-dtd"),
        Some("image/png"),
        Some("application/octet-stream"),
        Some(""),
        from_header,
        // Arbitrary text, as a driver could pass any header string.
        Some(head),
    ];
    let body = &resp.body;
    for status in [resp.status, StatusCode::NO_CONTENT] {
        for content_type in content_types {
            let got = decode_record_value(status, content_type, body.clone());
            // §6: 204 is none; then `^application/json` → JSON, `^text/` or
            // `^application/.*xml$` → text (bytes if not UTF-8), anything else → bytes.
            let media = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            let ctx = format!("status {status}, content type {content_type:?}");
            if status == StatusCode::NO_CONTENT {
                assert!(matches!(got, Ok(RecordValue::Json(Value::Null))), "{ctx}: {got:?}");
            } else if media.starts_with("application/json") {
                match (json, got) {
                    (Some(v), Ok(RecordValue::Json(g))) => assert_eq!(&g, v, "{ctx}"),
                    (None, Err(Error::InvalidResponseBody { status: s, .. })) => assert_eq!(s, status.as_u16()),
                    (_, got) => panic!("{ctx}: {got:?}"),
                }
            } else if media.starts_with("text/") || (media.starts_with("application/") && media.ends_with("xml")) {
                match std::str::from_utf8(body) {
                    Ok(s) => assert!(matches!(&got, Ok(RecordValue::Text(t)) if t == s), "{ctx}: {got:?}"),
                    Err(_) => assert!(matches!(&got, Ok(RecordValue::Bytes(b)) if b == body), "{ctx}: {got:?}"),
                }
            } else {
                assert!(matches!(&got, Ok(RecordValue::Bytes(b)) if b == body), "{ctx}: {got:?}");
            }
        }
    }
}

// -------------------------------------------------------------------------------- streams

/// A comparable [`StreamError`] (the real one holds a serde_json error, which is not
/// `PartialEq`; its message is deterministic, so it stands in for it).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fail {
    Malformed(u64, &'static str),
    Truncated(u64),
    TooLarge(usize),
    Utf8(u64),
    Item(u64, String),
}

impl Fail {
    fn of(e: &StreamError) -> Self {
        match e {
            StreamError::Malformed { offset, expected } => Self::Malformed(*offset, expected),
            StreamError::Truncated { offset } => Self::Truncated(*offset),
            StreamError::TooLarge { limit } => Self::TooLarge(*limit),
            StreamError::InvalidUtf8 { line } => Self::Utf8(*line),
            StreamError::Item { index, source } => Self::Item(*index, source.to_string()),
        }
    }
}

/// How many ways a split-point body cuts its input.
#[derive(Debug, Clone, Copy)]
enum Cuts {
    /// Whole, byte by byte, and in chunks whose lengths come from the control bytes `a` and
    /// `b`, so the fuzzer steers the split points: thorough, but several parses per chunk
    /// boundary per execution.
    Every,
    /// Whole and at the one point `u16(a, b) % (len + 1)` (either end included, so an empty
    /// chunk is fed too): one comparison per execution, for campaigns of many more inputs.
    One,
}

/// The input cut as `cuts` says; the first way is always the whole input.
fn splits(doc: &[u8], a: u8, b: u8, cuts: Cuts) -> Vec<Vec<&[u8]>> {
    if let Cuts::One = cuts {
        let (head, tail) = doc.split_at(usize::from(u16::from_be_bytes([a, b])) % (doc.len() + 1));
        return vec![vec![doc], vec![head, tail]];
    }
    let mut chunks = Vec::new();
    let mut rng = SeededJitter::new(u64::from(a) << 8 | u64::from(b));
    let max = u64::from(a % 64) + 1;
    let mut rest = doc;
    while !rest.is_empty() {
        let n = usize::try_from(1 + rng.next_u64() % max).unwrap_or(1).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        chunks.push(chunk);
        rest = tail;
    }
    vec![vec![doc], doc.chunks(1).collect(), chunks]
}

type ArrayRun<T> = (Vec<Result<T, Fail>>, Result<(), Fail>);

/// Feeds `chunks`, pulling with `next` after each; returns what was pulled and `finish()`.
fn run_array<T>(
    chunks: &[&[u8]],
    limit: Option<usize>,
    mut next: impl FnMut(&mut JsonArrayDecoder) -> Option<Result<T, StreamError>>,
) -> ArrayRun<T> {
    let mut d = JsonArrayDecoder::new();
    if let Some(limit) = limit {
        d = d.with_max_item_bytes(limit);
    }
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(r) = next(&mut d) {
            out.push(r.map_err(|e| Fail::of(&e)));
        }
    }
    let end = d.finish().map_err(|e| Fail::of(&e));
    // `finish` is repeatable, and every scanned item was handed out before it.
    assert_eq!(d.finish().map_err(|e| Fail::of(&e)), end, "finish changed its answer");
    let items = out.iter().filter(|r| matches!(r, Ok(_) | Err(Fail::Item(..)))).count();
    assert_eq!(d.items_seen(), items as u64, "items_seen");
    (out, end)
}

/// `JsonArrayDecoder`: the same items and errors whatever the split, and agreement with
/// `serde_json::from_slice::<Vec<Value>>` on the whole input.
///
/// Input: two split-control bytes, one byte of per-item limit (for a second run with a small
/// limit), then the document.
pub fn json_array(data: &[u8]) {
    json_array_cut(data, Cuts::Every);
}

/// [`json_array`] with one split per execution, chosen by the split-control bytes.
pub fn json_array_split(data: &[u8]) {
    json_array_cut(data, Cuts::One);
}

fn json_array_cut(data: &[u8], cuts: Cuts) {
    let mut r = Reader(data);
    let (a, b, limit) = (r.byte(), r.byte(), usize::from(r.byte()));
    let doc = r.0;
    let splits = splits(doc, a, b, cuts);

    for limit in [None, Some(limit)] {
        let raw = run_array(&splits[0], limit, JsonArrayDecoder::next_raw);
        let items = run_array(&splits[0], limit, JsonArrayDecoder::next_item::<Value>);
        for chunks in &splits[1..] {
            assert_eq!(run_array(chunks, limit, JsonArrayDecoder::next_raw), raw, "raw items depend on the split");
            let split_items = run_array(chunks, limit, JsonArrayDecoder::next_item::<Value>);
            assert_eq!(split_items, items, "items depend on the split");
        }
        check_raw_against_items(doc, &raw, &items);
    }
    let (items, end) = run_array(&splits[0], None, JsonArrayDecoder::next_item::<Value>);
    check_array_against_serde(doc, &items, &end);
}

/// `next_item` is `next_raw` plus serde_json: same events, an item error exactly where the
/// raw item does not parse.
fn check_raw_against_items(doc: &[u8], (raw, raw_end): &ArrayRun<Bytes>, (items, end): &ArrayRun<Value>) {
    assert_eq!(raw_end, end, "finish differs between next_raw and next_item");
    assert_eq!(raw.len(), items.len(), "next_raw and next_item yield different numbers of events");
    for (i, (r, item)) in raw.iter().zip(items).enumerate() {
        match (r, item) {
            (Ok(bytes), item) => {
                // Items are trimmed of surrounding whitespace.
                assert!(!bytes.is_empty() && !is_json_ws(bytes[0]) && !is_json_ws(bytes[bytes.len() - 1]));
                match (serde_json::from_slice::<Value>(bytes), item) {
                    (Ok(v), Ok(item)) => assert_eq!(&v, item),
                    (Err(e), Err(Fail::Item(index, msg))) => assert_eq!((*index, msg), (i as u64, &e.to_string())),
                    (parsed, item) => panic!("raw item {bytes:?} parses as {parsed:?} but next_item gave {item:?}"),
                }
            }
            (Err(f), Err(g)) => assert_eq!(f, g),
            (Err(f), Ok(v)) => panic!("next_raw failed with {f:?} where next_item gave {v}"),
        }
    }
    // Fatal errors poison the decoder: the last event, repeated by `finish`.
    for (i, r) in raw.iter().enumerate() {
        if let Err(f @ (Fail::Malformed(..) | Fail::TooLarge(_))) = r {
            assert_eq!(i + 1, raw.len(), "an event followed the fatal {f:?}");
            assert_eq!(end, &Err(f.clone()), "finish does not repeat the fatal error");
        }
    }
    match end {
        Err(Fail::Truncated(offset)) => assert_eq!(*offset, doc.len() as u64, "truncation offset"),
        Err(Fail::Malformed(offset, _)) => assert!(*offset < doc.len() as u64, "malformed offset past the input"),
        _ => {}
    }
}

fn check_array_against_serde(doc: &[u8], items: &[Result<Value, Fail>], end: &Result<(), Fail>) {
    let values: Option<Vec<&Value>> = items.iter().map(|r| r.as_ref().ok()).collect();
    let accepted = values.filter(|_| end.is_ok());
    // What serde_json accepts as an array, the decoder accepts, item for item.
    if let Ok(expected) = serde_json::from_slice::<Vec<Value>>(doc) {
        let Some(values) = &accepted else { panic!("serde_json accepts the array; decoder gave {items:?} {end:?}") };
        assert!(values.iter().copied().eq(&expected), "items differ from serde_json: {values:?} vs {expected:?}");
    }
    // And the converse, modulo the documented differences: a BOM is tolerated, a top-level
    // object is the single item, and items are parsed alone, one level shallower than in
    // the array, so serde_json's recursion limit may reject only the whole array.
    let Some(values) = accepted else { return };
    let body = doc.strip_prefix(BOM).unwrap_or(doc);
    if first_non_ws(body) == Some(b'{') {
        assert_eq!(values.len(), 1, "a top-level object is one item");
        let whole = serde_json::from_slice::<Value>(body);
        assert_eq!(whole.ok().as_ref(), Some(values[0]), "the top-level object");
        return;
    }
    match serde_json::from_slice::<Vec<Value>>(body) {
        Ok(expected) => assert!(values.iter().copied().eq(&expected), "items differ from serde_json"),
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {}
        Err(e) => panic!("decoder accepted {} items but serde_json rejects the array: {e}", values.len()),
    }
}

/// A line as the contract of [`LineDecoder`] defines it.
struct ModelLine<'a> {
    /// Absolute offset of its first byte.
    offset: u64,
    /// Content without the terminator.
    bytes: &'a [u8],
}

/// The lines of `doc`: split at every `\n`; a terminated line loses one `\r` before its
/// `\n`; the unterminated tail is kept as it is (a trailing `\r` included) if non-empty.
fn model_lines(doc: &[u8]) -> Vec<ModelLine<'_>> {
    let mut lines = Vec::new();
    let mut offset = 0;
    let mut parts = doc.split(|&b| b == b'\n').peekable();
    while let Some(part) = parts.next() {
        let terminated = parts.peek().is_some();
        if terminated {
            lines.push(ModelLine { offset, bytes: part.strip_suffix(b"\r").unwrap_or(part) });
        } else if !part.is_empty() {
            lines.push(ModelLine { offset, bytes: part });
        }
        offset += part.len() as u64 + 1;
    }
    lines
}

/// `doc` with every `\r\n` replaced by `\n` (exactly the `\r` right before each `\n` goes).
fn crlf_to_lf(doc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.len());
    for (i, &b) in doc.iter().enumerate() {
        if !(b == b'\r' && doc.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

/// Feeds `chunks` to a line decoder, pulling with `next` and ending with `finish`.
fn run_lines<T>(
    chunks: &[&[u8]],
    limit: Option<usize>,
    mut next: impl FnMut(&mut LineDecoder) -> Option<T>,
    finish: impl FnOnce(&mut LineDecoder) -> Option<T>,
) -> Vec<T> {
    let mut d = LineDecoder::new();
    if let Some(limit) = limit {
        d = d.with_max_line_bytes(limit);
    }
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        out.extend(std::iter::from_fn(|| next(&mut d)));
    }
    out.extend(finish(&mut d));
    // Nothing is left once finished.
    assert!(next(&mut d).is_none() && d.finish().is_ok_and(|l| l.is_none()), "lines left after finish");
    out
}

fn run_jsonl<T>(
    chunks: &[&[u8]],
    limit: Option<usize>,
    mut next: impl FnMut(&mut JsonLinesDecoder) -> Option<Result<T, StreamError>>,
) -> Vec<Result<T, Fail>> {
    let mut d = JsonLinesDecoder::new();
    if let Some(limit) = limit {
        d = d.with_max_item_bytes(limit);
    }
    let mut out = Vec::new();
    let mut drain = |d: &mut JsonLinesDecoder| {
        while let Some(r) = next(d) {
            out.push(r.map_err(|e| Fail::of(&e)));
        }
    };
    for chunk in chunks {
        d.feed(chunk);
        drain(&mut d);
    }
    d.finish();
    drain(&mut d);
    assert_eq!(d.items_seen(), out.len() as u64, "items_seen");
    out
}

/// `LineDecoder` and `JsonLinesDecoder`: results equal the line model of the contract
/// (hence are the same whatever the split), and joining the lines gives the input back.
///
/// Input: two split-control bytes, one byte of line limit (for a second run), then the text.
pub fn lines(data: &[u8]) {
    lines_cut(data, Cuts::Every);
}

/// [`lines`] with one split per execution, chosen by the split-control bytes.
pub fn lines_split(data: &[u8]) {
    lines_cut(data, Cuts::One);
}

fn lines_cut(data: &[u8], cuts: Cuts) {
    let mut r = Reader(data);
    let (a, b, limit) = (r.byte(), r.byte(), usize::from(r.byte()));
    let doc = r.0;
    let splits = splits(doc, a, b, cuts);
    let model = model_lines(doc);

    // Joined with "\n", the lines are the input with "\r\n" turned into "\n" and one final
    // "\n" dropped; their number (one per "\n", plus a non-empty unterminated tail) removes
    // the ambiguity of the empty last line.
    for chunks in &splits {
        let lines = run_lines(chunks, None, LineDecoder::next_line_bytes, |d| d.finish_bytes().transpose());
        let lines: Vec<Bytes> = lines.into_iter().collect::<Result<_, _>>().expect("no line error without a limit");
        let mut expected = crlf_to_lf(doc);
        if expected.last() == Some(&b'\n') {
            expected.pop();
        }
        assert_eq!(lines.join(&b"\n"[..]), expected, "joined lines");
        let newlines = doc.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(lines.len(), newlines + usize::from(doc.last().is_some_and(|&b| b != b'\n')), "line count");
    }

    for limit in [16 * 1024 * 1024, limit] {
        // Per line: too long (content without terminator), not UTF-8 (1-based number), or text.
        let expected: Vec<Result<String, Fail>> = (model.iter().enumerate())
            .map(|(i, line)| {
                if line.bytes.len() > limit {
                    return Err(Fail::TooLarge(limit));
                }
                String::from_utf8(line.bytes.to_vec()).map_err(|_| Fail::Utf8(i as u64 + 1))
            })
            .collect();
        let lossy: Vec<String> = (model.iter().filter(|l| l.bytes.len() <= limit))
            .map(|l| String::from_utf8_lossy(l.bytes).into_owned())
            .collect();
        for chunks in &splits {
            let got = run_lines(chunks, Some(limit), LineDecoder::next_line, |d| d.finish().transpose());
            let got: Vec<Result<String, Fail>> = got.into_iter().map(|r| r.map_err(|e| Fail::of(&e))).collect();
            assert_eq!(got, expected, "lines with limit {limit}");
            assert_eq!(run_lines(chunks, Some(limit), LineDecoder::next_line_lossy, LineDecoder::finish_lossy), lossy);
        }

        let raw = run_jsonl(&splits[0], Some(limit), JsonLinesDecoder::next_raw);
        let items = run_jsonl(&splits[0], Some(limit), JsonLinesDecoder::next_item::<Value>);
        for chunks in &splits[1..] {
            assert_eq!(run_jsonl(chunks, Some(limit), JsonLinesDecoder::next_raw), raw, "JSONL split");
            assert_eq!(run_jsonl(chunks, Some(limit), JsonLinesDecoder::next_item::<Value>), items, "JSONL split");
        }
        check_jsonl(&model, limit, &raw, &items);
    }
}

/// JSON Lines against the line model: blank lines skipped, a BOM ignored at the start, each
/// other line one value, errors counted as items and never stopping the decoder.
fn check_jsonl(model: &[ModelLine<'_>], limit: usize, raw: &[Result<Bytes, Fail>], items: &[Result<Value, Fail>]) {
    assert_eq!(raw.len(), items.len(), "next_raw and next_item yield different numbers of events");
    let mut k = 0;
    for line in model {
        if line.bytes.len() > limit {
            assert_eq!(raw.get(k), Some(&Err(Fail::TooLarge(limit))), "line at {} is too long", line.offset);
            assert_eq!(items[k], Err(Fail::TooLarge(limit)));
            k += 1;
            continue;
        }
        let mut start = 0;
        if line.offset == 0 && line.bytes.starts_with(BOM) {
            start = BOM.len();
        }
        while start < line.bytes.len() && is_json_ws(line.bytes[start]) {
            start += 1;
        }
        let mut end = line.bytes.len();
        while end > start && is_json_ws(line.bytes[end - 1]) {
            end -= 1;
        }
        if start == end {
            continue;
        }
        let value = &line.bytes[start..end];
        let (Some(r), Some(item)) = (raw.get(k), items.get(k)) else {
            panic!("line at {} was not yielded", line.offset)
        };
        match (serde_json::from_slice::<Value>(value), r) {
            // What serde_json accepts, the decoder yields as it is.
            (Ok(v), r) => {
                assert!(matches!(r, Ok(b) if b == value), "line {value:?} gave {r:?}");
                assert_eq!(item, &Ok(v));
            }
            // Scalars and strings are checked by serde_json in `next_item` only.
            (Err(e), Ok(b)) => {
                assert!(b == value, "raw value {b:?} is not the trimmed line {value:?}");
                assert_eq!(item, &Err(Fail::Item(k as u64, e.to_string())));
            }
            // Structural errors point into the line, or at its end when it is cut short.
            (Err(_), Err(Fail::Malformed(offset, _))) => {
                let range = line.offset + start as u64..=line.offset + line.bytes.len() as u64;
                assert!(range.contains(offset), "offset {offset} outside {range:?}");
                assert_eq!(item.as_ref().err(), r.as_ref().err());
            }
            (Err(_), r) => panic!("line {value:?} gave {r:?}"),
        }
        k += 1;
    }
    assert_eq!(k, raw.len(), "more JSONL events than non-blank lines");
}

// -------------------------------------------------------------------------------- retries

/// The reference instant of HTTP dates: the virtual wall clock reads this plus the monotonic
/// time (whole seconds, as HTTP dates have no fractions).
fn reference_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn wall_at(now: Instant) -> SystemTime {
    reference_time() + Duration::from_secs(now.since_origin().as_secs())
}

/// The retry setup read from the first eight bytes of a `retry` input.
#[derive(Debug)]
struct Setup {
    policy: RetryPolicy,
    post: bool,
    idempotent: bool,
    replayable: bool,
    wall: bool,
    jitter: u8,
}

impl Setup {
    fn read(r: &mut Reader<'_>) -> Self {
        let max_retries = u32::from(r.byte() % 12);
        let min_delay = Duration::from_millis(u64::from(r.byte()) * 25);
        let max_backoff = Duration::from_millis(u64::from(r.byte()) * 250);
        let max_retry_after = Duration::from_secs(u64::from(r.byte() % 128));
        let flags = r.byte();
        let deadline = Duration::from_millis(u64::from(r.byte()) * 200);
        // Small capacities, so that running out is reachable.
        let capacity = u32::from(r.byte());
        let jitter = r.byte();
        let bit = |n: u8| flags & (1 << n) != 0;
        let post = bit(7);
        Self {
            policy: RetryPolicy {
                max_retries,
                min_delay,
                max_backoff,
                max_retry_after,
                non_idempotent: if bit(0) { NonIdempotentRetry::SafeOnly } else { NonIdempotentRetry::ApifyCompat },
                transient_jitter: if bit(1) { JitterMode::Full } else { JitterMode::Apify },
                deadline: bit(2).then_some(deadline),
                budget: bit(3).then(|| RetryBudget::new(capacity)),
            },
            post,
            idempotent: !post || bit(4),
            replayable: !bit(5),
            wall: bit(6),
            jitter,
        }
    }

    /// Jitter at both edges of `[0, 1)` or from a seeded generator.
    fn jitter(&self) -> FuzzJitter {
        FuzzJitter { mode: self.jitter % 4, rng: SeededJitter::new(u64::from(self.jitter)) }
    }

    /// Whether the Call driver reports that it has no timer.
    fn no_timer(&self) -> bool {
        self.jitter & 4 != 0
    }

    fn budget(&self) -> Option<&RetryBudget> {
        self.policy.budget.as_ref()
    }
}

struct FuzzJitter {
    mode: u8,
    rng: SeededJitter,
}

impl JitterSource for FuzzJitter {
    fn next_unit(&mut self) -> f64 {
        match self.mode {
            0 => 0.0,
            // The largest value below 1.
            1 => 1.0 - f64::EPSILON / 2.0,
            _ => self.rng.next_unit(),
        }
    }
}

const STATUSES: [u16; 16] = [200, 201, 204, 400, 401, 403, 404, 408, 409, 413, 429, 500, 502, 503, 504, 599];
const KINDS: [TransportErrorKind; 9] = [
    TransportErrorKind::Connect,
    TransportErrorKind::Timeout,
    TransportErrorKind::ConnectionClosed,
    TransportErrorKind::IncompleteBody,
    TransportErrorKind::Refused,
    TransportErrorKind::Protocol,
    TransportErrorKind::Unsupported,
    TransportErrorKind::RequestBody,
    TransportErrorKind::Other,
];
/// `Retry-After` values that are no delay at all, except the last (saturates to `u64::MAX` s).
const JUNK_RETRY_AFTER: [&[u8]; 8] =
    [b"", b"soon", b"-1", b"1.5", b"0x10", b"+5", b"\xC3\xA9", b"99999999999999999999999"];
const REDIRECTS: [u16; 7] = [301, 302, 303, 307, 308, 300, 304];
const LOCATIONS: [Option<&str>; 8] = [
    Some("/v2/datasets/other/items"),
    Some("https://storage.example.com/records/x?sig=1"),
    Some("items?page=2"),
    Some("http://127.0.0.1:1/v2/datasets/ds/items"),
    Some("http://127.0.0.1:2/v2/datasets/ds/items"),
    Some("http://[::1"),
    Some("//elsewhere.example/path"),
    None,
];

/// One scripted event of a `retry` input (two bytes each).
#[derive(Debug, Clone, Copy)]
enum Step {
    Status(u16),
    Transport(TransportErrorKind),
    /// `Retry-After: <secs>` on 429, 503 (honoured) or 500, 504 (ignored).
    RetryAfterSecs {
        status: u16,
        secs: u64,
    },
    /// An HTTP-date `Retry-After` `secs` after the reference (in the past when negative);
    /// the reference is a `Date` header when `date`, else the wall clock.
    RetryAfterDate {
        status: u16,
        secs: i64,
        date: bool,
    },
    RetryAfterJunk {
        status: u16,
        junk: usize,
    },
    /// The attempt in flight takes this long before its outcome arrives.
    Elapse(Duration),
    Redirect {
        status: u16,
        location: Option<&'static str>,
    },
    /// The attempt succeeds and the following steps belong to a new call (same budget).
    NewCall,
}

impl Step {
    fn decode(tag: u8, arg: u8) -> Self {
        let i = usize::from(arg);
        match tag % 8 {
            0 => Self::Status(STATUSES[i % STATUSES.len()]),
            1 => Self::Transport(KINDS[i % KINDS.len()]),
            2 => Self::RetryAfterSecs { status: [429, 503, 500, 504][i % 4], secs: u64::from(arg >> 2) },
            3 => Self::RetryAfterDate { status: [429, 503][i % 2], date: arg & 2 != 0, secs: i64::from(arg >> 2) - 16 },
            4 => Self::RetryAfterJunk { status: [429, 503][i % 2], junk: (i >> 1) % JUNK_RETRY_AFTER.len() },
            5 => Self::Elapse(Duration::from_millis(u64::from(arg) * 100)),
            6 => Self::Redirect { status: REDIRECTS[i % REDIRECTS.len()], location: LOCATIONS[(i >> 3) % 8] },
            _ => Self::NewCall,
        }
    }
}

/// A scripted response, with the `Retry-After` floor client-behaviour §11.2 says it carries.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    retry_after: Option<Duration>,
}

impl Reply {
    /// The response of `step` (`None` for transport errors, elapses and new calls).
    fn of(step: Step, wall: Option<SystemTime>) -> Option<Self> {
        let mut headers = HeaderMap::new();
        let mut set = |name, value: &[u8]| {
            headers.insert(name, HeaderValue::from_bytes(value).expect("scripted header values are valid"));
        };
        let (status, retry_after) = match step {
            Step::Status(status) => (status, None),
            Step::RetryAfterSecs { status, secs } => {
                set(RETRY_AFTER, secs.to_string().as_bytes());
                (status, Some(Duration::from_secs(secs)))
            }
            Step::RetryAfterDate { status, secs, date } => {
                let reference = if date { Some(reference_time()) } else { wall };
                let base = reference.unwrap_or_else(reference_time);
                let d = Duration::from_secs(secs.unsigned_abs());
                let at = if secs >= 0 { base + d } else { base - d };
                set(RETRY_AFTER, httpdate::fmt_http_date(at).as_bytes());
                if date {
                    set(DATE, httpdate::fmt_http_date(base).as_bytes());
                }
                // A past date means no wait; without a reference the date cannot be read.
                (status, reference.map(|_| Duration::from_secs(secs.max(0).unsigned_abs())))
            }
            Step::RetryAfterJunk { status, junk } => {
                let value = JUNK_RETRY_AFTER[junk];
                set(RETRY_AFTER, value);
                (status, value.starts_with(b"9999").then(|| Duration::from_secs(u64::MAX)))
            }
            Step::Redirect { status, location } => {
                if let Some(location) = location {
                    set(LOCATION, location.as_bytes());
                }
                (status, None)
            }
            Step::Transport(_) | Step::Elapse(_) | Step::NewCall => return None,
        };
        // Only 429 and 503 carry a floor.
        let retry_after = retry_after.filter(|_| matches!(status, 429 | 503));
        Some(Self { status: StatusCode::from_u16(status).expect("scripted statuses are valid"), headers, retry_after })
    }

    fn to_http(&self) -> http::Response<Bytes> {
        let body = if self.status.as_u16() >= 400 {
            Bytes::from_static(br#"{"error":{"type":"fuzz","message":"scripted"}}"#)
        } else {
            Bytes::from_static(b"{}")
        };
        let mut resp = http::Response::new(body);
        *resp.status_mut() = self.status;
        *resp.headers_mut() = self.headers.clone();
        resp
    }
}

/// What §11 says about a failed outcome, independently of `retry::classify`: `None` when no
/// retry can cure it, else whether it is a 429 and whether it proves the request was not
/// processed (the only failures `SafeOnly` retries for non-idempotent operations).
fn retryable(status: Option<u16>, kind: Option<TransportErrorKind>) -> Option<(bool, bool)> {
    use TransportErrorKind as K;
    match (status, kind) {
        (Some(429), _) => Some((true, true)),
        (Some(500..), _) => Some((false, false)),
        (Some(_), _) => None,
        (None, Some(K::Connect | K::Refused)) => Some((false, true)),
        (None, Some(K::Timeout | K::ConnectionClosed | K::IncompleteBody | K::Other)) => Some((false, false)),
        (None, _) => None,
    }
}

/// Bounds of the wait before retry `attempt + 1` (§11.1, §11.2): the backoff step
/// `d = min(min_delay × 2^(attempt−1), max_backoff)`, waits in `[d, 2d]` (`[0, d]` with full
/// jitter for non-throttling failures), capped at `max_backoff`, with `Retry-After` as a floor.
fn delay_bounds(policy: &RetryPolicy, attempt: u32, throttle: bool, ra: Option<Duration>) -> (Duration, Duration) {
    let mut d = policy.min_delay;
    for _ in 1..attempt {
        d = d.saturating_mul(2);
    }
    let d = d.min(policy.max_backoff);
    let full = !throttle && policy.transient_jitter == JitterMode::Full;
    let low = if full { Duration::ZERO } else { d };
    let high = d.saturating_mul(2).min(policy.max_backoff);
    let ra = ra.unwrap_or(Duration::ZERO);
    (low.max(ra), high.max(ra))
}

/// Timeout of an attempt of a short-tier operation (§10, §11.2): `min(5 s × 2^(n−1), 360 s)`,
/// limited by what remains of the deadline.
fn expected_timeout(attempt: u32, now: Instant, deadline: Option<Instant>) -> Duration {
    let mut t = Duration::from_secs(5);
    for _ in 1..attempt {
        t = t.saturating_mul(2).min(Duration::from_secs(360));
    }
    deadline.map_or(t, |dl| t.min(dl - now))
}

fn cost(throttle: bool) -> u32 {
    if throttle { THROTTLE_COST } else { TRANSIENT_COST }
}

fn check_budget(setup: &Setup) {
    if let Some(b) = setup.budget() {
        assert!(b.remaining() <= b.capacity(), "budget {} above capacity {}", b.remaining(), b.capacity());
    }
}

/// The retry decisions: `RetryState::on_failure` driven directly, and the `Call` state
/// machine driven with a virtual clock, both through the same scripted outcomes.
///
/// Input: eight bytes of setup (max retries, min delay, max backoff, max `Retry-After`,
/// flags, deadline, budget capacity, jitter), then two-byte steps (see `Step::decode`).
pub fn retry(data: &[u8]) {
    retry_calls(data, usize::MAX);
}

/// [`retry`] stopped after the first call: the cheap variant (about ten times as many
/// executions a second), since most inputs script many calls. What only shows across calls,
/// the budget refilled by successes and the totals of the stats, is left to [`retry`].
pub fn retry_one(data: &[u8]) {
    retry_calls(data, 1);
}

fn retry_calls(data: &[u8], max_calls: usize) {
    let mut r = Reader(data);
    let setup = Setup::read(&mut r);
    let steps: Vec<Step> = r.0.chunks(2).map(|c| Step::decode(c[0], c.get(1).copied().unwrap_or(0))).collect();
    drive_retry_state(&setup, &steps, max_calls);
    // A fresh setup, so that the call driver starts with a full budget of its own.
    drive_call(&Setup::read(&mut Reader(data)), &steps, max_calls);
}

fn drive_retry_state(setup: &Setup, steps: &[Step], max_calls: usize) {
    let policy = &setup.policy;
    let timeouts = Timeouts::default();
    let mut jitter = setup.jitter();
    let mut now = Instant::ZERO;
    let mut steps = steps.iter().copied();
    let no_headers = HeaderMap::new();
    'calls: for _ in 0..max_calls {
        let mut state = RetryState::new(policy, now);
        let deadline = policy.deadline.map(|d| now + d);
        assert_eq!(state.deadline(), deadline);
        let mut spent = 0;
        loop {
            let attempt = state.start_attempt();
            assert!(attempt <= policy.max_retries + 1, "attempt {attempt} of at most {}", policy.max_retries + 1);
            let timeout = state.attempt_timeout(&timeouts, Timeout::Tier(TimeoutTier::Short), now);
            assert_eq!(timeout, Some(expected_timeout(attempt, now, deadline)), "attempt timeout");
            let step = loop {
                match steps.next() {
                    None => return,
                    Some(Step::Elapse(d)) => now = now + d,
                    Some(step) => break step,
                }
            };
            let wall = setup.wall.then(|| wall_at(now));
            let reply = Reply::of(step, wall);
            let (status, kind) = match step {
                Step::Transport(kind) => (None, Some(kind)),
                _ => (reply.as_ref().map(|r| r.status.as_u16()), None),
            };
            let outcome = match (&reply, kind) {
                (Some(r), _) => Outcome::Response { status: r.status, headers: &r.headers },
                (None, Some(kind)) => Outcome::Transport(kind),
                // A new call: this attempt succeeded.
                (None, None) => Outcome::Response { status: StatusCode::OK, headers: &no_headers },
            };
            let before = setup.budget().map(RetryBudget::remaining);
            let decision = state.on_failure(policy, &outcome, setup.idempotent, now, wall, &mut jitter);
            check_budget(setup);
            let ra = reply.as_ref().and_then(|r| r.retry_after);
            let Some((throttle, proves_unprocessed)) = retryable(status, kind) else {
                assert_eq!(decision, Decision::Stop(StopReason::NotRetryable), "{step:?} is not retryable");
                if status.is_some_and(|s| s < 400) || matches!(step, Step::NewCall) {
                    // Success refunds what this call's retries took, or adds one token.
                    state.on_success(policy);
                    if let (Some(b), Some(before)) = (setup.budget(), before) {
                        let refund = if spent > 0 { spent } else { 1 };
                        assert_eq!(b.remaining(), before.saturating_add(refund).min(b.capacity()), "refund");
                    }
                }
                continue 'calls;
            };
            let unsafe_retry = policy.non_idempotent == NonIdempotentRetry::SafeOnly && !setup.idempotent;
            if unsafe_retry && !proves_unprocessed {
                assert_eq!(decision, Decision::Stop(StopReason::UnsafeToRetry), "SafeOnly retried {step:?}");
                continue 'calls;
            }
            if attempt > policy.max_retries {
                assert_eq!(decision, Decision::Stop(StopReason::AttemptsExhausted));
                continue 'calls;
            }
            if let Some(ra) = ra.filter(|&ra| ra > policy.max_retry_after) {
                assert_eq!(decision, Decision::GiveUp(GiveUpReason::RetryAfterTooLong { retry_after: ra }));
                continue 'calls;
            }
            let (low, high) = delay_bounds(policy, attempt, throttle, ra);
            let in_bounds =
                |delay: Duration| assert!(low <= delay && delay <= high, "{delay:?} not in {low:?}..={high:?}");
            match decision {
                Decision::Retry { delay, retry_after, kind: failure } => {
                    in_bounds(delay);
                    assert_eq!(retry_after, ra, "Retry-After of {step:?}");
                    let expected_kind = if throttle {
                        FailureKind::Throttle
                    } else {
                        FailureKind::Transient { maybe_processed: !proves_unprocessed }
                    };
                    assert_eq!(failure, expected_kind);
                    if let Some(dl) = deadline {
                        assert!(now + delay < dl, "sleeping {delay:?} at {now:?} passes the deadline {dl:?}");
                    }
                    if let (Some(b), Some(before)) = (setup.budget(), before) {
                        assert_eq!(b.remaining() + cost(throttle), before, "a retry takes its cost");
                        spent += cost(throttle);
                    }
                    now = now + delay;
                }
                Decision::GiveUp(GiveUpReason::DeadlineWouldPass { delay }) => {
                    in_bounds(delay);
                    assert!(deadline.is_some_and(|dl| now + delay >= dl), "gave up with the deadline not passed");
                    assert!(ra.is_none_or(|ra| ra < delay), "a wait set by Retry-After is said apart");
                    continue 'calls;
                }
                Decision::GiveUp(GiveUpReason::RetryAfterPastDeadline { retry_after, remaining }) => {
                    assert_eq!(Some(retry_after), ra);
                    in_bounds(retry_after);
                    let dl = deadline.expect("gave up on a deadline without one");
                    assert!(
                        now + retry_after >= dl && remaining == dl.saturating_duration_since(now),
                        "{retry_after:?} {remaining:?}"
                    );
                    continue 'calls;
                }
                Decision::GiveUp(GiveUpReason::BudgetExhausted) => {
                    let before = before.expect("gave up on a budget without one");
                    assert!(before < cost(throttle), "gave up with {before} tokens left");
                    continue 'calls;
                }
                other => panic!("{step:?} at attempt {attempt} gave {other:?}"),
            }
        }
    }
}

fn request(config: &Config, setup: &Setup) -> ApiRequest {
    let path = ResourcePath::resource("datasets", "ds").expect("valid path");
    let method = if setup.post { Method::POST } else { Method::GET };
    let mut b = RequestBuilder::new(config, method, &path, &["items"], "fuzz", TimeoutTier::Short);
    if setup.post {
        b = b.raw_json(Bytes::from_static(br#"[{"a":1}]"#), "application/json");
        if setup.idempotent {
            b = b.idempotent();
        }
    }
    if !setup.replayable {
        b = b.not_replayable();
    }
    b.build().expect("valid request")
}

/// The last failure of a call, to check what follows it.
struct Failed {
    at: Instant,
    attempt: u32,
    status: Option<u16>,
    kind: Option<TransportErrorKind>,
    retry_after: Option<Duration>,
}

fn drive_call(setup: &Setup, steps: &[Step], max_calls: usize) {
    let policy = &setup.policy;
    let config = Config::new()
        .with_token("fuzz-token")
        .with_api_url("http://127.0.0.1:1")
        .expect("valid API URL")
        .with_retry_policy(policy.clone());
    let max_attempts = if setup.replayable { policy.max_retries + 1 } else { 1 };
    let unsafe_retry = policy.non_idempotent == NonIdempotentRetry::SafeOnly && !setup.idempotent;
    let stats = Arc::new(Stats::default());
    let mut jitter = setup.jitter();
    let mut steps = steps.iter().copied().peekable();
    let mut now = Instant::ZERO;
    let (mut calls, mut sends, mut retries, mut throttled) = (0, 0, 0, 0);
    loop {
        let request = request(&config, setup);
        let origin = request.uri.authority().cloned();
        let mut method = request.method.clone();
        let mut call = Call::new(request, &config, stats.clone(), now);
        calls += 1;
        let deadline = policy.deadline.map(|d| now + d);
        let mut attempt = 0;
        let mut failed: Option<Failed> = None;
        // The redirect just answered (followed if the next send keeps the attempt number).
        let mut redirect: Option<u16> = None;
        let mut last_reply: Option<u16> = None;
        let mut first_send = true;
        let mut actions = 0;
        let result = loop {
            actions += 1;
            assert!(actions < 1000, "the call does not end");
            match call.poll_action(now, &mut jitter) {
                Action::Send(a) => {
                    sends += 1;
                    if a.number == attempt {
                        let status = redirect.take().expect("the same attempt is sent again only after a redirect");
                        if status == 303 || (matches!(status, 301 | 302) && method == Method::POST) {
                            method = Method::GET;
                        }
                        assert!(
                            method != Method::GET || a.request.body().is_empty(),
                            "a GET after a redirect has a body"
                        );
                    } else {
                        assert_eq!(a.number, attempt + 1, "attempt numbers go up by one");
                        if let Some(f) = failed.take() {
                            retries += 1;
                            let (throttle, proves_unprocessed) =
                                retryable(f.status, f.kind).expect("retried a failure no retry can cure");
                            assert!(!unsafe_retry || proves_unprocessed, "SafeOnly retried a maybe-processed failure");
                            let (low, high) = delay_bounds(policy, f.attempt, throttle, f.retry_after);
                            let waited = now - f.at;
                            assert!(low <= waited && waited <= high, "waited {waited:?}, not in {low:?}..={high:?}");
                        }
                        attempt = a.number;
                    }
                    assert!(attempt <= max_attempts, "attempt {attempt} of at most {max_attempts}");
                    assert_eq!(a.request.method(), &method, "request method");
                    assert_eq!(a.timeout, Some(expected_timeout(attempt, now, deadline)), "attempt timeout");
                    // The token never goes to another host.
                    if a.request.uri().authority() != origin.as_ref() {
                        assert!(!a.request.headers().contains_key(AUTHORIZATION), "token sent to {}", a.request.uri());
                    } else if first_send {
                        assert!(a.request.headers().contains_key(AUTHORIZATION), "no token on the first send");
                    }
                    first_send = false;
                    redirect = None;
                    let step = loop {
                        match steps.next() {
                            Some(Step::Elapse(d)) => now = now + d,
                            step => break step.unwrap_or(Step::NewCall),
                        }
                    };
                    let wall = setup.wall.then(|| wall_at(now));
                    if let Step::Transport(kind) = step {
                        call.handle_transport_error(now, TransportError::msg(kind, "scripted"));
                        last_reply = None;
                        failed = Some(Failed { at: now, attempt, status: None, kind: Some(kind), retry_after: None });
                        continue;
                    }
                    let reply = Reply::of(step, wall).unwrap_or_else(|| Reply::of(Step::Status(200), None).unwrap());
                    let status = reply.status.as_u16();
                    throttled += u64::from(status == 429);
                    last_reply = Some(status);
                    if let Step::Redirect { .. } = step {
                        redirect = Some(status);
                    }
                    if status >= 400 {
                        let retry_after = reply.retry_after;
                        failed = Some(Failed { at: now, attempt, status: Some(status), kind: None, retry_after });
                    }
                    call.handle_response(now, wall, reply.to_http());
                }
                Action::WaitUntil(t) => {
                    let f = failed.as_ref().expect("a wait without a failure");
                    assert!(t > now, "a wait until {t:?} at {now:?}; zero waits retry at once");
                    assert!(deadline.is_none_or(|dl| t < dl), "sleeping until {t:?} passes the deadline");
                    // A timer firing early changes nothing.
                    let again = call.poll_action(now, &mut jitter);
                    assert!(matches!(again, Action::WaitUntil(u) if u == t), "early wake-up gave {again:?}");
                    if setup.no_timer() {
                        // The retry was decided (and counted) before the driver said it cannot wait.
                        retries += 1;
                        call.handle_no_timer();
                        match call.poll_action(now, &mut jitter) {
                            Action::Done(Err(Error::GaveUp {
                                reason: GiveUpReason::NoTimer { delay },
                                attempts,
                                ..
                            })) => {
                                assert_eq!((delay, attempts), (t - f.at, attempt), "NoTimer");
                            }
                            other => panic!("handle_no_timer gave {other:?}"),
                        }
                        break None;
                    }
                    now = t;
                }
                Action::Done(result) => break Some(result),
            }
        };
        check_budget(setup);
        if let Some(result) = result {
            check_call_result(setup, &result, attempt, max_attempts, last_reply, failed.as_ref(), now, deadline);
        }
        // A finished call only reports the contract violation.
        let after = call.poll_action(now, &mut jitter);
        assert!(matches!(after, Action::Done(Err(Error::InvalidArgument(_)))), "a finished call gave {after:?}");
        if steps.peek().is_none() || usize::try_from(calls).is_ok_and(|c| c >= max_calls) {
            break;
        }
    }
    let snap = stats.snapshot();
    assert_eq!((snap.calls, snap.requests, snap.retries), (calls, sends, retries), "stats");
    assert_eq!(snap.rate_limit_errors.iter().sum::<u64>(), throttled, "rate-limit stats");
}

#[allow(clippy::too_many_arguments)]
fn check_call_result(
    setup: &Setup,
    result: &Result<Response, Error>,
    attempt: u32,
    max_attempts: u32,
    last_reply: Option<u16>,
    failed: Option<&Failed>,
    now: Instant,
    deadline: Option<Instant>,
) {
    let policy = &setup.policy;
    let unsafe_retry = policy.non_idempotent == NonIdempotentRetry::SafeOnly && !setup.idempotent;
    // A retryable failure is returned as it is only when retries ran out or are unsafe.
    let stopped_ok = |status: Option<u16>, kind: Option<TransportErrorKind>| match retryable(status, kind) {
        None => true,
        Some((_, proves_unprocessed)) => attempt == max_attempts || (unsafe_retry && !proves_unprocessed),
    };
    match result {
        Ok(resp) => {
            assert_eq!(resp.attempt, attempt, "attempt of the final response");
            assert_eq!(Some(resp.status.as_u16()), last_reply, "the final response is the last one");
            assert!(stopped_ok(Some(resp.status.as_u16()), None), "returned {} without retrying", resp.status);
        }
        Err(Error::Transport { source, attempt: a, .. }) if source.kind() == TransportErrorKind::Redirect => {
            // Too many, a loop, a downgrade, a streamed body to resend: refused, not retried.
            assert_eq!(*a, attempt);
            assert!(matches!(last_reply, Some(301 | 302 | 303 | 307 | 308)), "a redirect error after {last_reply:?}");
        }
        Err(Error::Transport { source, attempt: a, .. }) => {
            assert_eq!(*a, attempt);
            assert_eq!(failed.and_then(|f| f.kind), Some(source.kind()));
            assert!(stopped_ok(None, Some(source.kind())), "returned {source} without retrying");
        }
        Err(Error::GaveUp { reason, attempts, last }) => {
            assert_eq!(*attempts, attempt);
            let f = failed.expect("gave up without a failure");
            assert_eq!(last.status().map(|s| s.as_u16()), f.status, "the wrapped error is the last failure");
            assert_eq!(last.transport_error().map(TransportError::kind), f.kind);
            match reason {
                GiveUpReason::DeadlineWouldPass { delay } => {
                    assert!(deadline.is_some_and(|dl| now + *delay >= dl), "gave up before the deadline");
                    let (throttle, _) = retryable(f.status, f.kind).expect("retryable");
                    let (low, high) = delay_bounds(policy, attempt, throttle, f.retry_after);
                    assert!(low <= *delay && *delay <= high, "{delay:?} not in {low:?}..={high:?}");
                }
                GiveUpReason::BudgetExhausted => {
                    let b = setup.budget().expect("gave up on a budget without one");
                    let (throttle, _) = retryable(f.status, f.kind).expect("retryable");
                    assert!(b.remaining() < cost(throttle), "gave up with {} tokens left", b.remaining());
                }
                GiveUpReason::RetryAfterTooLong { retry_after } => {
                    assert_eq!(Some(*retry_after), f.retry_after);
                    assert!(*retry_after > policy.max_retry_after);
                }
                GiveUpReason::RetryAfterPastDeadline { retry_after, remaining } => {
                    assert_eq!(Some(*retry_after), f.retry_after);
                    assert!(*retry_after >= *remaining && deadline.is_some(), "{retry_after:?} {remaining:?}");
                }
                GiveUpReason::NoTimer { .. } => panic!("NoTimer without handle_no_timer"),
            }
        }
        Err(e) => panic!("unexpected call result {e:?}"),
    }
}

/// The log splitter: any split of the input gives the messages of the whole; every message
/// is trimmed and non-empty; it has a timestamp exactly when it starts with a marker at a
/// line start; and there is one marked message per marker at a line start.
pub fn log_messages(data: &[u8]) {
    log_messages_cut(data, Cuts::Every);
}

/// [`log_messages`] with one split per execution, chosen by the split-control bytes.
pub fn log_messages_split(data: &[u8]) {
    log_messages_cut(data, Cuts::One);
}

fn log_messages_cut(data: &[u8], cuts: Cuts) {
    use crate::stream::log::{LogSplitter, split_log};
    let mut r = Reader(data);
    let (a, b) = (r.byte(), r.byte());
    let doc = r.0;
    let whole = split_log(doc);
    for chunks in splits(doc, a, b, cuts) {
        let mut s = LogSplitter::new();
        let mut got = Vec::new();
        for c in chunks {
            s.feed(c);
            got.extend(std::iter::from_fn(|| s.next_message()));
        }
        s.finish();
        got.extend(std::iter::from_fn(|| s.next_message()));
        assert_eq!(got, whole, "messages depend on the split");
    }
    let is_marker = |b: &[u8]| {
        let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
        b.len() >= 24 && shape.iter().zip(b).all(|(s, c)| if *s == b'd' { c.is_ascii_digit() } else { s == c })
    };
    let markers = (0..doc.len()).filter(|&i| (i == 0 || doc[i - 1] == b'\n') && is_marker(&doc[i..])).count();
    assert_eq!(whole.iter().filter(|m| m.timestamp.is_some()).count(), markers, "one message per marker");
    for m in &whole {
        assert!(!m.text.is_empty() && m.text.trim() == m.text, "untrimmed message {:?}", m.text);
        if let Some(ts) = &m.timestamp {
            assert!(m.text.starts_with(ts.as_str()) && is_marker(ts.as_bytes()), "timestamp {ts:?} of {:?}", m.text);
        }
    }
}

/// Run and build models from any body: decoding never panics, and what decodes is stable
/// under a serialise/decode round trip (the second serialisation equals the first: the
/// platform's millisecond timestamps, open enums and unknown fields all survive).
pub fn job_models(data: &[u8]) {
    use crate::models::{Build, Run};
    fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(data: &[u8]) {
        let resp = Response {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::copy_from_slice(data),
            attempt: 1,
            method: Method::GET,
            url: http::Uri::from_static("http://x/v2/actor-runs/r"),
        };
        let Ok(v) = crate::response::expect_data::<T>(resp, "job") else { return };
        let again = serde_json::to_vec(&v).expect("a decoded model serialises");
        let back: T = serde_json::from_slice(&again).expect("a serialised model decodes");
        let twice = serde_json::to_vec(&back).expect("a decoded model serialises");
        assert_eq!(String::from_utf8_lossy(&twice), String::from_utf8_lossy(&again), "round trip changed the model");
    }
    round_trip::<Run>(data);
    round_trip::<Build>(data);
}
