//! Resource paths: safe IDs (`user/name` → `user~name`), one-segment percent-encoding, and
//! the traversal guard (client-behaviour §5).

use std::fmt::Write as _;
use std::sync::Arc;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::Error;

/// Bytes left as they are in a path segment: `A-Z a-z 0-9 - . _ ~`.
pub(crate) const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Encodes one caller-supplied path segment. `""`, `.` and `..` are refused so that no
/// value can change which resource a path names.
pub fn encode_segment(what: &str, raw: &str) -> Result<String, Error> {
    if matches!(raw, "" | "." | "..") {
        return Err(Error::invalid_argument(format!("{what} must not be {raw:?}")));
    }
    if !needs_encoding(raw) {
        return Ok(raw.to_owned());
    }
    Ok(utf8_percent_encode(raw, SEGMENT).to_string())
}

/// Whether any byte is outside the unreserved set (most IDs, keys and names are not).
fn needs_encoding(raw: &str) -> bool {
    !raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A resource ID in the form the API accepts in a path: `username/name` becomes
/// `username~name`.
pub fn safe_id(id: &str) -> String {
    id.replace('/', "~")
}

/// Where a resource client points, below the versioned API base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    // Encoded, without leading or trailing '/': "datasets/abc", "actor-runs/r1/dataset".
    path: Arc<str>,
    // The raw ID the client was built with; `None` for chained clients and collections.
    resource_id: Option<Arc<str>>,
    // Request-queue client key, sent as `clientKey` by the operations that take it.
    client_key: Option<Arc<str>>,
    // Query parameters every request below this path sends first (a last run's `status`
    // and `origin`, inherited by its chained clients), already encoded.
    inherited: Option<Arc<str>>,
}

impl ResourcePath {
    /// The API root itself (`/v2`), for operations with no resource (`browser-info`).
    pub fn root() -> Self {
        Self { path: "".into(), resource_id: None, client_key: None, inherited: None }
    }

    /// A path of the caller's, below `/v2`: `/`-separated segments, each percent-encoded
    /// here (so pass them unencoded); a leading `/v2/` or `/` is ignored. Empty, `.` and
    /// `..` segments are refused.
    pub fn raw(path: &str) -> Result<Self, Error> {
        let path = path.trim_start_matches('/');
        let path = path.strip_prefix("v2/").unwrap_or(if path == "v2" { "" } else { path });
        let mut out = String::with_capacity(path.len());
        for seg in path.split('/').filter(|_| !path.is_empty()) {
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(&encode_segment("a path segment", seg)?);
        }
        Ok(Self { path: out.into(), resource_id: None, client_key: None, inherited: None })
    }

    /// A collection such as `datasets`.
    pub fn collection(name: &'static str) -> Self {
        Self { path: name.into(), resource_id: None, client_key: None, inherited: None }
    }

    /// A resource of `collection` addressed by ID, `username~name` or `~name`.
    pub fn resource(collection: &str, id: &str) -> Result<Self, Error> {
        let seg = encode_segment("a resource ID", &safe_id(id))?;
        Ok(Self {
            path: format!("{collection}/{seg}").into(),
            resource_id: Some(id.into()),
            client_key: None,
            inherited: None,
        })
    }

    /// A resource addressed by ID below this path, e.g. an Actor's version
    /// (`actors/a/versions/0.1`) or its last run (`actors/a/runs/last`).
    pub fn child(&self, collection: &str, id: &str) -> Result<Self, Error> {
        let seg = encode_segment("a resource ID", &safe_id(id))?;
        let mut path = String::with_capacity(self.path.len() + collection.len() + seg.len() + 2);
        path.push_str(&self.path);
        for part in [collection, &seg] {
            if !part.is_empty() {
                path.push('/');
                path.push_str(part);
            }
        }
        Ok(Self {
            path: path.into(),
            resource_id: Some(id.into()),
            client_key: self.client_key.clone(),
            inherited: self.inherited.clone(),
        })
    }

    /// Query parameters sent first by every request at or below this path (a last run's
    /// `status` and `origin` filters); chained paths inherit them.
    pub fn with_inherited_query(mut self, query: &Query) -> Self {
        self.inherited = if query.is_empty() { None } else { Some(query.as_str().into()) };
        self
    }

