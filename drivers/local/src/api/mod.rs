//! The storage part of the Apify API v2, answered from a local storage folder with the
//! platform's JSON shapes, status codes and error bodies. Used in-process by
//! [`LocalClient`](crate::LocalClient) and over HTTP by the emulator.

mod collections;
mod datasets;
mod key_value_stores;
mod objects;
mod request_queues;

use std::collections::HashMap;
use std::sync::Arc;

use apify_core::codec::ContentDecoder;
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::error::StorageError;
use crate::storage::{Kind, Storages, Target};

/// Largest request body the platform accepts.
pub const MAX_BODY_BYTES: usize = 9_437_184;

/// What the emulator says about itself in storage objects.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Required `Authorization: Bearer` token; `None` accepts any request.
    pub token: Option<String>,
    /// `userId` of every storage (`APIFY_USER_ID`, default `local`).
    pub user_id: String,
    /// `username` of every storage.
    pub username: String,
    /// Base of `consoleUrl` (`{console_base}/storage/datasets/{id}`).
    pub console_base: String,
    /// Base of public URLs in storage objects (`{public_base}/v2/...`); empty: the URL the
    /// emulator serves at.
    pub public_base: String,
    /// Enforce the platform's record-key pattern `^[a-zA-Z0-9!\-_.'()]{1,256}$` (the
    /// emulator does, so code tested locally fails as on the platform). Off, any key that
    /// makes a safe file name is accepted, as the Python SDK's local storage does.
    pub strict_record_keys: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            token: None,
            user_id: "local".into(),
            username: "local".into(),
            console_base: "https://console.apify.com".into(),
            public_base: "https://api.apify.com".into(),
            strict_record_keys: true,
        }
    }
}

/// An API error as the platform sends it: status plus `{"error": {"type", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiFailure {
    pub(crate) status: StatusCode,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl ApiFailure {
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self { status, kind, message: message.into() }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-request", message)
    }

    pub(crate) fn invalid_key(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-record-key", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "record-not-found", message)
    }

    pub(crate) fn into_response(self) -> Response<Bytes> {
        let body = json!({"error": {"type": self.kind, "message": self.message}});
        json_response(self.status, &body)
    }
}

impl From<StorageError> for ApiFailure {
    fn from(e: StorageError) -> Self {
        let msg = e.to_string();
        match e {
            StorageError::NotFound { .. } | StorageError::ItemNotFound(_) => Self::not_found(msg),
            StorageError::InvalidName(_) => Self::new(StatusCode::BAD_REQUEST, "invalid-parameter", msg),
            StorageError::InvalidArgument(_) => Self::bad_request(msg),
            // The lock endpoints declare 403 (not 409) for a lock held by someone else.
            StorageError::Locked(_) => Self::new(StatusCode::FORBIDDEN, "request-handled-or-locked", msg),
            StorageError::Collision { .. } => Self::new(StatusCode::CONFLICT, "request-queue-duplicate-requests", msg),
            StorageError::InUse(_) => Self::new(StatusCode::CONFLICT, "storage-in-use", msg),
            // Two input files for one key: the folder needs a person, a retry cannot help.
            StorageError::InputConflict(_) => Self::new(StatusCode::CONFLICT, "record-key-conflict", msg),
            _ => {
                tracing::error!(error = %msg, "local storage failure");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal-server-error", msg)
            }
        }
    }
}

pub(crate) type ApiResult<T = Response<Bytes>> = Result<T, ApiFailure>;

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(serde_json::to_vec(body).unwrap_or_default()));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

/// `{"data": ...}` with a status.
pub(crate) fn data(status: StatusCode, value: Value) -> Response<Bytes> {
    json_response(status, &json!({ "data": value }))
}

pub(crate) fn no_content() -> Response<Bytes> {
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// Query parameters of a request.
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    pub(crate) fn parse(q: Option<&str>) -> Self {
        Self(url::form_urlencoded::parse(q.unwrap_or("").as_bytes()).into_owned().collect())
    }

    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub(crate) fn bool(&self, name: &str) -> ApiResult<bool> {
        match self.str(name) {
            None => Ok(false),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(v) => Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                format!("parameter {name} must be true or false, got {v:?}"),
            )),
        }
    }

    pub(crate) fn u64(&self, name: &str) -> ApiResult<Option<u64>> {
        self.str(name)
            .map(|v| {
                // The OpenAPI document types numbers as `number`; accept `10.0` too.
                v.parse::<u64>()
                    .ok()
                    .or_else(|| v.parse::<f64>().ok().filter(|f| *f >= 0.0 && f.fract() == 0.0).map(|f| f as u64))
                    .ok_or_else(|| {
                        ApiFailure::new(
                            StatusCode::BAD_REQUEST,
                            "invalid-parameter",
                            format!("parameter {name} must be a non-negative integer, got {v:?}"),
                        )
                    })
            })
            .transpose()
    }

    pub(crate) fn list(&self, name: &str) -> Option<Vec<String>> {
        self.str(name).map(|v| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
    }
}

