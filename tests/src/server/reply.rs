//! The scripted [`Reply`] builder and how a reply is turned into bytes on the wire.

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};

use super::conn::ConnState;

/// Error type of response bodies and of the service; any error makes hyper drop the connection.
pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Response body type handed to hyper.
pub(super) type ResBody = UnsyncBoxBody<Bytes, BoxError>;

/// Makes a fresh chunk iterator each time a streamed reply is sent, so [`Reply`] stays `Clone`.
type ChunkFactory = Arc<dyn Fn() -> Box<dyn Iterator<Item = Bytes> + Send> + Send + Sync>;

/// Content type used by [`Reply::json`], matching what the Apify API sends.
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// One scripted response: status, headers, body, and optional faults and pacing.
///
/// Built with chained calls, e.g.
/// `Reply::json(200, json!({"data": {}})).header("x-a", "b").gzip().delay(Duration::from_millis(50))`.
/// Modifiers are independent of their order. Faults (`reset_before_head`, `truncate_after`)
/// and pacing (`delay`, `drip`) act on the bytes as sent, i.e. after compression.
#[derive(Clone)]
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: ReplyBody,
    encoding: Option<Encoding>,
    delay: Option<Duration>,
    drip: Option<Drip>,
    fault: Option<Fault>,
}

#[derive(Clone)]
enum ReplyBody {
    Full(Bytes),
    Streamed(ChunkFactory),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Gzip,
    Brotli,
}

#[derive(Clone, Copy, Debug)]
struct Drip {
    chunk_bytes: usize,
    interval: Duration,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    ResetBeforeHead,
    TruncateAfter(usize),
}

impl Reply {
    /// An empty-bodied reply with this status code.
    ///
    /// # Panics
    ///
    /// Panics if `status` is not a valid HTTP status code (100..=999).
    pub fn status(status: u16) -> Self {
        let status =
            StatusCode::from_u16(status).unwrap_or_else(|_| panic!("Reply::status: invalid status code {status}"));
        Self {
            status,
            headers: HeaderMap::new(),
            body: ReplyBody::Full(Bytes::new()),
            encoding: None,
            delay: None,
            drip: None,
            fault: None,
        }
    }