    /// The inherited query (encoded), if any.
    pub fn inherited_query(&self) -> Option<&str> {
        self.inherited.as_deref()
    }

    /// A fixed sub-resource without an ID of its own (e.g. a run's `dataset`). A 404 on it
    /// is ambiguous (parent or child missing), so its `get()` reports an error, not none.
    pub fn chained(&self, child: &'static str) -> Self {
        Self {
            path: format!("{}/{child}", self.path).into(),
            resource_id: None,
            client_key: self.client_key.clone(),
            inherited: self.inherited.clone(),
        }
    }

    /// The same path with a request-queue client key (1–32 characters).
    pub fn with_client_key(mut self, key: &str) -> Result<Self, Error> {
        let len = key.chars().count();
        if !(1..=32).contains(&len) {
            return Err(Error::invalid_argument(format!("a client key must have 1 to 32 characters, got {len}")));
        }
        self.client_key = Some(key.into());
        Ok(self)
    }

    /// The request-queue client key, if set.
    pub fn client_key(&self) -> Option<&str> {
        self.client_key.as_deref()
    }

    /// The raw ID this path was built with, for logs and the 404 rule.
    pub fn resource_id(&self) -> Option<&str> {
        self.resource_id.as_deref()
    }

    /// The raw ID shared, not copied (every request carries it for logs).
    pub(crate) fn shared_resource_id(&self) -> Option<Arc<str>> {
        self.resource_id.clone()
    }

    /// The encoded path below the base.
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// `{base}/{path}` followed by encoded sub-segments (constants or caller values).
    pub fn url(&self, base: &str, tail: &[&str]) -> String {
        self.url_with_room(base, tail, 0)
    }

    /// [`ResourcePath::url`] with `spare` bytes of capacity left (for a query string).
    pub(crate) fn url_with_room(&self, base: &str, tail: &[&str], spare: usize) -> String {
        let len = base.len() + 1 + self.path.len() + tail.iter().map(|s| 1 + s.len()).sum::<usize>();
        let mut url = String::with_capacity(len + spare);
        url.push_str(base);
        if !self.path.is_empty() {
            url.push('/');
            url.push_str(&self.path);
        }
        for seg in tail {
            url.push('/');
            url.push_str(seg);
        }
        url
    }
}

/// A query string under construction, form-encoded as the official clients do
/// (`quote_plus`: space → `+`, everything outside `A-Z a-z 0-9 _ . - ~` → `%XX`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(String);

/// A value that can be put in a query string.
pub trait QueryValue {
    /// Appends the value, form-encoded.
    fn write_to(&self, out: &mut String);
}

fn push_form_encoded(out: &mut String, raw: &str) {
    if !needs_encoding(raw) {
        out.push_str(raw);
        return;
    }
    for chunk in utf8_percent_encode(raw, SEGMENT) {
        out.push_str(if chunk == "%20" { "+" } else { chunk });
    }
}

