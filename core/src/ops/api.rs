//! The one shape of the non-storage operations: an [`OpSpec`] (which operation), query
//! parameters, a body, and a kind that names the operation's setters and decodes its
//! response. A resource method only picks the spec and the path:
//!
//! ```
//! use apify_core::config::Config;
//! use apify_core::ops::{Operation, api::ApiOp, kinds::ListRuns, registry};
//! use apify_core::path::ResourcePath;
//! let op = ApiOp::<ListRuns>::new(&registry::ACTORS_RUNS_GET).limit(10u64).desc(true);
//! let path = ResourcePath::resource("actors", "john/my-actor").unwrap().chained("runs");
//! let req = op.build(&Config::new(), &path).unwrap().request;
//! assert_eq!(req.uri, "https://api.apify.com/v2/actors/john~my-actor/runs?limit=10&desc=true");
//! assert_eq!(req.meta.operation_id, "actors_runs_get");
//! ```
//!
//! The request is built by non-generic code ([`ApiOp::request`]); per kind there is only the
//! decoder, so a hundred operations cost little to compile.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use http::header::HeaderName;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::registry::OpSpec;
use super::{Op, Operation};
use crate::config::Config;
use crate::error::Error;
use crate::models::{RecordValue, Timestamp};
use crate::path::{Query, ResourcePath};
use crate::request::{ApiRequest, RequestBuilder};
use crate::response::{NotFound, Response, expect_data, expect_no_content, optional_data};

/// What an operation's response becomes, and facts about its request.
pub trait OpKind: Send + 'static {
    /// The decoded result.
    type Output: Send + 'static;
    /// Whether repeating a POST of this kind cannot change the outcome.
    const IDEMPOTENT: bool = false;
    /// Decodes the final response; `nf` is the 404 rule of the client that sent it.
    fn decode(response: Response, nf: NotFound) -> Result<Self::Output, Error>;
}

/// A value a setter can put in a query string or a JSON body.
pub trait ParamValue {
    /// The query form, before form encoding.
    fn query_str(&self) -> Cow<'_, str>;
    /// The JSON form.
    fn to_json(&self) -> Value;
    /// Why the value cannot be sent (a non-finite number), if it cannot.
    fn invalid(&self) -> Option<&'static str> {
        None
    }
}

impl ParamValue for String {
    fn query_str(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
    fn to_json(&self) -> Value {
        Value::String(self.clone())
    }
}

impl ParamValue for bool {
    fn query_str(&self) -> Cow<'_, str> {
        Cow::Borrowed(if *self { "true" } else { "false" })
    }
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            fn query_str(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
            fn to_json(&self) -> Value {
                Value::from(*self)
            }
        }
    )*};
}
int_param!(u64, i64, u32);

impl ParamValue for f64 {
    fn query_str(&self) -> Cow<'_, str> {
        Cow::Owned(crate::path::encode_query_value(self))
    }
    fn to_json(&self) -> Value {
        // Whole numbers as integers (`300`, not `300.0`), as the official clients send them.
        if self.fract() == 0.0 && self.abs() < 9.0e15 {
            return Value::from(*self as i64);
        }
        serde_json::Number::from_f64(*self).map_or(Value::Null, Value::Number)
    }
    fn invalid(&self) -> Option<&'static str> {
        (!self.is_finite()).then_some("NaN and infinite numbers cannot be sent")
    }
}

/// Durations are whole seconds (`timeout`, `timeoutSecs`, `idleTimeoutSecs`).
impl ParamValue for Duration {
    fn query_str(&self) -> Cow<'_, str> {
        Cow::Owned(self.as_secs().to_string())
    }
    fn to_json(&self) -> Value {
        Value::from(self.as_secs())
    }
}

impl ParamValue for Timestamp {
    fn query_str(&self) -> Cow<'_, str> {
        Cow::Owned(crate::models::timestamp::format(self))
    }
    fn to_json(&self) -> Value {
        Value::String(crate::models::timestamp::format(self))
    }
}