    /// A JSON reply; sets `content-type: application/json; charset=utf-8`.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        let bytes = serde_json::to_vec(&body).expect("serde_json::Value always serializes");
        Self::bytes(status, bytes).header(CONTENT_TYPE, JSON_CONTENT_TYPE)
    }

    /// A plain-text reply; sets `content-type: text/plain; charset=utf-8`.
    pub fn text(status: u16, body: &str) -> Self {
        Self::bytes(status, body.to_owned()).header(CONTENT_TYPE, "text/plain; charset=utf-8")
    }

    /// A reply with a raw body and no `content-type`.
    pub fn bytes(status: u16, body: impl Into<Bytes>) -> Self {
        let mut reply = Self::status(status);
        reply.body = ReplyBody::Full(body.into());
        reply
    }

    /// One page of dataset items as the Apify API serves it: a 200 JSON array plus the
    /// `X-Apify-Pagination-Offset/-Limit/-Count/-Total/-Desc` headers
    /// (count is `items.len()`, desc is `true`/`false`).
    pub fn items_page(items: &[serde_json::Value], offset: u64, limit: u64, total: u64, desc: bool) -> Self {
        Self::json(200, serde_json::Value::Array(items.to_vec()))
            .header("x-apify-pagination-offset", offset)
            .header("x-apify-pagination-limit", limit)
            .header("x-apify-pagination-count", items.len())
            .header("x-apify-pagination-total", total)
            .header("x-apify-pagination-desc", if desc { "true" } else { "false" })
    }

    /// A run as `GET /v2/actor-runs/{id}` serves it: `{"data": Run}` with this status.
    pub fn run(id: &str, status: &str) -> Self {
        Self::json(200, run_json(id, status))
    }

    /// A build as `GET /v2/actor-builds/{id}` serves it, with this status.
    pub fn build(id: &str, status: &str) -> Self {
        Self::json(
            200,
            serde_json::json!({"data": {
                "id": id, "actId": "a", "userId": "u", "startedAt": "2026-01-01T00:00:00.000Z", "status": status,
                "meta": {"origin": "API"}, "buildNumber": "0.0.1"
            }}),
        )
    }

    /// A log as `GET …/log` serves it (plain text).
    pub fn log(text: &str) -> Self {
        Self::text(200, text)
    }

    /// Adds a header; repeat the call to send a header several times.
    ///
    /// # Panics
    ///
    /// Panics if the name or value is not a valid header name or value.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: fmt::Debug,
        V: TryInto<HeaderValue>,
        V::Error: fmt::Debug,
    {
        let name = name.try_into().expect("Reply::header: invalid header name");
        let value = value.try_into().expect("Reply::header: invalid header value");
        self.headers.append(name, value);
        self
    }

    /// Compresses the body with gzip and sets `content-encoding: gzip`.
    pub fn gzip(mut self) -> Self {
        self.encoding = Some(Encoding::Gzip);
        self
    }

    /// Compresses the body with brotli and sets `content-encoding: br`.
    pub fn brotli(mut self) -> Self {
        self.encoding = Some(Encoding::Brotli);
        self
    }

    /// Waits `delay` before sending the response head, e.g. to provoke client timeouts.
    ///
    /// Only this request's task sleeps; other connections are served meanwhile.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Sends the body in chunks of at most `chunk_bytes`, waiting `interval` before each chunk.
    ///
    /// The head goes out at once (with the full `content-length` for a non-streamed body);
    /// only the body trickles.
    ///
    /// # Panics
    ///
    /// Panics if `chunk_bytes` is 0.
    pub fn drip(mut self, chunk_bytes: usize, interval: Duration) -> Self {
        assert!(chunk_bytes > 0, "Reply::drip: chunk_bytes must be > 0");
        self.drip = Some(Drip { chunk_bytes, interval });
        self
    }

    /// Sends no response at all: the TCP connection is reset (RST) once the request has been
    /// read (and after any [`delay`](Self::delay)).
    ///
    /// Over HTTP/2 only the stream is reset (`RST_STREAM`), the connection stays up.
    pub fn reset_before_head(mut self) -> Self {
        self.fault = Some(Fault::ResetBeforeHead);
        self
    }

    /// Sends the head (advertising the full `content-length`), then only the first `n_bytes`
    /// of the body as it goes on the wire, then closes the connection (FIN, after those
    /// bytes are flushed), so the client sees a short body / unexpected EOF.
    ///
    /// For a [`streamed`](Self::streamed) (chunked) body the count excludes chunk framing and
    /// the terminating chunk is never sent. If the body has no more than `n_bytes`, it is sent
    /// whole and the reply is normal. Over HTTP/2 the stream is reset instead.
    pub fn truncate_after(mut self, n_bytes: usize) -> Self {
        self.fault = Some(Fault::TruncateAfter(n_bytes));
        self
    }

    /// Replaces the body with chunks produced lazily, sent with chunked transfer encoding and
    /// no `content-length`, so tests can stream bodies far larger than they want in memory.
    ///
    /// `make_chunks` is called each time the reply is sent (so the reply stays `Clone`) and
    /// returns the chunks in order; empty chunks are skipped. Iterator adapters and
    /// [`std::iter::from_fn`] make a generator from a closure:
    ///
    /// ```
    /// # use apify_tests::server::Reply;
    /// # use bytes::Bytes;
    /// let reply = Reply::status(200).header("content-type", "application/json").streamed(|| {
    ///     let items = (0..1_000_000).map(|i| Bytes::from(format!(",{{\"i\":{i}}}")));
    ///     std::iter::once(Bytes::from_static(b"[{}"))
    ///         .chain(items)
    ///         .chain(std::iter::once(Bytes::from_static(b"]")))
    /// });
    /// ```
    pub fn streamed<F, I>(mut self, make_chunks: F) -> Self
    where
        F: Fn() -> I + Send + Sync + 'static,
        I: IntoIterator<Item = Bytes>,
        I::IntoIter: Send + 'static,
    {
        self.body = ReplyBody::Streamed(Arc::new(move || {
            Box::new(make_chunks().into_iter()) as Box<dyn Iterator<Item = Bytes> + Send>
        }));
        self
    }

    /// The status code this reply will send.
    pub fn status_code(&self) -> StatusCode {
        self.status
    }

    /// Turns the reply into a hyper response, applying delay, encoding, pacing and faults.
    ///
    /// An `Err` makes hyper drop the connection without writing anything.
    pub(super) async fn into_response(self, conn: Arc<ConnState>) -> Result<Response<ResBody>, BoxError> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let truncate = match self.fault {
            Some(Fault::ResetBeforeHead) => {
                // The connection wrapper turns the close hyper does on this error into an RST.
                conn.request_abort();
                return Err("scripted reset_before_head".into());
            }
            Some(Fault::TruncateAfter(n)) => Some(n),
            None => None,
        };
        let mut headers = self.headers;
        if let Some(encoding) = self.encoding {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding.name()));
        }
        let body = match self.body {
            ReplyBody::Full(bytes) => {
                let wire = match self.encoding {
                    Some(encoding) => encoding.encode_all(&bytes),
                    None => bytes,
                };
                if self.drip.is_none() && truncate.is_none_or(|n| n >= wire.len()) {
                    Full::new(wire).map_err(|never| match never {}).boxed_unsync()
                } else {
                    // A stream body has no exact size, so advertise the real length by hand.
                    headers.insert(CONTENT_LENGTH, HeaderValue::from(wire.len()));
                    let pacer = Pacer::new(Box::new(std::iter::once(wire)), None, self.drip, truncate, conn);
                    pacer.into_body()
                }
            }
            ReplyBody::Streamed(make_chunks) => {
                headers.remove(CONTENT_LENGTH);
                let pacer = Pacer::new(make_chunks(), self.encoding.map(StreamEncoder::new), self.drip, truncate, conn);
                pacer.into_body()
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = match &self.body {
            ReplyBody::Full(bytes) => format!("{} bytes", bytes.len()),
            ReplyBody::Streamed(_) => "streamed".to_owned(),
        };
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &body)
            .field("encoding", &self.encoding)
            .field("delay", &self.delay)
            .field("drip", &self.drip)
            .field("fault", &self.fault)
            .finish()
    }
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Brotli => "br",
        }
    }

    fn encode_all(self, bytes: &[u8]) -> Bytes {
        let mut encoder = StreamEncoder::new(self);
        let mut out = Vec::from(encoder.push(bytes));
        out.extend_from_slice(&encoder.finish());
        Bytes::from(out)
    }
}

