//! The driver contract: one small trait for an HTTP client, and its blocking twin.
//!
//! A driver sends one attempt and returns the response; the core decides everything else
//! (retries, waits, redirects, decoding). Timers, clocks and entropy are optional extras: a
//! client without a timer still works, and a retry that needs a wait ends with a clear
//! [`GiveUpReason::NoTimer`](crate::error::GiveUpReason::NoTimer) error.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, StatusCode};

use crate::error::TransportError;
use crate::time::Instant;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A stream of body chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;

/// A request body: buffered (replayable) or streamed (sent once).
pub enum RequestBody {
    /// The whole body.
    Full(Bytes),
    /// A body produced while sending (e.g. a large upload).
    Stream(ByteStream),
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(b) => write!(f, "Full({} bytes)", b.len()),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// One attempt to send (the seed's `call(method, url, headers, params, data, stream, timeout)`).
#[derive(Debug)]
pub struct HttpRequest {
    /// Method, full URL (query included), headers and body.
    pub request: http::Request<RequestBody>,
    /// Timeout of the whole attempt, body included; `None` means no timeout.
    pub timeout: Option<Duration>,
    /// Whether the caller wants the body as a stream (then the timeout covers the head, and
    /// each later chunk may take as long again).
    pub stream_response: bool,
    /// The largest response body, decoded, the driver may buffer (`None`: no limit, and
    /// always `None` for streamed responses). Past it the driver stops reading and fails
    /// with [`TransportErrorKind::BodyTooLarge`](crate::error::TransportErrorKind); the
    /// decoding helpers ([`crate::client::decoding`]) do the counting. The core checks
    /// again what it is handed.
    pub max_body: Option<u64>,
}

/// A response body: whole, or a stream of decoded chunks.
pub enum ResponseBody {
    /// The whole decoded body.
    Full(Bytes),
    /// Decoded chunks as they arrive.
    Stream(ByteStream),
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(b) => write!(f, "Full({} bytes)", b.len()),
            Self::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// What a driver returns: status, headers, and the body with any `Content-Encoding`
/// already removed.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: ResponseBody,
}

/// What a driver knows about its surroundings: clock, entropy and environment variables.
/// Every method has a default, so `impl Environment for MyClient {}` is enough; without
/// `now`, time stands still (no deadlines), without `wall_clock`, HTTP-date `Retry-After`
/// headers are ignored and expiring URLs cannot be made.
pub trait Environment: Send + Sync + 'static {
    /// Monotonic time.
    fn now(&self) -> Instant {
        Instant::ZERO
    }

    /// Wall-clock time.
    fn wall_clock(&self) -> Option<SystemTime> {
        None
    }

    /// Seed for backoff jitter (drivers take it from the OS).
    fn random_seed(&self) -> u64 {
        0x5EED
    }

    /// An environment variable (`APIFY_IS_AT_HOME`, `APIFY_WORKFLOW_KEY` are read by
    /// `ApifyClient::new`).
    fn env_var(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }
}

/// An asynchronous HTTP client: the only method to write is [`HttpClient::call`].
///
/// Implement `sleep` when the runtime has a timer: without it, a retry that needs a wait
/// ends with a clear error instead of sleeping.
pub trait HttpClient: Environment {
    /// Sends one attempt. Redirects must not be followed (the core follows them), and the
    /// body must be decompressed.
    fn call(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, TransportError>> + Send;

    /// A future that completes after `duration`, or `None` if there is no timer.
    fn sleep(&self, duration: Duration) -> Option<BoxFuture<'static, ()>> {
        let _ = duration;
        None
    }
}

/// A blocking request body.
pub enum BlockingRequestBody {
    /// The whole body.
    Full(Bytes),
    /// A reader consumed while sending (sent once).
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for BlockingRequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(b) => write!(f, "Full({} bytes)", b.len()),
            Self::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// One blocking attempt.
#[derive(Debug)]
pub struct BlockingHttpRequest {
    /// Method, full URL, headers and body.
    pub request: http::Request<BlockingRequestBody>,
    /// Timeout of the whole attempt; `None` means no timeout.
    pub timeout: Option<Duration>,
    /// Whether the caller wants the body as a reader.
    pub stream_response: bool,
    /// The largest buffered response body, as in [`HttpRequest::max_body`].
    pub max_body: Option<u64>,
}

/// A blocking response body.
pub enum BlockingResponseBody {
    /// The whole decoded body.
    Full(Bytes),
    /// A reader of the decoded body.
    Reader(Box<dyn Read + Send>),
}

impl std::fmt::Debug for BlockingResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(b) => write!(f, "Full({} bytes)", b.len()),
            Self::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// A blocking response.
#[derive(Debug)]
pub struct BlockingHttpResponse {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, decompressed.
    pub body: BlockingResponseBody,
}

/// The blocking twin of [`HttpClient`], for programs with no async runtime.
pub trait BlockingHttpClient: Environment {
    /// Sends one attempt (no redirects followed, body decompressed).
    fn call(&self, request: BlockingHttpRequest) -> Result<BlockingHttpResponse, TransportError>;

    /// Blocks for `duration`; returns `false` if this client cannot wait.
    fn sleep(&self, duration: Duration) -> bool {
        let _ = duration;
        false
    }
}