impl ParamValue for Value {
    fn query_str(&self) -> Cow<'_, str> {
        match self {
            Self::String(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        }
    }
    fn to_json(&self) -> Value {
        self.clone()
    }
}

/// A list is comma-joined in a query and an array in a body.
impl<T: ParamValue> ParamValue for Vec<T> {
    fn query_str(&self) -> Cow<'_, str> {
        Cow::Owned(self.iter().map(|v| v.query_str()).collect::<Vec<_>>().join(","))
    }
    fn to_json(&self) -> Value {
        Value::Array(self.iter().map(ParamValue::to_json).collect())
    }
    fn invalid(&self) -> Option<&'static str> {
        self.iter().find_map(ParamValue::invalid)
    }
}

/// How a run start waits for free memory or a concurrent-run slot (client-behaviour §16).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WaitForResources {
    /// Fail at once (the default).
    #[default]
    No,
    /// Retry every 10 s until the run starts.
    Forever,
    /// Retry every 10 s for at most this long, then return the last error.
    For(Duration),
}

impl From<bool> for WaitForResources {
    fn from(b: bool) -> Self {
        if b { Self::Forever } else { Self::No }
    }
}

impl From<Duration> for WaitForResources {
    fn from(d: Duration) -> Self {
        Self::For(d)
    }
}

/// Options of the plans built on an operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// How long `call()` waits for the run to finish (`None`: until it finishes).
    pub wait_duration: Option<Duration>,
    /// Whether a start waits for resources.
    pub wait_for_resources: WaitForResources,
}

/// The body of an operation.
#[derive(Debug, Clone, Default)]
pub enum OpBody {
    /// No body (and no content type).
    #[default]
    None,
    /// A JSON object built by the setters (nested objects that stay empty are dropped).
    Json(Map<String, Value>),
    /// A body as given, with its content type (run inputs, encoded once).
    Raw {
        /// The bytes.
        bytes: Bytes,
        /// Its content type.
        content_type: HeaderValue,
    },
}

/// One operation call: which operation, its query and body. `K` names its setters and
/// decodes its response.
pub struct ApiOp<K> {
    spec: &'static OpSpec,
    /// Options of the plans built on the operation (`call`, `wait_for_resources`).
    pub(crate) plan: PlanOptions,
    query: Vec<(&'static str, String)>,
    body: OpBody,
    headers: Vec<(HeaderName, HeaderValue)>,
    invalid: Option<Cow<'static, str>>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for ApiOp<K> {
    fn clone(&self) -> Self {
        Self {
            spec: self.spec,
            plan: self.plan,
            query: self.query.clone(),
            body: self.body.clone(),
            headers: self.headers.clone(),
            invalid: self.invalid.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for ApiOp<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiOp")
            .field("operation", &self.spec.id)
            .field("query", &self.query)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl<K> ApiOp<K> {
    /// The operation `spec`, with no options set.
    pub fn new(spec: &'static OpSpec) -> Self {
        Self {
            spec,
            plan: PlanOptions::default(),
            query: Vec::new(),
            body: OpBody::None,
            headers: Vec::new(),
            invalid: None,
            _kind: PhantomData,
        }
    }

    /// The same options as another kind (a plan sends its operation's request as a kind
    /// that decodes it).
    pub fn cast<K2>(self) -> ApiOp<K2> {
        ApiOp {
            spec: self.spec,
            plan: self.plan,
            query: self.query,
            body: self.body,
            headers: self.headers,
            invalid: self.invalid,
            _kind: PhantomData,
        }
    }

    /// The operation sent.
    pub fn spec(&self) -> &'static OpSpec {
        self.spec
    }

    /// Sends the operation as `spec` instead (the same options at another route).
    pub fn with_spec(mut self, spec: &'static OpSpec) -> Self {
        self.spec = spec;
        self
    }

    /// The same operation sent as `GET` at the same path (run-sync's query-only variant);
    /// the body is dropped. Unchanged if the path has no `GET`.
    pub fn with_get(mut self) -> Self {
        if let Some(get) =
            super::registry::ALL.iter().find(|s| s.path == self.spec.path && s.method == http::Method::GET)
        {
            self.spec = get;
            self.body = OpBody::None;
        }
        self
    }

    /// Sets a query parameter (replacing an earlier value).
    pub fn query_param(mut self, name: &'static str, value: &impl ParamValue) -> Self {
        if let Some(reason) = value.invalid() {
            self.invalid = Some(format!("{name}: {reason}").into());
        }
        let value = value.query_str().into_owned();
        match self.query.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.query.push((name, value)),
        }
        self
    }

    /// A query parameter set so far.
    pub fn get_query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// Removes a query parameter.
    pub fn remove_query_param(mut self, name: &str) -> Self {
        self.query.retain(|(n, _)| *n != name);
        self
    }

    /// Sets a field of the JSON body from a typed value (see [`ApiOp::body_field`]).
    pub fn body_param(mut self, path: &str, value: &impl ParamValue) -> Self {
        if let Some(reason) = value.invalid() {
            self.invalid = Some(format!("{path}: {reason}").into());
        }
        self.body_field(path, value.to_json())
    }

    /// Sets a field of the JSON body; `path` is dotted (`defaultRunOptions.build`).
    pub fn body_field(mut self, path: &str, value: Value) -> Self {
        let map = match &mut self.body {
            OpBody::Json(m) => m,
            other => {
                *other = OpBody::Json(Map::new());
                let OpBody::Json(m) = other else { unreachable!("just set") };
                m
            }
        };
        let mut parts = path.split('.').peekable();
        let mut cur = map;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                cur.insert(part.to_owned(), value);
                break;
            }
            let next = cur.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !next.is_object() {
                *next = Value::Object(Map::new());
            }
            let Value::Object(m) = next else { unreachable!("just made an object") };
            cur = m;
        }
        self
    }