/// Incremental compressor, so streamed bodies are compressed without being held in memory.
enum StreamEncoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
}

impl StreamEncoder {
    fn new(encoding: Encoding) -> Self {
        match encoding {
            Encoding::Gzip => Self::Gzip(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast())),
            Encoding::Brotli => Self::Brotli(Box::new(brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22))),
        }
    }

    /// Feeds `input` and returns whatever compressed output is ready so far.
    fn push(&mut self, input: &[u8]) -> Bytes {
        // Writing into a Vec cannot fail.
        let out = match self {
            Self::Gzip(enc) => {
                enc.write_all(input).expect("gzip into Vec");
                enc.get_mut()
            }
            Self::Brotli(enc) => {
                enc.write_all(input).expect("brotli into Vec");
                enc.get_mut()
            }
        };
        Bytes::from(std::mem::take(out))
    }

    /// Ends the compressed stream and returns its tail.
    fn finish(self) -> Bytes {
        match self {
            Self::Gzip(enc) => Bytes::from(enc.finish().expect("gzip into Vec")),
            Self::Brotli(enc) => Bytes::from(enc.into_inner()),
        }
    }
}

/// Produces the wire body for drip, truncate and streamed replies, one frame at a time.
struct Pacer {
    source: Box<dyn Iterator<Item = Bytes> + Send>,
    encoder: Option<StreamEncoder>,
    source_done: bool,
    /// Wire bytes produced but not yet handed to hyper.
    pending: Bytes,
    drip: Option<Drip>,
    /// Wire bytes still allowed before the scripted truncation.
    budget: Option<usize>,
    conn: Arc<ConnState>,
}