/// One incoming API request, decoded.
pub(crate) struct Call<'a> {
    pub(crate) method: &'a Method,
    pub(crate) query: Query,
    pub(crate) headers: &'a http::HeaderMap,
    body: Bytes,
}

/// 413 with the platform's error body; the decoded length when it is known.
pub(crate) fn too_large(length: Option<usize>) -> ApiFailure {
    let actual = length.map_or_else(String::new, |n| format!(", actual length: {n} bytes"));
    ApiFailure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request-too-large",
        format!("The POST payload is too large (limit: {MAX_BODY_BYTES} bytes{actual})."),
    )
}

impl<'a> Call<'a> {
    // Used by the server's platform only.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn new(method: &'a Method, query: Query, headers: &'a http::HeaderMap, body: Bytes) -> Self {
        Self { method, query, headers, body }
    }

    /// The body as it came (still encoded).
    // Used by the server's platform only.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn raw_body(&self) -> Bytes {
        self.body.clone()
    }

    /// The request body, decompressed and size-checked.
    pub(crate) fn body(&self) -> ApiResult<Bytes> {
        let encoding = self.headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok());
        let decoded = match encoding {
            None => self.body.clone(),
            Some(enc) => {
                let decoder = ContentDecoder::new(Some(enc)).map_err(|e| {
                    ApiFailure::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-content-encoding", e.to_string())
                })?;
                if decoder.is_identity() {
                    self.body.clone()
                } else {
                    // Never more than the limit in memory: a few hundred bytes of brotli
                    // can inflate to gigabytes.
                    match ContentDecoder::decode_all_limited(Some(enc), &self.body, MAX_BODY_BYTES) {
                        Ok(Some(decoded)) => decoded,
                        Ok(None) => return Err(too_large(None)),
                        Err(e) => {
                            return Err(ApiFailure::bad_request(format!(
                                "request body could not be decompressed: {e}"
                            )));
                        }
                    }
                }
            }
        };
        if decoded.len() > MAX_BODY_BYTES {
            return Err(too_large(Some(decoded.len())));
        }
        Ok(decoded)
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> ApiResult<Value> {
        let body = self.body()?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body)
            .map_err(|e| ApiFailure::bad_request(format!("request body is not valid JSON: {e}")))
    }

    pub(crate) fn client_key(&self) -> Option<&str> {
        self.query.str("clientKey")
    }
}

/// The token of an `Authorization: Bearer TOKEN` header; the scheme is case-insensitive
/// (RFC 9110, section 11.1).
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The platform's answer to a wrong token (its OpenAPI document's `Unauthorized` example).
fn invalid_token() -> ApiFailure {
    ApiFailure::new(StatusCode::UNAUTHORIZED, "invalid-token", "Authentication token is not valid.")
}

/// The local API: routes requests to the storages.
#[derive(Debug, Clone)]
pub struct LocalApi {
    storages: Arc<Storages>,
    cfg: Arc<ApiConfig>,
}

pub(crate) fn method_not_allowed(method: &Method, allowed: &[&str]) -> ApiFailure {
    ApiFailure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!(
            "This API endpoint can only be accessed using the following HTTP methods: {} (not {method})",
            allowed.join(", ")
        ),
    )
}

impl LocalApi {
    /// Serves `storages`.
    pub fn new(storages: Arc<Storages>, cfg: ApiConfig) -> Self {
        Self { storages, cfg: Arc::new(cfg) }
    }

    /// Uses `url` as the public base when none was configured (an empty `public_base`),
    /// so that public URLs point at the server answering them.
    pub fn serving_at(mut self, url: &str) -> Self {
        if self.cfg.public_base.is_empty() {
            Arc::make_mut(&mut self.cfg).public_base = url.to_owned();
        }
        self
    }

    /// The storages served.
    pub fn storages(&self) -> &Arc<Storages> {
        &self.storages
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.cfg
    }

    fn authorize(&self, req: &Request<Bytes>, query: &Query) -> ApiResult<()> {
        let Some(expected) = &self.cfg.token else { return Ok(()) };
        // A blank header is no credential at all.
        let header = req.headers().get(http::header::AUTHORIZATION).filter(|v| !v.as_bytes().trim_ascii().is_empty());
        match header.and_then(bearer_token).or_else(|| query.str("token")) {
            Some(t) if t == expected => Ok(()),
            // A token that is wrong, or credentials of another scheme: given, but not valid.
            Some(_) => Err(invalid_token()),
            None if header.is_some() => Err(invalid_token()),
            None => Err(ApiFailure::new(
                StatusCode::UNAUTHORIZED,
                "token-not-provided",
                "Authentication token was not provided",
            )),
        }
    }