impl QueryValue for str {
    fn write_to(&self, out: &mut String) {
        push_form_encoded(out, self);
    }
}
impl QueryValue for String {
    fn write_to(&self, out: &mut String) {
        push_form_encoded(out, self);
    }
}
impl<T: QueryValue + ?Sized> QueryValue for &T {
    fn write_to(&self, out: &mut String) {
        (**self).write_to(out);
    }
}
impl QueryValue for bool {
    fn write_to(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}
macro_rules! int_query_value {
    ($($t:ty),*) => {$(
        impl QueryValue for $t {
            fn write_to(&self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
int_query_value!(u8, u16, u32, u64, usize, i32, i64);

impl QueryValue for f64 {
    /// Whole numbers without a fraction (`5`, not `5.0`), as the API's integer-typed
    /// `number` parameters expect.
    fn write_to(&self, out: &mut String) {
        if self.fract() == 0.0 && self.abs() < 9.0e15 {
            let _ = write!(out, "{}", *self as i64);
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

impl QueryValue for time::OffsetDateTime {
    /// RFC 3339 with milliseconds and `Z`, as the platform writes timestamps.
    fn write_to(&self, out: &mut String) {
        push_form_encoded(out, &crate::models::timestamp::format(self));
    }
}

/// Encodes one query value on its own (for parameters stored until the request is built).
pub fn encode_query_value<V: QueryValue + ?Sized>(value: &V) -> String {
    let mut out = String::new();
    value.write_to(&mut out);
    out
}

impl QueryValue for std::time::Duration {
    /// Durations are whole seconds (`lockSecs`, `timeout`, `waitForFinish`).
    fn write_to(&self, out: &mut String) {
        let _ = write!(out, "{}", self.as_secs());
    }
}

/// A list is comma-joined, then encoded (`a,b` → `a%2Cb`).
impl<T: AsRef<str>> QueryValue for [T] {
    fn write_to(&self, out: &mut String) {
        let joined = self.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",");
        push_form_encoded(out, &joined);
    }
}
impl<T: AsRef<str>> QueryValue for Vec<T> {
    fn write_to(&self, out: &mut String) {
        self.as_slice().write_to(out);
    }
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `name=value`.
    pub fn push<V: QueryValue + ?Sized>(&mut self, name: &str, value: &V) -> &mut Self {
        if self.0.is_empty() {
            // Most queries are a few short pairs: one allocation instead of regrowing.
            self.0.reserve(64);
        } else {
            self.0.push('&');
        }
        push_form_encoded(&mut self.0, name);
        self.0.push('=');
        value.write_to(&mut self.0);
        self
    }

    /// Appends `name=value` when the value is set; unset parameters are omitted.
    pub fn opt<V: QueryValue>(&mut self, name: &str, value: Option<V>) -> &mut Self {
        if let Some(v) = value {
            self.push(name, &v);
        }
        self
    }

    /// Appends already encoded pairs (`a=1&b=2`).
    pub fn extend_encoded(&mut self, pairs: &str) -> &mut Self {
        if !pairs.is_empty() {
            if !self.0.is_empty() {
                self.0.push('&');
            }
            self.0.push_str(pairs);
        }
        self
    }

    /// Appends another query's pairs.
    pub fn extend(&mut self, other: &Self) -> &mut Self {
        if !other.0.is_empty() {
            if !self.0.is_empty() {
                self.0.push('&');
            }
            self.0.push_str(&other.0);
        }
        self
    }

    /// The encoded string, without `?`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when no parameter was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_ids() {
        let p = ResourcePath::resource("actors", "john/my actor?x").unwrap();
        assert_eq!(p.as_str(), "actors/john~my%20actor%3Fx");
        assert_eq!(p.resource_id(), Some("john/my actor?x"));
        assert_eq!(encode_segment("key", "a/b c").unwrap(), "a%2Fb%20c");
        assert_eq!(encode_segment("key", "klíč-ü").unwrap(), "kl%C3%AD%C4%8D-%C3%BC");
        assert_eq!(encode_segment("key", "~x_y.z-").unwrap(), "~x_y.z-");
        for bad in ["", ".", ".."] {
            let err = encode_segment("a record key", bad).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}");
        }
        assert!(ResourcePath::resource("datasets", "..").is_err());
        // "/" becomes "~" first, so "a/.." is one harmless segment.
        assert_eq!(ResourcePath::resource("datasets", "a/..").unwrap().as_str(), "datasets/a~..");
    }

    #[test]
    fn chained_paths_have_no_id() {
        let run = ResourcePath::resource("actor-runs", "r1").unwrap();
        let ds = run.chained("dataset");
        assert_eq!(ds.as_str(), "actor-runs/r1/dataset");
        assert_eq!(ds.resource_id(), None);
        assert_eq!(
            ds.url("https://api.apify.com/v2", &["items"]),
            "https://api.apify.com/v2/actor-runs/r1/dataset/items"
        );
    }

    #[test]
    fn query_encoding_matches_the_python_client() {
        let mut q = Query::new();
        q.push("b", &true).push("l", &["a", "b"][..]).push("d", "2024-01-02T03:04:05.000Z");
        assert_eq!(q.as_str(), "b=true&l=a%2Cb&d=2024-01-02T03%3A04%3A05.000Z");
        let mut q = Query::new();
        q.push("s", "a b/c~*").opt("x", None::<u32>).opt("n", Some(0u32)).push("e", "");
        assert_eq!(q.as_str(), "s=a+b%2Fc~%2A&n=0&e=");
        let mut q = Query::new();
        q.push("lockSecs", &std::time::Duration::from_millis(60_900));
        assert_eq!(q.as_str(), "lockSecs=60");
    }
}