    /// Merges a JSON object into the body (its fields win over those set before); anything
    /// but an object is an error when the call is built.
    pub fn body_json(mut self, value: Value) -> Self {
        match value {
            Value::Object(fields) => {
                for (k, v) in fields {
                    self = self.body_field_raw(k, v);
                }
            }
            other => {
                self.invalid = Some(format!("the request body must be a JSON object, got {other}").into());
            }
        }
        self
    }

    fn body_field_raw(mut self, key: String, value: Value) -> Self {
        if !matches!(self.body, OpBody::Json(_)) {
            self.body = OpBody::Json(Map::new());
        }
        if let OpBody::Json(m) = &mut self.body {
            m.insert(key, value);
        }
        self
    }

    /// Sets the whole body to this JSON value, exactly as given (no empty objects dropped).
    pub fn json_verbatim(mut self, value: &Value) -> Self {
        match crate::json::to_vec(value) {
            Ok(bytes) => {
                self.body =
                    OpBody::Raw { bytes: bytes.into(), content_type: HeaderValue::from_static("application/json") }
            }
            Err(e) => self.invalid = Some(e.to_string().into()),
        }
        self
    }

    /// Sets the whole body with its content type (bytes as given).
    pub fn raw_body(mut self, bytes: Bytes, content_type: &str) -> Self {
        match HeaderValue::from_str(content_type) {
            Ok(ct) => self.body = OpBody::Raw { bytes, content_type: ct },
            Err(_) => self.invalid = Some(format!("invalid content type {content_type:?}").into()),
        }
        self
    }

    /// Sets the body from a value by the record rules (client-behaviour §3.2): JSON values
    /// as JSON, strings as text, bytes as bytes; `content_type` overrides.
    pub fn value_body(mut self, value: RecordValue, content_type: Option<&str>) -> Self {
        match encode_value(value, content_type) {
            Ok((bytes, ct)) => self.body = OpBody::Raw { bytes, content_type: ct },
            Err(e) => self.invalid = Some(e.to_string().into()),
        }
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name, value));
        self
    }

    /// Marks the options as unusable (reported when the call is built).
    pub fn invalid(mut self, reason: impl Into<Cow<'static, str>>) -> Self {
        self.invalid = Some(reason.into());
        self
    }

    /// The request (not generic over the kind: one copy for every operation).
    pub fn request(&self, config: &Config, target: &ResourcePath, idempotent: bool) -> Result<ApiRequest, Error> {
        if let Some(reason) = &self.invalid {
            return Err(Error::InvalidArgument(reason.clone()));
        }
        let mut q = Query::new();
        for (name, value) in &self.query {
            q.push(name, value.as_str());
        }
        let mut b = RequestBuilder::for_op(config, self.spec, target, &[]).query(q);
        if idempotent {
            b = b.idempotent();
        }
        for (name, value) in &self.headers {
            b = b.header(name.clone(), value.clone());
        }
        b = match &self.body {
            OpBody::None => b,
            OpBody::Json(m) => b.json(&drop_empty(m), "application/json")?,
            OpBody::Raw { bytes, content_type } => b.body(bytes.clone(), content_type.clone(), None),
        };
        b.build()
    }
}