    /// Checks the request's token (the platform's routes share the storage API's).
    // Used by the server's platform only.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn authorize_request(&self, req: &Request<Bytes>) -> ApiResult<()> {
        self.authorize(req, &Query::parse(req.uri().query()))
    }

    /// Answers a request the emulator makes itself (a run's storages): no token needed.
    // Used by the server's platform only.
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn handle_internal(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path().to_owned();
        let query = Query::parse(req.uri().query());
        let (parts, body) = req.into_parts();
        let call = Call { method: &parts.method, query, headers: &parts.headers, body };
        self.route(&path, &call).unwrap_or_else(ApiFailure::into_response)
    }

    /// Answers one request.
    pub fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let path = req.uri().path().to_owned();
        let query = Query::parse(req.uri().query());
        let result = self.authorize(&req, &query).and_then(|()| {
            let (parts, body) = req.into_parts();
            let call = Call { method: &parts.method, query, headers: &parts.headers, body };
            self.route(&path, &call)
        });
        let mut response = result.unwrap_or_else(ApiFailure::into_response);
        response.headers_mut().entry("x-ratelimit-limit").or_insert(HeaderValue::from_static("1000"));
        response
    }

    fn route(&self, path: &str, call: &Call<'_>) -> ApiResult {
        let rest = path.strip_prefix("/v2/").or_else(|| path.strip_prefix("v2/")).unwrap_or("");
        let segs: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = call.method;
        match segs.as_slice() {
            ["datasets"] => match *m {
                Method::GET => self.list(Kind::Dataset, call),
                Method::POST => self.get_or_create(Kind::Dataset, call),
                _ => Err(method_not_allowed(m, &["GET", "POST"])),
            },
            ["key-value-stores"] => match *m {
                Method::GET => self.list(Kind::KeyValueStore, call),
                Method::POST => self.get_or_create(Kind::KeyValueStore, call),
                _ => Err(method_not_allowed(m, &["GET", "POST"])),
            },
            ["request-queues"] => match *m {
                Method::GET => self.list(Kind::RequestQueue, call),
                Method::POST => self.get_or_create(Kind::RequestQueue, call),
                _ => Err(method_not_allowed(m, &["GET", "POST"])),
            },
            ["datasets", id, tail @ ..] => self.dataset_route(id, tail, call),
            ["key-value-stores", id, tail @ ..] => self.kvs_route(id, tail, call),
            ["request-queues", id, tail @ ..] => self.rq_route(id, tail, call),
            _ => Err(ApiFailure::new(
                StatusCode::NOT_FOUND,
                "page-not-found",
                format!("We have bad news: there is no API endpoint at {path}"),
            )),
        }
    }

    /// The target a path ID names: `default` (the run's default storage, an emulator
    /// convenience), a storage ID, or `username~name` / `~name`.
    pub(crate) fn target_of(id: &str) -> Target {
        if id == "default" {
            return Target::Default;
        }
        match id.split_once('~') {
            Some((_, name)) => Target::Name(name.to_owned()),
            None => Target::Id(id.to_owned()),
        }
    }
}

impl Storages {
    /// Opens an existing storage for the API: a missing one is a 404, except the default
    /// storage, which always exists.
    pub(crate) fn existing(&self, kind: Kind, target: &Target) -> Result<bool, StorageError> {
        match target {
            Target::Default => Ok(true),
            Target::Id(_) => Ok(true),
            Target::Name(n) | Target::Alias(n) | Target::Unnamed(n) => {
                // Validated before the file system is asked anything about it.
                match target {
                    Target::Name(n) => crate::storage::validate_name(n)?,
                    _ => crate::storage::validate_alias(n)?,
                }
                let dir = self.config().root.join(kind.dir()).join(n);
                if dir.join("__metadata__.json").exists() {
                    Ok(true)
                } else {
                    Err(StorageError::NotFound { kind: kind.label(), what: format!("name {n:?}") })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageConfig;

    fn status_and_type(api: &LocalApi, uri: &str, authorization: Option<&str>) -> (u16, Option<String>) {
        let mut req = Request::get(uri);
        if let Some(a) = authorization {
            req = req.header(http::header::AUTHORIZATION, a);
        }
        let response = api.handle(req.body(Bytes::new()).unwrap());
        let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        (response.status().as_u16(), body["error"]["type"].as_str().map(str::to_owned))
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_wrong_credentials_are_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let storages = Arc::new(Storages::new(StorageConfig::new(dir.path())));
        let api = LocalApi::new(storages, ApiConfig { token: Some("s3cret".into()), ..ApiConfig::default() });
        for auth in ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "bEaReR   s3cret "] {
            assert_eq!(status_and_type(&api, "/v2/datasets", Some(auth)), (200, None), "{auth:?}");
        }
        assert_eq!(status_and_type(&api, "/v2/datasets?token=s3cret", None), (200, None));
        // Another scheme's credentials do not hide a valid query token.
        assert_eq!(status_and_type(&api, "/v2/datasets?token=s3cret", Some("Basic eDp5")), (200, None));
        let invalid = (401, Some("invalid-token".to_owned()));
        for auth in ["Bearer wrong", "bearer wrong", "Basic czNjcmV0", "Bearer", "s3cret"] {
            assert_eq!(status_and_type(&api, "/v2/datasets", Some(auth)), invalid, "{auth:?}");
        }
        assert_eq!(status_and_type(&api, "/v2/datasets?token=wrong", None), invalid);
        let missing = (401, Some("token-not-provided".to_owned()));
        assert_eq!(status_and_type(&api, "/v2/datasets", None), missing);
        assert_eq!(status_and_type(&api, "/v2/datasets", Some("  ")), missing);
    }
}
