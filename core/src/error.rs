//! The one error type of the client, and the API error parsed from `{"error": {...}}`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Map, Value};

use crate::stream::StreamError;

/// A boxed error kept as the cause of a transport failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in a call. Nothing is unwrapped: transport failures, bad
/// bodies and API errors all arrive here, with the original cause kept as `source`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The request did not complete at the HTTP level (connect, timeout, reset, truncation...).
    #[error("{method} {url} failed on attempt {attempt}: {source}")]
    Transport {
        /// The cause, classified.
        #[source]
        source: TransportError,
        /// 1-based attempt that produced it.
        attempt: u32,
        /// HTTP method of the request.
        method: Method,
        /// Request URL (never contains the token).
        url: String,
    },
    /// A 2xx body that should have been JSON did not parse (`invalid-response-body`).
    #[error("response body could not be parsed (status {status}): {detail}")]
    InvalidResponseBody {
        /// HTTP status of the response.
        status: u16,
        /// What was wrong.
        detail: String,
        /// The parser's error, when there is one.
        #[source]
        source: Option<serde_json::Error>,
    },
    /// A JSON body of the wrong shape for the expected model.
    #[error("unexpected shape of {what}: {source}")]
    Decode {
        /// What was being decoded, e.g. `Dataset`.
        what: &'static str,
        /// The deserializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// A caller-supplied value was refused before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(Cow<'static, str>),
    /// Retrying stopped for a reason other than running out of attempts.
    #[error("gave up after {attempts} attempt(s): {reason}; last error: {last}")]
    GaveUp {
        /// Why retrying stopped.
        reason: GiveUpReason,
        /// Attempts made.
        attempts: u32,
        /// The error of the last attempt.
        #[source]
        last: Box<Self>,
    },
    /// A streamed body (items, lines) was malformed.
    #[error(transparent)]
    Stream(#[from] StreamError),
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Self::Api(Box::new(e))
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid_argument(msg: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidArgument(msg.into())
    }

    /// The API error behind this error, looking through [`Error::GaveUp`].
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            Self::GaveUp { last, .. } => last.api_error(),
            _ => None,
        }
    }

    /// The HTTP status of the API error behind this error, if any.
    pub fn status(&self) -> Option<StatusCode> {
        self.api_error().map(|e| e.status)
    }

    /// True for a 404 answer.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// The transport failure behind this error, if any.
    pub fn transport_error(&self) -> Option<&TransportError> {
        match self {
            Self::Transport { source, .. } => Some(source),
            Self::GaveUp { last, .. } => last.transport_error(),
            _ => None,
        }
    }

    /// How many attempts were made, when the error came from the API or the transport.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Self::Api(e) => Some(e.attempt),
            Self::Transport { attempt, .. } => Some(*attempt),
            Self::GaveUp { attempts, .. } => Some(*attempts),
            _ => None,
        }
    }
}

/// Why the retry loop stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The wait before the next attempt would end after the call's deadline.
    DeadlineWouldPass {
        /// The wait that was computed.
        delay: Duration,
    },
    /// The shared retry budget had no tokens left.
    BudgetExhausted,
    /// The server asked for a longer wait than `max_retry_after` allows.
    RetryAfterTooLong {
        /// The server's `Retry-After`.
        retry_after: Duration,
    },
    /// The server's `Retry-After` ends after the call's deadline: waiting for it would
    /// only fail later, so the call fails now.
    RetryAfterPastDeadline {
        /// The server's `Retry-After`.
        retry_after: Duration,
        /// What was left of the deadline.
        remaining: Duration,
    },
    /// A retry needed a wait, but the HTTP client offers no timer.
    NoTimer {
        /// The wait that was computed.
        delay: Duration,
    },
}

impl fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DeadlineWouldPass { delay } => {
                write!(f, "waiting {delay:?} more would pass the call's deadline")
            }
            Self::BudgetExhausted => f.write_str("the retry budget is exhausted"),
            Self::RetryAfterTooLong { retry_after } => {
                write!(f, "the server asked to retry after {retry_after:?}, longer than allowed")
            }
            Self::RetryAfterPastDeadline { retry_after, remaining } => write!(
                f,
                "the server asked to retry after {retry_after:?}, longer than the {remaining:?} left before the call's deadline"
            ),
            Self::NoTimer { delay } => write!(
                f,
                "a retry needs a {delay:?} wait but the HTTP client has no timer \
                 (implement `sleep` on it, use a driver with a runtime, or set max_retries = 0)"
            ),
        }
    }
}