impl Pacer {
    fn new(
        source: Box<dyn Iterator<Item = Bytes> + Send>,
        encoder: Option<StreamEncoder>,
        drip: Option<Drip>,
        budget: Option<usize>,
        conn: Arc<ConnState>,
    ) -> Self {
        Self { source, encoder, source_done: false, pending: Bytes::new(), drip, budget, conn }
    }

    fn into_body(self) -> ResBody {
        let frames = futures_util::stream::unfold(Some(self), |state| async move {
            let mut pacer = state?;
            match pacer.next_frame().await {
                Ok(Some(chunk)) => Some((Ok(Frame::data(chunk)), Some(pacer))),
                Ok(None) => None,
                // Yield the error once, then end; hyper drops the connection on it.
                Err(e) => Some((Err(e), None)),
            }
        });
        StreamBody::new(frames).boxed_unsync()
    }

    /// The next wire chunk, `None` at the end, or the scripted truncation error.
    async fn next_frame(&mut self) -> Result<Option<Bytes>, BoxError> {
        if self.pending.is_empty() && !self.refill() {
            return Ok(None);
        }
        // Only cut when bytes beyond the budget exist: a body of exactly n bytes ends normally.
        if self.budget == Some(0) {
            // hyper has buffered everything sent so far; wait until it reached the socket,
            // otherwise the error would discard it and the client would see fewer bytes.
            self.conn.wait_for_flush().await;
            return Err("scripted truncate_after".into());
        }
        let mut n = self.pending.len();
        if let Some(drip) = self.drip {
            n = n.min(drip.chunk_bytes);
            tokio::time::sleep(drip.interval).await;
        }
        if let Some(budget) = &mut self.budget {
            n = n.min(*budget);
            *budget -= n;
        }
        Ok(Some(self.pending.split_to(n)))
    }

    /// Pulls (and compresses) source chunks until some wire bytes are pending; false at the end.
    fn refill(&mut self) -> bool {
        while self.pending.is_empty() {
            if self.source_done {
                return false;
            }
            match self.source.next() {
                Some(chunk) if chunk.is_empty() => {}
                Some(chunk) => {
                    self.pending = match &mut self.encoder {
                        Some(encoder) => encoder.push(&chunk),
                        None => chunk,
                    };
                }
                None => {
                    self.source_done = true;
                    if let Some(encoder) = self.encoder.take() {
                        self.pending = encoder.finish();
                    }
                }
            }
        }
        true
    }
}

/// `{"data": Run}` of a run with this ID and status (the fields the model requires).
pub fn run_json(id: &str, status: &str) -> serde_json::Value {
    serde_json::json!({"data": {
        "id": id, "actId": "a", "userId": "u", "startedAt": "2026-01-01T00:00:00.000Z", "status": status,
        "meta": {"origin": "API"}, "stats": {},
        "options": {"build": "latest", "timeoutSecs": 0, "memoryMbytes": 1024, "diskMbytes": 2048},
        "buildId": "b", "defaultKeyValueStoreId": "k", "defaultDatasetId": "d", "defaultRequestQueueId": "q",
        "generalAccess": "FOLLOW_USER_SETTING"
    }})
}
