//! Requests as values: everything a driver needs to send one API call, with no I/O.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Uri};
use serde::Serialize;

use crate::codec::compress_request_body;
use crate::config::{Config, Timeout, TimeoutTier};
use crate::error::Error;
use crate::ops::registry::OpSpec;
use crate::path::{Query, ResourcePath};

/// Facts about an operation that drive retries, logging and decoding.
#[derive(Debug, Clone)]
pub struct OpMeta {
    /// The OpenAPI `operationId` of the core operation sent (an alias route sends its core
    /// operation's request below another path); `raw` for raw requests.
    pub operation_id: &'static str,
    /// Name in the official clients' terms, e.g. `DatasetClient.list_items` (logged).
    pub client_method: &'static str,
    /// ID of the resource the client was built with (logged; decides the 404 rule).
    pub resource_id: Option<Arc<str>>,
    /// Whether repeating the request cannot change the outcome (GET/HEAD/PUT/DELETE, and
    /// POSTs that deduplicate such as get-or-create and request-queue adds).
    pub idempotent: bool,
    /// Whether the response body is handed to the caller as a stream.
    pub streamed: bool,
    /// Whether the body can be sent again (a streamed upload cannot: one attempt only).
    pub replayable: bool,
    /// Whether this request keeps its own timeout when the caller overrides the call's
    /// (the polls of `call()` and `wait_for_finish` wait as long as the server holds them).
    pub own_timeout: bool,
}

/// One API call, ready to be sent any number of times (the body is shared, not copied).
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Full URL, query included (never the token).
    pub uri: Uri,
    /// The operation's own headers (content type and encoding among them); they win over
    /// [`ApiRequest::defaults`] of the same name.
    pub headers: HeaderMap,
    /// The client's headers, shared by all its requests (user agent, token, extras).
    pub defaults: Arc<HeaderMap>,
    /// Body as sent (already compressed where the rules say so).
    pub body: Bytes,
    /// Timeout of the first attempt.
    pub timeout: Timeout,
    /// Operation facts.
    pub meta: OpMeta,
}

impl ApiRequest {
    /// The request as an `http::Request` (cheap: headers are cloned, the body is shared).
    pub fn to_http(&self) -> http::Request<Bytes> {
        let mut req = http::Request::new(self.body.clone());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.all_headers();
        req
    }

    /// Every header sent: the defaults, then the operation's own (which win).
    pub fn all_headers(&self) -> HeaderMap {
        merge_headers(&self.defaults, &self.headers, |_| false)
    }
}