/// What kind of transport failure happened; decides whether a retry is possible and safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// Connection refused or unreachable, a TLS handshake cut short, a proxy that could not
    /// be reached: no request byte left the client.
    Connect,
    /// The host name did not resolve. Retried like [`Self::Connect`] (within the retry
    /// limits): resolvers fail transiently too, and nothing was sent.
    Dns,
    /// The server's certificate was refused (untrusted issuer, expired, issued for another
    /// host) or TLS could not be agreed on. Not retried: it fails the same way every time.
    Tls,
    /// The attempt's timeout elapsed.
    Timeout,
    /// The connection was closed or reset after the request was (maybe) sent.
    ConnectionClosed,
    /// The response body ended before its declared length, or could not be decompressed.
    IncompleteBody,
    /// The server refused the stream without processing it (HTTP/2 `REFUSED_STREAM`, GOAWAY).
    Refused,
    /// A local protocol violation; retrying would fail the same way.
    Protocol,
    /// The request cannot be sent by this client (unsupported scheme, invalid URL...).
    Unsupported,
    /// The caller's streamed request body failed; the request cannot be replayed.
    RequestBody,
    /// A redirect that is not followed: too many, a loop, `https` to `http`, another
    /// scheme, or a streamed body that cannot be sent again.
    Redirect,
    /// A buffered response body is larger than
    /// [`Config::with_max_response_body`](crate::config::Config::with_max_response_body)
    /// allows (counted after decompression, so compression bombs stop there too).
    BodyTooLarge,
    /// The proxy answered 407: it needs (other) credentials.
    ProxyAuth,
    /// Anything else; treated as transient and possibly processed.
    Other,
}

impl TransportErrorKind {
    /// Whether another attempt may succeed.
    pub fn is_transient(self) -> bool {
        !matches!(
            self,
            Self::Protocol
                | Self::Unsupported
                | Self::RequestBody
                | Self::Tls
                | Self::Redirect
                | Self::BodyTooLarge
                | Self::ProxyAuth
        )
    }

    /// Whether the server may have processed the request (decides retries of non-idempotent
    /// operations under [`NonIdempotentRetry::SafeOnly`](crate::retry::NonIdempotentRetry)).
    pub fn may_have_been_processed(self) -> bool {
        !matches!(self, Self::Connect | Self::Dns | Self::Tls | Self::Refused | Self::Unsupported | Self::ProxyAuth)
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect error",
            Self::Timeout => "timed out",
            Self::ConnectionClosed => "connection closed",
            Self::IncompleteBody => "incomplete response body",
            Self::Refused => "refused by server",
            Self::Protocol => "protocol error",
            Self::Unsupported => "unsupported request",
            Self::RequestBody => "request body failed",
            Self::Dns => "name resolution failed",
            Self::Tls => "TLS error",
            Self::Redirect => "redirect not followed",
            Self::BodyTooLarge => "response body too large",
            Self::ProxyAuth => "proxy authentication required",
            Self::Other => "transport error",
        }
    }
}

/// A failure below HTTP, classified by the driver that saw it.
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    source: Option<BoxError>,
    message: Option<Cow<'static, str>>,
}

impl TransportError {
    /// A failure of `kind` caused by `source`.
    pub fn new(kind: TransportErrorKind, source: impl Into<BoxError>) -> Self {
        Self { kind, source: Some(source.into()), message: None }
    }

    /// A failure of `kind` described by `message`.
    pub fn msg(kind: TransportErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self { kind, source: None, message: Some(message.into()) }
    }