/// The body without nested objects that ended up empty (client-behaviour §3.1).
fn drop_empty(m: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in m {
        match v {
            Value::Object(inner) => {
                let inner = drop_empty(inner);
                if !inner.is_empty() {
                    out.insert(k.clone(), Value::Object(inner));
                }
            }
            other => {
                out.insert(k.clone(), other.clone());
            }
        }
    }
    out
}

/// Encodes a run input or record value (client-behaviour §3.2).
pub fn encode_value(value: RecordValue, content_type: Option<&str>) -> Result<(Bytes, HeaderValue), Error> {
    let header = |ct: &str| {
        HeaderValue::from_str(ct).map_err(|_| Error::invalid_argument(format!("invalid content type {ct:?}")))
    };
    let is_json = |ct: &str| ct.to_ascii_lowercase().contains("application/json");
    match (value, content_type) {
        (RecordValue::Json(v), None) => {
            Ok((crate::json::to_vec(&v)?.into(), header("application/json; charset=utf-8")?))
        }
        (RecordValue::Json(v), Some(ct)) if is_json(ct) => Ok((crate::json::to_vec(&v)?.into(), header(ct)?)),
        (RecordValue::Json(_), Some(ct)) => Err(Error::invalid_argument(format!(
            "a JSON value cannot be sent as {ct:?}; pass bytes or a string, or a JSON content type"
        ))),
        (RecordValue::Text(t), ct) => Ok((Bytes::from(t), header(ct.unwrap_or("text/plain; charset=utf-8"))?)),
        (RecordValue::Bytes(b), ct) => Ok((b, header(ct.unwrap_or("application/octet-stream"))?)),
    }
}

impl<K: OpKind> Operation for ApiOp<K> {
    type Output = K::Output;
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<K::Output>, Error> {
        let req = self.request(config, target, K::IDEMPOTENT)?;
        let nf = NotFound::for_resource(target.resource_id());
        Ok(Op::new(req, move |r| K::decode(r, nf)))
    }
}

/// Decoders the kinds share.
pub mod decode {
    use super::*;

    /// `{"data": T}` of a 2xx.
    pub fn data<T: DeserializeOwned>(r: Response, what: &'static str) -> Result<T, Error> {
        expect_data(r, what)
    }

    /// `{"data": T}`, or `None` on a 404 of a client addressed by ID.
    pub fn opt_data<T: DeserializeOwned>(r: Response, what: &'static str, nf: NotFound) -> Result<Option<T>, Error> {
        optional_data(r, what, nf)
    }

    /// A 2xx whose body does not matter; a 404 is success for a client addressed by ID.
    pub fn gone(r: Response, nf: NotFound) -> Result<(), Error> {
        expect_no_content(r, nf)
    }

    /// A 2xx with any body.
    pub fn ok(r: Response) -> Result<(), Error> {
        r.success().map(drop)
    }

    /// A JSON body without envelope.
    pub fn json<T: DeserializeOwned>(r: Response, what: &'static str) -> Result<T, Error> {
        r.success()?.json(what)
    }