/// The headers of one send, made once per attempt rather than copied twice (built, then
/// sent): `defaults` unless `own` has the name, then `own`; `skip` drops names. One slot is
/// spare so that a driver adding its own header (`Accept-Encoding`) does not regrow it.
pub(crate) fn merge_headers(defaults: &HeaderMap, own: &HeaderMap, skip: impl Fn(&HeaderName) -> bool) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(defaults.len() + own.len() + 1);
    for (name, value) in defaults {
        if !skip(name) && !own.contains_key(name) {
            out.append(name.clone(), value.clone());
        }
    }
    for (name, value) in own {
        if !skip(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Builds an [`ApiRequest`]; used by every operation in [`crate::ops`].
#[derive(Debug)]
pub struct RequestBuilder<'a> {
    config: &'a Config,
    method: Method,
    // Path below the host, e.g. `/v2/datasets/abc/items` (the host is the configured one).
    path: String,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
    content_type: Option<HeaderValue>,
    compressible: bool,
    timeout: Timeout,
    meta: OpMeta,
}

impl<'a> RequestBuilder<'a> {
    /// The request of operation `spec` at `target`: its method, tail and tier, then `extra`
    /// path segments (already encoded: a record key, a request ID).
    pub fn for_op(config: &'a Config, spec: &'static OpSpec, target: &ResourcePath, extra: &[&str]) -> Self {
        // At most three tail segments and two extra ones (`requests/{id}/lock`).
        let mut tail: [&str; 6] = [""; 6];
        let mut n = 0;
        for seg in spec.tail_segments() {
            tail[n] = seg;
            n += 1;
        }
        for seg in extra.iter().take(tail.len() - n) {
            tail[n] = seg;
            n += 1;
        }
        Self::new(config, spec.method.clone(), target, &tail[..n], spec.client_method, spec.tier).operation(spec)
    }

    /// Names the operation sent (its OpenAPI `operationId`).
    pub fn operation(self, spec: &'static OpSpec) -> Self {
        self.operation_id(spec.id)
    }

    /// Names the operation sent when it has no spec (`raw`).
    pub fn operation_id(mut self, id: &'static str) -> Self {
        self.meta.operation_id = id;
        self
    }

    /// Overrides the logged client method (one operation, several methods).
    pub fn client_method(mut self, name: &'static str) -> Self {
        self.meta.client_method = name;
        self
    }

    /// Sets the timeout of the first attempt (a tier or a duration).
    pub fn timeout(mut self, timeout: Timeout) -> Self {
        self.timeout = timeout;
        self
    }

    /// Keeps this request's timeout when the caller overrides the call's.
    pub fn own_timeout(mut self) -> Self {
        self.meta.own_timeout = true;
        self
    }

    /// A request to `path` (+ `tail` segments, already encoded) of the configured API.
    pub fn new(
        config: &'a Config,
        method: Method,
        path: &ResourcePath,
        tail: &[&str],
        client_method: &'static str,
        tier: TimeoutTier,
    ) -> Self {
        let idempotent = matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS);
        Self {
            config,
            path: path.url_with_room(config.api_base_uri().path(), tail, 64),
            method,
            query: match path.inherited_query() {
                Some(q) => {
                    let mut query = Query::new();
                    query.extend_encoded(q);
                    query
                }
                None => Query::new(),
            },
            headers: HeaderMap::new(),
            body: Bytes::new(),
            content_type: None,
            compressible: true,
            timeout: Timeout::Tier(tier),
            meta: OpMeta {
                operation_id: "",
                client_method,
                resource_id: path.shared_resource_id(),
                idempotent,
                streamed: false,
                replayable: true,
                own_timeout: false,
            },
        }
    }

    /// Sets the query parameters (after any the target inherits).
    pub fn query(mut self, query: Query) -> Self {
        if self.query.is_empty() {
            self.query = query;
        } else {
            self.query.extend(&query);
        }
        self
    }

    /// Marks a POST as idempotent (it deduplicates on the server).
    pub fn idempotent(mut self) -> Self {
        self.meta.idempotent = true;
        self
    }

    /// Marks the request as one that must not be repeated blindly.
    pub fn not_idempotent(mut self) -> Self {
        self.meta.idempotent = false;
        self
    }

    /// Marks the response as streamed to the caller.
    pub fn streamed(mut self) -> Self {
        self.meta.streamed = true;
        self
    }

    /// Marks the body as sent from a stream that cannot be rewound: one attempt only.
    pub fn not_replayable(mut self) -> Self {
        self.meta.replayable = false;
        self.compressible = false;
        self
    }

    /// Adds an operation-specific header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// A compact JSON body (NaN and Infinity refused) with the given content type.
    pub fn json<T: Serialize + ?Sized>(self, value: &T, content_type: &'static str) -> Result<Self, Error> {
        let body = crate::json::to_vec(value)?;
        Ok(self.raw_json(body.into(), content_type))
    }

    /// An already serialised JSON body.
    pub fn raw_json(mut self, body: Bytes, content_type: &'static str) -> Self {
        self.body = body;
        self.content_type = Some(HeaderValue::from_static(content_type));
        self
    }

    /// A body with a caller-chosen content type and optional caller-declared encoding
    /// (forwarded verbatim, never recompressed).
    pub fn body(mut self, body: Bytes, content_type: HeaderValue, content_encoding: Option<HeaderValue>) -> Self {
        self.body = body;
        self.content_type = Some(content_type);
        if let Some(enc) = content_encoding {
            self.headers.insert(CONTENT_ENCODING, enc);
            self.compressible = false;
        }
        self
    }

    /// Sets only a content type (some endpoints require one with an empty body).
    pub fn content_type(mut self, value: &'static str) -> Self {
        self.content_type = Some(HeaderValue::from_static(value));
        self
    }

    /// Finishes the request: the content type unless the operation set its own, and the body
    /// compressed where the rules allow. The client's headers are shared, not copied.
    pub fn build(self) -> Result<ApiRequest, Error> {
        let mut path = self.path;
        if !self.query.is_empty() {
            path.push('?');
            path.push_str(self.query.as_str());
        }
        let invalid = |e: &dyn std::fmt::Display| Error::invalid_argument(format!("request URL is invalid: {e}"));
        // From the owned bytes (parsing a `&str` would copy them), below the configured
        // scheme and host, which were parsed once.
        let base = self.config.api_base_uri();
        let mut parts = http::uri::Parts::default();
        parts.scheme = base.scheme().cloned();
        parts.authority = base.authority().cloned();
        parts.path_and_query = Some(PathAndQuery::from_maybe_shared(Bytes::from(path)).map_err(|e| invalid(&e))?);
        let uri = Uri::from_parts(parts).map_err(|e| invalid(&e))?;
        let mut headers = self.headers;
        let mut body = self.body;
        if self.compressible && !headers.contains_key(CONTENT_ENCODING) {
            let ct = self.content_type.as_ref().and_then(|v| v.to_str().ok());
            if let Some((z, enc)) = compress_request_body(&body, ct, self.config.request_compression()) {
                body = z;
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static(enc));
            }
        }
        if let Some(ct) = self.content_type
            && !headers.contains_key(CONTENT_TYPE)
        {
            headers.insert(CONTENT_TYPE, ct);
        }
        let defaults = self.config.default_headers();
        Ok(ApiRequest { method: self.method, uri, headers, defaults, body, timeout: self.timeout, meta: self.meta })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TimeoutTier;

    #[test]
    fn the_token_is_shared_sent_and_never_printed() {
        let config = Config::new().with_token("secret-token-123");
        let path = ResourcePath::resource("datasets", "d").unwrap();
        let req =
            RequestBuilder::new(&config, Method::GET, &path, &["items"], "t", TimeoutTier::Short).build().unwrap();
        assert!(req.headers.is_empty(), "the client's headers are not copied into the request");
        assert_eq!(req.to_http().headers()["authorization"], "Bearer secret-token-123");
        let shown = format!("{req:?}");
        assert!(!shown.contains("secret-token-123"), "{shown}");
    }
}