    /// The classification.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if let Some(s) = &self.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// The `type` of an API error: an open set of strings (the API documents almost 400 and
/// adds more), with constants for the ones a storage client meets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorType(Cow<'static, str>);

macro_rules! error_types {
    ($($name:ident = $value:literal),* $(,)?) => {
        impl ErrorType {
            $(#[doc = concat!("`", $value, "`")] pub const $name: Self = Self(Cow::Borrowed($value));)*
        }
    };
}

error_types! {
    INVALID_REQUEST = "invalid-request",
    INVALID_VALUE = "invalid-value",
    INVALID_PARAMETER = "invalid-parameter",
    TOKEN_NOT_PROVIDED = "token-not-provided",
    INVALID_TOKEN = "invalid-token",
    INSUFFICIENT_PERMISSIONS = "insufficient-permissions",
    METHOD_NOT_ALLOWED = "method-not-allowed",
    PAGE_NOT_FOUND = "page-not-found",
    RATE_LIMIT_EXCEEDED = "rate-limit-exceeded",
    INTERNAL_SERVER_ERROR = "internal-server-error",
    RECORD_NOT_FOUND = "record-not-found",
    RECORD_OR_TOKEN_NOT_FOUND = "record-or-token-not-found",
    INVALID_RECORD_KEY = "invalid-record-key",
    RECORD_TOO_LARGE = "record-too-large",
    REQUEST_TOO_LARGE = "request-too-large",
    UNSUPPORTED_CONTENT_ENCODING = "unsupported-content-encoding",
    SCHEMA_VALIDATION_ERROR = "schema-validation-error",
    REQUEST_ID_INVALID = "request-id-invalid",
    REQUEST_HANDLED_OR_LOCKED = "request-handled-or-locked",
    INVALID_CLIENT_KEY = "invalid-client-key",
}

impl ErrorType {
    /// An error type from any string.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Cow::Owned(value.into()))
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which family an API error belongs to; follows the status code only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// 400
    InvalidRequest,
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 409
    Conflict,
    /// 429
    RateLimit,
    /// 5xx
    Server,
    /// Any other status (402, 408, 413, 415...).
    Other,
}

/// An error answer of the API (`{"error": {"type", "message", "data"?}}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// `error.type`, when the body had one.
    pub error_type: Option<ErrorType>,
    /// `error.message`, or `Unexpected error: <body>` when the body was not an API error.
    pub message: String,
    /// `error.data` (e.g. `invalidItems` of a schema validation error); empty when absent.
    pub data: Map<String, Value>,
    /// 1-based attempt that received this answer.
    pub attempt: u32,
    /// HTTP method of the request.
    pub method: Method,
    /// Request URL (never contains the token).
    pub url: String,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// Parses an error response. Bodies that are not `{"error": {...}}` fall back to the
    /// documented defaults instead of failing.
    pub fn from_response(status: StatusCode, body: &[u8], attempt: u32, method: Method, url: String) -> Self {
        let mut error_type = None;
        let mut message = None;
        let mut data = Map::new();
        if let Ok(Value::Object(mut root)) = serde_json::from_slice::<Value>(body)
            && let Some(Value::Object(mut err)) = root.remove("error")
        {
            if let Some(Value::String(t)) = err.remove("type") {
                error_type = Some(ErrorType::new(t));
            }
            if let Some(Value::String(m)) = err.remove("message") {
                message = Some(m);
            }
            if let Some(Value::Object(d)) = err.remove("data") {
                data = d;
            }
        }
        let message = message.unwrap_or_else(|| format!("Unexpected error: {}", String::from_utf8_lossy(body)));
        Self { status, error_type, message, data, attempt, method, url, retry_after: None }
    }

    /// The family of the error, from its status.
    pub fn kind(&self) -> ApiErrorKind {
        match self.status.as_u16() {
            400 => ApiErrorKind::InvalidRequest,
            401 => ApiErrorKind::Unauthorized,
            403 => ApiErrorKind::Forbidden,
            404 => ApiErrorKind::NotFound,
            409 => ApiErrorKind::Conflict,
            429 => ApiErrorKind::RateLimit,
            s if s >= 500 => ApiErrorKind::Server,
            _ => ApiErrorKind::Other,
        }
    }

    /// True when `error.type` equals `ty`.
    pub fn is_type(&self, ty: &ErrorType) -> bool {
        self.error_type.as_ref() == Some(ty)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} answered {}", self.method, self.url, self.status.as_u16())?;
        if let Some(t) = &self.error_type {
            write!(f, " ({t})")?;
        }
        write!(f, " on attempt {}: {}", self.attempt, self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> ApiError {
        ApiError::from_response(
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
            2,
            Method::GET,
            "https://api.apify.com/v2/datasets/x".into(),
        )
    }

    #[test]
    fn parses_error_body_with_data() {
        let e = parse(
            400,
            r#"{"error":{"type":"schema-validation-error","message":"Schema validation failed","data":{"invalidItems":[{"itemPosition":2}]}}}"#,
        );
        assert_eq!(e.kind(), ApiErrorKind::InvalidRequest);
        assert!(e.is_type(&ErrorType::SCHEMA_VALIDATION_ERROR));
        assert_eq!(e.message, "Schema validation failed");
        assert_eq!(e.data["invalidItems"][0]["itemPosition"], 2);
        assert_eq!(e.attempt, 2);
    }

    #[test]
    fn non_api_bodies_fall_back() {
        let e = parse(502, "<html>Bad gateway</html>");
        assert_eq!(e.error_type, None);
        assert_eq!(e.message, "Unexpected error: <html>Bad gateway</html>");
        assert!(e.data.is_empty());
        assert_eq!(e.kind(), ApiErrorKind::Server);
        let e = parse(404, r#"{"error":"nope"}"#);
        assert_eq!(e.message, r#"Unexpected error: {"error":"nope"}"#);
        assert_eq!(e.kind(), ApiErrorKind::NotFound);
        assert_eq!(parse(413, "{}").kind(), ApiErrorKind::Other);
    }

    #[test]
    fn display_names_the_call() {
        let e = parse(404, r#"{"error":{"type":"record-not-found","message":"Store was not found."}}"#);
        assert_eq!(
            e.to_string(),
            "GET https://api.apify.com/v2/datasets/x answered 404 (record-not-found) on attempt 2: Store was not found."
        );
    }

    #[test]
    fn transport_kinds_classify() {
        assert!(!TransportErrorKind::Connect.may_have_been_processed());
        assert!(TransportErrorKind::Connect.is_transient());
        assert!(TransportErrorKind::Timeout.may_have_been_processed());
        assert!(!TransportErrorKind::Protocol.is_transient());
        assert!(TransportErrorKind::Dns.is_transient() && !TransportErrorKind::Dns.may_have_been_processed());
        for permanent in [
            TransportErrorKind::Tls,
            TransportErrorKind::Redirect,
            TransportErrorKind::BodyTooLarge,
            TransportErrorKind::ProxyAuth,
        ] {
            assert!(!permanent.is_transient(), "{permanent:?}");
        }
        let e = TransportError::msg(TransportErrorKind::Timeout, "after 5s");
        assert_eq!(e.to_string(), "timed out: after 5s");
    }
}