    /// The body as UTF-8 text, or `None` on a 404 of a client addressed by ID.
    pub fn opt_text(r: Response, nf: NotFound) -> Result<Option<String>, Error> {
        if r.status == http::StatusCode::NOT_FOUND && nf == NotFound::None {
            return Ok(None);
        }
        let r = r.success()?;
        String::from_utf8(r.body.to_vec()).map(Some).map_err(|e| Error::InvalidResponseBody {
            status: r.status.as_u16(),
            detail: format!("the text is not UTF-8: {e}"),
            source: None,
        })
    }

    /// The body as bytes, or `None` on a 404 of a client addressed by ID.
    pub fn opt_bytes(r: Response, nf: NotFound) -> Result<Option<Bytes>, Error> {
        if r.status == http::StatusCode::NOT_FOUND && nf == NotFound::None {
            return Ok(None);
        }
        Ok(Some(r.success()?.body))
    }

    /// The response headers of a 2xx (`HEAD`).
    pub fn head(r: Response) -> Result<http::HeaderMap, Error> {
        Ok(r.success()?.headers)
    }
}

/// Declares operation kinds: `Name: Output = decoder(args)`.
macro_rules! kinds {
    ($( $(#[$m:meta])* $name:ident $([$idem:ident])? : $out:ty = $dec:ident($($arg:tt)*); )*) => {
        $(
            $(#[$m])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl $crate::ops::api::OpKind for $name {
                type Output = $out;
                $(const IDEMPOTENT: bool = kinds!(@idem $idem);)?
                // Inline: the model's decoder is compiled where the operation is used, not
                // for every operation in the core (the core's build time stays flat).
                #[inline]
                #[allow(unused_variables)]
                fn decode(
                    r: $crate::response::Response,
                    nf: $crate::response::NotFound,
                ) -> Result<$out, $crate::error::Error> {
                    kinds!(@dec r nf $dec($($arg)*))
                }
            }
        )*
    };
    (@idem idempotent) => { true };
    (@dec $r:ident $nf:ident data($what:literal)) => { $crate::ops::api::decode::data($r, $what) };
    (@dec $r:ident $nf:ident opt_data($what:literal)) => { $crate::ops::api::decode::opt_data($r, $what, $nf) };
    (@dec $r:ident $nf:ident gone()) => { $crate::ops::api::decode::gone($r, $nf) };
    (@dec $r:ident $nf:ident ok()) => { $crate::ops::api::decode::ok($r) };
    (@dec $r:ident $nf:ident json($what:literal)) => { $crate::ops::api::decode::json($r, $what) };
    (@dec $r:ident $nf:ident opt_text()) => { $crate::ops::api::decode::opt_text($r, $nf) };
    (@dec $r:ident $nf:ident opt_bytes()) => { $crate::ops::api::decode::opt_bytes($r, $nf) };
    (@dec $r:ident $nf:ident head()) => { $crate::ops::api::decode::head($r) };
    (@dec $r:ident $nf:ident with($f:path)) => { $f($r, $nf) };
}
pub(crate) use kinds;

/// Declares setters of an operation kind, on [`ApiOp`] and on the builders that carry it,
/// each writing a query parameter (`query "name"`) or a JSON body field (`body "a.b"`).
/// A `[T]` type takes any iterable of values convertible to `T`.
macro_rules! op_setters {
    (paged $kind:ty { $($body:tt)* }) => {
        op_setters!($kind { $($body)* });
        op_setters!(@fwd [$crate::client::Paginator<Driver, $crate::ops::api::ApiOp<$kind>>] { $($body)* });
    };
    ($kind:ty { $($body:tt)* }) => {
        op_setters!(@own [$crate::ops::api::ApiOp<$kind>] { $($body)* });
        op_setters!(@fwd [$crate::client::CallBuilder<Driver, $crate::ops::api::ApiOp<$kind>>] { $($body)* });
    };
    (@own [$($ty:tt)*] { $($(#[$m:meta])* $field:ident : $t:tt => $where:ident $name:literal),* $(,)? }) => {
        impl $($ty)* {
            $(op_setters!(@one $(#[$m])* $field $t $where $name);)*
        }
    };
    (@fwd [$($ty:tt)*] { $($(#[$m:meta])* $field:ident : $t:tt => $where:ident $name:literal),* $(,)? }) => {
        impl<Driver> $($ty)* {
            $(op_setters!(@fwd_one $(#[$m])* $field $t);)*
        }
    };
    (@one $(#[$m:meta])* $field:ident [$t:ty] $where:ident $name:literal) => {
        $(#[$m])*
        pub fn $field<I, S>(self, values: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<$t>,
        {
            let values: Vec<$t> = values.into_iter().map(Into::into).collect();
            op_setters!(@set self $where $name values)
        }
    };
    (@one $(#[$m:meta])* $field:ident $t:tt $where:ident $name:literal) => {
        $(#[$m])*
        pub fn $field(self, value: impl Into<$t>) -> Self {
            let value: $t = value.into();
            op_setters!(@set self $where $name value)
        }
    };
    (@set $self:ident query $name:literal $value:ident) => {
        $self.query_param($name, &$value)
    };
    (@set $self:ident body $name:literal $value:ident) => {
        $self.body_param($name, &$value)
    };
    (@fwd_one $(#[$m:meta])* $field:ident [$t:ty]) => {
        $(#[$m])*
        pub fn $field<I, S>(self, values: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<$t>,
        {
            self.map_op(|o| o.$field(values))
        }
    };
    (@fwd_one $(#[$m:meta])* $field:ident $t:tt) => {
        $(#[$m])*
        pub fn $field(self, value: impl Into<$t>) -> Self {
            self.map_op(|o| o.$field(value))
        }
    };
}
pub(crate) use op_setters;

/// `offset`, `limit`, `desc` of a paginated listing.
macro_rules! page_setters {
    ($($kind:ty),* $(,)?) => {$(
        $crate::ops::api::op_setters!(paged $kind {
            /// Skip this many items.
            offset: u64 => query "offset",
            /// At most this many items (for iteration: in total).
            limit: u64 => query "limit",
            /// Newest first.
            desc: bool => query "desc",
        });
    )*};
}
pub(crate) use page_setters;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::registry;
    use http::header::CONTENT_TYPE;

    struct Echo;
    impl OpKind for Echo {
        type Output = ();
        fn decode(_: Response, _: NotFound) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn nested_body_fields_and_empty_objects() {
        let op = ApiOp::<Echo>::new(&registry::ACTOR_PUT)
            .body_field("title", Value::from("T"))
            .body_field("defaultRunOptions.build", Value::from("beta"))
            .body_field("defaultRunOptions.memoryMbytes", Value::from(256))
            .body_field("actorStandby.x", Value::Object(Map::new()));
        let target = ResourcePath::resource("actors", "a").unwrap();
        let req = op.request(&Config::new(), &target, false).unwrap();
        assert_eq!(
            std::str::from_utf8(&req.body).unwrap(),
            r#"{"title":"T","defaultRunOptions":{"build":"beta","memoryMbytes":256}}"#
        );
        assert_eq!(req.headers[CONTENT_TYPE], "application/json");
        assert_eq!(req.meta.operation_id, "actor_put");
        let bad = ApiOp::<Echo>::new(&registry::ACTOR_PUT).body_json(Value::from(1));
        assert!(matches!(bad.request(&Config::new(), &target, false), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn values_are_encoded_by_the_record_rules() {
        let (b, ct) = encode_value(RecordValue::Json(serde_json::json!({"a": "é"})), None).unwrap();
        assert_eq!((&b[..], ct.to_str().unwrap()), (r#"{"a":"é"}"#.as_bytes(), "application/json; charset=utf-8"));
        let (_, ct) = encode_value(RecordValue::Text("x".into()), None).unwrap();
        assert_eq!(ct, "text/plain; charset=utf-8");
        let (_, ct) = encode_value(RecordValue::Bytes(Bytes::from_static(b"\0")), None).unwrap();
        assert_eq!(ct, "application/octet-stream");
        assert!(encode_value(RecordValue::Json(Value::from(1)), Some("text/csv")).is_err());
        let (b, _) = encode_value(RecordValue::Text("{}".into()), Some("application/json")).unwrap();
        assert_eq!(&b[..], b"{}");
    }
}
