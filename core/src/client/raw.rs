//! The escape hatch: any request, through the same retries, authentication, compression
//! and decoding as the typed methods. `client.raw(Method::GET, "acts/john~x/runs")`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method};

use super::body::StreamBody;
use super::builder::{CallBuilder, StreamCall, StreamOperation};
use super::exec::ClientInner;
use crate::config::{Config, TimeoutTier};
use crate::error::Error;
use crate::ops::{Op, Operation};
use crate::path::{Query, QueryValue, ResourcePath};
use crate::request::{ApiRequest, RequestBuilder};
use crate::response::Response;

/// A request of the caller's: method, query, headers and body.
#[derive(Debug, Clone)]
pub struct RawRequest {
    method: Method,
    query: Query,
    headers: HeaderMap,
    body: Option<(Bytes, HeaderValue)>,
    tier: TimeoutTier,
    idempotent: Option<bool>,
    invalid: Option<String>,
}

impl RawRequest {
    /// A request with this method (tier `medium`, idempotent unless it is a `POST`).
    pub fn new(method: Method) -> Self {
        Self {
            method,
            query: Query::new(),
            headers: HeaderMap::new(),
            body: None,
            tier: TimeoutTier::Medium,
            idempotent: None,
            invalid: None,
        }
    }

    /// Adds a query parameter (form-encoded here).
    pub fn query<V: QueryValue + ?Sized>(mut self, name: &str, value: &V) -> Self {
        self.query.push(name, value);
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(mut v)) => {
                // Credentials never show in `Debug` output.
                if matches!(n.as_str(), "authorization" | "proxy-authorization" | "cookie" | "x-apify-workflow-key") {
                    v.set_sensitive(true);
                }
                self.headers.append(n, v);
            }
            _ => self.invalid = Some(format!("invalid header {name:?}")),
        }
        self
    }

    /// A JSON body (compact; NaN refused).
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match crate::json::to_vec(value) {
            Ok(b) => self.body = Some((b.into(), HeaderValue::from_static("application/json"))),
            Err(e) => self.invalid = Some(e.to_string()),
        }
        self
    }

    /// A body with its content type.
    pub fn body(mut self, body: impl Into<Bytes>, content_type: &str) -> Self {
        match HeaderValue::try_from(content_type) {
            Ok(ct) => self.body = Some((body.into(), ct)),
            Err(_) => self.invalid = Some(format!("invalid content type {content_type:?}")),
        }
        self
    }

    /// The timeout tier (default `medium`).
    pub fn tier(mut self, tier: TimeoutTier) -> Self {
        self.tier = tier;
        self
    }

    /// Whether repeating the request is safe (decides retries of non-idempotent requests
    /// under `NonIdempotentRetry::SafeOnly`).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    fn api_request(&self, config: &Config, target: &ResourcePath, streamed: bool) -> Result<ApiRequest, Error> {
        if let Some(reason) = &self.invalid {
            return Err(Error::invalid_argument(reason.clone()));
        }
        let mut b = RequestBuilder::new(config, self.method.clone(), target, &[], "ApifyClient.raw", self.tier)
            .query(self.query.clone())
            .operation_id("raw");
        if self.idempotent.unwrap_or(self.method != Method::POST && self.method != Method::PATCH) {
            b = b.idempotent();
        } else {
            b = b.not_idempotent();
        }
        for (name, value) in &self.headers {
            b = b.header(name.clone(), value.clone());
        }
        if let Some((body, ct)) = &self.body {
            b = b.body(body.clone(), ct.clone(), None);
        }
        if streamed {
            b = b.streamed();
        }
        b.build()
    }
}

impl Operation for RawRequest {
    type Output = Response;
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Response>, Error> {
        Ok(Op::new(self.api_request(config, target, false)?, Response::success))
    }
}

impl StreamOperation for RawRequest {
    type Output<B: StreamBody> = (Response, B);
    fn request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error> {
        self.api_request(config, target, true)
    }
    fn output<B: StreamBody>(self, head: Response, body: Option<B>) -> Result<(Response, B), Error> {
        match body {
            Some(b) if head.is_success() => Ok((head, b)),
            _ => Err(head.to_api_error()),
        }
    }
}

/// `client.raw(method, path)`: `.await`/`.send()` gives the whole response (an API error
/// for a non-2xx answer); `.stream()` hands the body over as it arrives.
pub type RawCall<D> = CallBuilder<D, RawRequest>;

/// `client.raw(..).stream()`: the head, and the body as a stream or reader.
pub type RawStreamCall<D> = StreamCall<D, RawRequest>;

impl<D> CallBuilder<D, RawRequest> {
    pub(crate) fn new_raw(inner: Arc<ClientInner<D>>, method: Method, path: &str) -> Self {
        let parts = ResourcePath::raw(path).map(|p| (p, RawRequest::new(method)));
        Self::new(inner, parts)
    }

    /// Adds a query parameter.
    pub fn query<V: QueryValue + ?Sized>(self, name: &str, value: &V) -> Self {
        self.map_op(|r| r.query(name, value))
    }

    /// Adds a header.
    pub fn header(self, name: &str, value: &str) -> Self {
        self.map_op(|r| r.header(name, value))
    }

    /// A JSON body.
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        self.map_op(|r| r.json(value))
    }

    /// A body with its content type.
    pub fn body(self, body: impl Into<Bytes>, content_type: &str) -> Self {
        self.map_op(|r| r.body(body, content_type))
    }

    /// The timeout tier.
    pub fn tier(self, tier: TimeoutTier) -> Self {
        self.map_op(|r| r.tier(tier))
    }

    /// Whether repeating the request is safe.
    pub fn idempotent(self, idempotent: bool) -> Self {
        self.map_op(|r| r.idempotent(idempotent))
    }

    /// The body as it arrives instead of whole.
    pub fn stream(self) -> RawStreamCall<D> {
        StreamCall::new(self)
    }
}
