//! A driver for tests (feature `test-util`): answers every attempt from your closure,
//! records what was sent, and runs on a virtual clock, so waits, long polls, retries and
//! deadlines play out instantly and the same way every time.
//!
//! ```
//! use apify_core::client::ApifyClient;
//! use apify_core::client::mock::{MockClient, MockResponse};
//! use apify_core::config::Config;
//! use serde_json::json;
//!
//! let mock = MockClient::new(|req| {
//!     assert_eq!(req.uri.path(), "/v2/actor-runs/r1");
//!     MockResponse::json(200, json!({"data": {"id": "r1", "status": "SUCCEEDED"}}))
//! });
//! let client = ApifyClient::with_custom_http_client(Config::new(), mock.clone());
//! let page = client.run("r1").get().send();
//! assert_eq!(mock.requests().len(), 1);
//! # let _ = page;
//! ```

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};

use super::http::{
    BlockingHttpClient, BlockingHttpRequest, BlockingHttpResponse, BlockingRequestBody, BlockingResponseBody,
    BoxFuture, Environment, HttpClient, HttpRequest, HttpResponse, RequestBody, ResponseBody,
};
use crate::error::{TransportError, TransportErrorKind};
use crate::time::Instant;

/// One attempt as the mock received it.
#[derive(Debug, Clone)]
pub struct MockRequest {
    /// Method.
    pub method: Method,
    /// Full URL.
    pub uri: Uri,
    /// Headers as sent.
    pub headers: HeaderMap,
    /// Body, with any `Content-Encoding` the client applied undone (a streamed body is read
    /// whole).
    pub body: Bytes,
    /// Body exactly as sent.
    pub raw_body: Bytes,
    /// The attempt's timeout.
    pub timeout: Option<Duration>,
    /// Virtual time when it was sent.
    pub at: Duration,
}

impl MockRequest {
    /// The body as UTF-8 (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A query parameter (form-decoded).
    pub fn query(&self, name: &str) -> Option<String> {
        let q = self.uri.query()?;
        form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// A header as a string.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the mock answers: a response, a transport failure, or a response after a delay
/// (virtual time passes, so a server-held long poll can be simulated).
#[derive(Debug, Clone)]
pub struct MockResponse {
    outcome: Result<(StatusCode, HeaderMap, Bytes), TransportErrorKind>,
    delay: Duration,
}

impl MockResponse {
    /// A response with this status, headers and body.
    pub fn new(status: u16, headers: HeaderMap, body: impl Into<Bytes>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { outcome: Ok((status, headers, body.into())), delay: Duration::ZERO }
    }

    /// A JSON response.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json; charset=utf-8"));
        Self::new(status, headers, serde_json::to_vec(&body).unwrap_or_default())
    }

    /// A text response.
    pub fn text(status: u16, body: &str) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
        Self::new(status, headers, body.to_owned())
    }

    /// An API error `{"error": {"type", "message"}}`.
    pub fn error(status: u16, error_type: &str, message: &str) -> Self {
        Self::json(status, serde_json::json!({"error": {"type": error_type, "message": message}}))
    }

    /// A failure below HTTP.
    pub fn transport(kind: TransportErrorKind) -> Self {
        Self { outcome: Err(kind), delay: Duration::ZERO }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let (Ok((_, headers, _)), Ok(v)) = (&mut self.outcome, http::HeaderValue::from_str(value)) {
            headers.insert(name, v);
        }
        self
    }

    /// Answers after `delay` of virtual time (a held long poll).
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Responder = Box<dyn FnMut(&MockRequest) -> MockResponse + Send>;

struct State {
    now: Duration,
    requests: Vec<MockRequest>,
    sleeps: Vec<Duration>,
    responder: Responder,
}

/// The test driver; clones share the clock, the record and the responder.
#[derive(Clone)]
pub struct MockClient {
    state: Arc<Mutex<State>>,
    wall_origin: SystemTime,
    seed: u64,
    timer: bool,
}

impl std::fmt::Debug for MockClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockClient").field("now", &self.now()).finish_non_exhaustive()
    }
}

impl MockClient {
    /// A mock answering with `responder`; the wall clock starts at 2026-01-01T00:00:00Z,
    /// the seed is `0x5EED`.
    pub fn new(responder: impl FnMut(&MockRequest) -> MockResponse + Send + 'static) -> Self {
        let state =
            State { now: Duration::ZERO, requests: Vec::new(), sleeps: Vec::new(), responder: Box::new(responder) };
        Self {
            state: Arc::new(Mutex::new(state)),
            wall_origin: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
            seed: 0x5EED,
            timer: true,
        }
    }

    /// A mock answering from a script, one reply per attempt in order; the last reply
    /// answers every attempt after it.
    pub fn scripted(replies: Vec<MockResponse>) -> Self {
        let replies = Mutex::new(replies);
        Self::new(move |_| {
            let mut r = replies.lock().unwrap_or_else(PoisonError::into_inner);
            match r.len() {
                0 => MockResponse::error(500, "mock-script-empty", "the script has no replies"),
                1 => r[0].clone(),
                _ => r.remove(0),
            }
        })
    }

    /// The same mock with another random seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same mock with the wall clock starting at `origin`.
    pub fn with_wall_clock(mut self, origin: SystemTime) -> Self {
        self.wall_origin = origin;
        self
    }

    /// The same mock without a timer (`sleep` unavailable).
    pub fn without_timer(mut self) -> Self {
        self.timer = false;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every attempt received so far.
    pub fn requests(&self) -> Vec<MockRequest> {
        self.lock().requests.clone()
    }

    /// Every sleep the client asked for.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// Virtual time elapsed.
    pub fn now(&self) -> Duration {
        self.lock().now
    }

    /// Lets virtual time pass.
    pub fn advance(&self, d: Duration) {
        self.lock().now += d;
    }

    fn answer(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), TransportError> {
        let encoding = headers.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok());
        let decoded = crate::codec::ContentDecoder::decode_all(encoding, body.clone()).unwrap_or_else(|_| body.clone());
        let mut state = self.lock();
        let req = MockRequest { method, uri, headers, body: decoded, raw_body: body, timeout, at: state.now };
        let resp = (state.responder)(&req);
        state.requests.push(req);
        // A reply later than the attempt's timeout is a timeout, after that long.
        if let Some(t) = timeout
            && resp.delay > t
        {
            state.now += t;
            return Err(TransportError::msg(TransportErrorKind::Timeout, "the mock answered after the timeout"));
        }
        state.now += resp.delay;
        resp.outcome.map_err(|kind| TransportError::msg(kind, "mock transport failure"))
    }
}

impl Environment for MockClient {
    fn now(&self) -> Instant {
        Instant::from_duration(self.lock().now)
    }
    fn wall_clock(&self) -> Option<SystemTime> {
        Some(self.wall_origin + self.lock().now)
    }
    fn random_seed(&self) -> u64 {
        self.seed
    }
}

impl BlockingHttpClient for MockClient {
    fn call(&self, request: BlockingHttpRequest) -> Result<BlockingHttpResponse, TransportError> {
        let (parts, body) = request.request.into_parts();
        let body = match body {
            BlockingRequestBody::Full(b) => b,
            BlockingRequestBody::Reader(mut r) => {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut r, &mut buf)
                    .map_err(|e| TransportError::new(TransportErrorKind::RequestBody, e))?;
                buf.into()
            }
        };
        let (status, headers, body) = self.answer(parts.method, parts.uri, parts.headers, body, request.timeout)?;
        Ok(BlockingHttpResponse { status, headers, body: BlockingResponseBody::Full(body) })
    }

    fn sleep(&self, duration: Duration) -> bool {
        if self.timer {
            let mut state = self.lock();
            state.now += duration;
            state.sleeps.push(duration);
        }
        self.timer
    }
}

impl HttpClient for MockClient {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.request.into_parts();
        let body = match body {
            RequestBody::Full(b) => b,
            RequestBody::Stream(mut s) => {
                let mut buf = Vec::new();
                while let Some(chunk) = std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await {
                    buf.extend_from_slice(&chunk?);
                }
                buf.into()
            }
        };
        let (status, headers, body) = self.answer(parts.method, parts.uri, parts.headers, body, request.timeout)?;
        Ok(HttpResponse { status, headers, body: ResponseBody::Full(body) })
    }

    fn sleep(&self, duration: Duration) -> Option<BoxFuture<'static, ()>> {
        if !self.timer {
            return None;
        }
        {
            let mut state = self.lock();
            state.now += duration;
            state.sleeps.push(duration);
        }
        Some(Box::pin(std::future::ready(())))
    }
}
