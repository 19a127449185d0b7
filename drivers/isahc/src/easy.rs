//! Pooled libcurl easy handles, configured and read by the caller, performed either on
//! the caller's thread (blocking calls with buffered responses) or by a
//! [`crate::multi::Agent`] (async calls, streamed responses through a [`Pipe`]).
//!
//! isahc's blocking API hands every request to its agent thread and waits for the answer,
//! which costs two thread crossings per call (about 60 µs on a small GET, BENCHMARKS.md).
//! Here blocking calls run curl where the caller already blocks. Easy handles are pooled
//! and each keeps its connections alive, so a thread that calls again reuses its
//! connection.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apify_core::client::BlockingRequestBody;
use apify_core::client::decoding::{self, DecodedReader};
use apify_core::codec::ACCEPT_ENCODING;
use apify_core::error::{TransportError, TransportErrorKind};
use bytes::{Buf, Bytes};
use curl::easy::{Easy2, Handler, HttpVersion, List, ReadError, SeekResult, SslOpt, WriteError};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use apify_core::net::{Proxy, ProxyConfig};

use crate::classify;
use crate::pipe::Pipe;

/// Largest body reserved up front from `Content-Length` (more grows as it arrives).
const MAX_RESERVE: usize = 16 * 1024 * 1024;

/// curl's receive buffer for streamed responses: the size of the chunks they arrive in.
const STREAM_CHUNK: usize = 64 * 1024;

/// Bodies up to this size are copied out of a handle's receive buffer, which the handle
/// keeps for its next call; larger ones are handed over whole and the buffer starts anew.
const KEPT_BUFFER: usize = 64 * 1024;

/// The client settings easy handles need.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) connect_timeout: Duration,
    pub(crate) http2_prior_knowledge: bool,
    /// Idle handles kept (each with its open connections).
    pub(crate) max_idle: usize,
    /// The trust store isahc uses by default: `$SSL_CERT_FILE` if set, else (`None`) the
    /// system's, which curl built with rustls reads through rustls-platform-verifier.
    pub(crate) ca_file: Option<std::path::PathBuf>,
    /// With added roots: the whole trust store as one PEM bundle (curl's rustls backend
    /// reads either the system's store or a bundle, not both).
    pub(crate) ca_bundle: Option<Arc<Vec<u8>>>,
    /// Which proxy each request goes through; set on every handle (an empty proxy stops
    /// curl from reading the environment by rules of its own).
    pub(crate) proxy: Arc<ProxyConfig>,
}

impl Settings {
    pub(crate) fn ca_file_from_env() -> Option<std::path::PathBuf> {
        std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()).map(Into::into)
    }
}

/// Idle easy handles, shared by the clones of one client.
pub(crate) struct EasyPool {
    settings: Settings,
    idle: Mutex<Vec<Easy2<Exchange>>>,
}

impl EasyPool {
    pub(crate) fn new(settings: Settings) -> Self {
        Self { settings, idle: Mutex::new(Vec::new()) }
    }

    fn checkout(&self) -> Easy2<Exchange> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        idle.unwrap_or_else(|| Easy2::new(Exchange::default()))
    }

    fn checkin(&self, mut easy: Easy2<Exchange>) {
        // Drop what the call left (a caller's reader, a large body's capacity).
        easy.get_mut().recycle();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.settings.max_idle {
            idle.push(easy);
        }
    }

    /// A handle set up for one attempt, to be performed and then given to [`Self::finish`];
    /// with a `pipe`, the response streams through it ([`Self::finish_stream`]).
    pub(crate) fn prepare(
        &self,
        parts: http::request::Parts,
        body: BlockingRequestBody,
        timeout: Option<Duration>,
        pipe: Option<Arc<Pipe>>,
        max_body: Option<u64>,
    ) -> Result<Easy2<Exchange>, TransportError> {
        let mut easy = self.checkout();
        match configure(&mut easy, &self.settings, parts, body, timeout, pipe.is_some()) {
            Ok(()) => {
                easy.get_mut().pipe = pipe;
                easy.get_mut().max_body = max_body;
                Ok(easy)
            }
            Err(e) => {
                self.checkin(easy);
                Err(e)
            }
        }
    }

    /// The response (or error) of a performed handle; the handle goes back to the pool.
    pub(crate) fn finish(
        &self,
        mut easy: Easy2<Exchange>,
        performed: Result<(), curl::Error>,
    ) -> Result<Response, TransportError> {
        let exchange = easy.get_mut();
        let result = match performed {
            Ok(()) => exchange.response(),
            Err(e) => Err(exchange.error(e)),
        };
        // After a failure curl has closed the connection: the handle itself is fine.
        self.checkin(easy);
        result
    }

    /// How a streamed transfer ended; the handle goes back to the pool.
    pub(crate) fn finish_stream(
        &self,
        mut easy: Easy2<Exchange>,
        performed: Result<(), curl::Error>,
    ) -> Result<(), TransportError> {
        let result = performed.map_err(|e| easy.get_mut().error(e));
        self.checkin(easy);
        result
    }

    /// Sends one attempt on the caller's thread and reads the whole response.
    pub(crate) fn call(
        &self,
        parts: http::request::Parts,
        body: BlockingRequestBody,
        timeout: Option<Duration>,
        max_body: Option<u64>,
    ) -> Result<Response, TransportError> {
        let easy = self.prepare(parts, body, timeout, None, max_body)?;
        let performed = easy.perform();
        self.finish(easy, performed)
    }
}

/// A whole response, its body decoded.
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// The options of a handle that stay from one call to the next when they are the same:
/// a call shaped like the handle's last one (same method, headers, kind of body) sets only
/// its URL, timeout and body. Rebuilding curl's header list and resetting the handle cost
/// some 40 small allocations per call, which threads calling at once contend for.
#[derive(PartialEq)]
struct Shape {
    method: Method,
    headers: HeaderMap,
    sends_body: bool,
    /// A body of unknown length (sent chunked).
    chunked: bool,
    streamed: bool,
    proxy: Option<Proxy>,
}

/// Sets the options of one attempt on a (possibly reused) handle.
fn configure(
    easy: &mut Easy2<Exchange>,
    settings: &Settings,
    parts: http::request::Parts,
    body: BlockingRequestBody,
    timeout: Option<Duration>,
    streamed: bool,
) -> Result<(), TransportError> {
    let unsupported = |e: &dyn std::fmt::Display| TransportError::new(TransportErrorKind::Unsupported, e.to_string());
    let known_length = match &body {
        BlockingRequestBody::Full(b) => Some(b.len() as u64),
        BlockingRequestBody::Reader(_) => None,
    };
    // Like hyper, an empty POST/PUT/PATCH still says `Content-Length: 0`.
    let sends_body = !matches!(&body, BlockingRequestBody::Full(b) if b.is_empty())
        || matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
    let proxy = settings.proxy.proxy_for(&parts.uri).cloned();
    let tunnel = proxy.is_some() && parts.uri.scheme_str() == Some("https");
    let shape = Shape {
        method: parts.method,
        headers: parts.headers,
        sends_body,
        chunked: known_length.is_none(),
        streamed,
        proxy,
    };
    if easy.get_ref().shape.as_ref() != Some(&shape) {
        // Until it is complete the handle has no known shape: a failure here leaves the
        // next call to start from defaults.
        easy.get_mut().shape = None;
        let mut lines = Vec::with_capacity(shape.headers.len() + 4);
        for (name, value) in &shape.headers {
            let value = value.to_str().map_err(|_| unsupported(&format_args!("header {name} is not visible ASCII")))?;
            lines.push(format!("{name}: {value}"));
        }
        set_shape(easy, settings, &shape, lines).map_err(|e| unsupported(&e))?;
        easy.get_mut().shape = Some(shape);
    }
    set_call(easy, &parts.uri, timeout, streamed, known_length.filter(|_| sends_body)).map_err(|e| unsupported(&e))?;
    easy.get_mut().start(body);
    easy.get_mut().tunnel_pending = tunnel;
    Ok(())
}

/// Back to curl's defaults, then the options of a shape.
fn set_shape(
    easy: &mut Easy2<Exchange>,
    settings: &Settings,
    shape: &Shape,
    header_lines: Vec<String>,
) -> Result<(), curl::Error> {
    // Keeps the handle's connections, DNS and TLS session caches.
    easy.reset();
    easy.http_version(if settings.http2_prior_knowledge { HttpVersion::V2PriorKnowledge } else { HttpVersion::V2TLS })?;
    easy.connect_timeout(settings.connect_timeout)?;
    easy.tcp_nodelay(true)?;
    // The core follows redirects and decodes bodies itself: both stay off here.
    easy.follow_location(false)?;
    match (&settings.ca_bundle, &settings.ca_file) {
        (Some(bundle), _) => easy.ssl_cainfo_blob(bundle)?,
        (None, Some(path)) => easy.cainfo(path)?,
        (None, None) => easy.ssl_options(SslOpt::new().native_ca(true))?,
    }
    match &shape.proxy {
        Some(p) => {
            easy.proxy(&p.url())?;
            if let Some(c) = p.expose_credentials() {
                let (user, password) = c.split_once(':').unwrap_or((c, ""));
                easy.proxy_username(user)?;
                easy.proxy_password(password)?;
            }
        }
        None => easy.proxy("")?,
    }
    if shape.streamed {
        // Fewer, larger chunks through the pipe.
        easy.buffer_size(STREAM_CHUNK)?;
    }
    if shape.sends_body {
        // A body is read through the read callback whatever the method.
        easy.post(true)?;
    }
    match shape.method {
        Method::GET if !shape.sends_body => {}
        Method::POST if shape.sends_body => {}
        Method::HEAD => easy.nobody(true)?,
        ref m => easy.custom_request(m.as_str())?,
    }

    let mut list = List::new();
    for line in &header_lines {
        list.append(line)?;
    }
    if !shape.headers.contains_key(header::ACCEPT_ENCODING) {
        list.append(&format!("{}: {ACCEPT_ENCODING}", header::ACCEPT_ENCODING))?;
    }
    // No `Expect: 100-continue` round trip before large bodies.
    list.append("Expect:")?;
    if shape.sends_body {
        if !shape.headers.contains_key(header::CONTENT_TYPE) {
            // Not the form type curl would add to a POST.
            list.append("Content-Type:")?;
        }
        if shape.chunked && !shape.headers.contains_key(header::CONTENT_LENGTH) {
            list.append("Transfer-Encoding: chunked")?;
        }
    }
    easy.http_headers(list)
}

/// The options that change from call to call: every one set, whatever the last call set.
fn set_call(
    easy: &mut Easy2<Exchange>,
    uri: &http::Uri,
    timeout: Option<Duration>,
    streamed: bool,
    body_length: Option<u64>,
) -> Result<(), curl::Error> {
    easy.url(&uri.to_string())?;
    // Zero turns a limit off.
    let t = timeout.unwrap_or_default();
    if streamed {
        // A streamed body is read at the caller's pace (a paused transfer is exempt from
        // the speed check): only a stall of the server, no byte for `t`, fails it.
        easy.low_speed_limit(u32::from(timeout.is_some()))?;
        easy.low_speed_time(t)?;
    } else {
        easy.timeout(t)?;
    }
    if let Some(n) = body_length {
        easy.post_field_size(n)?;
    }
    Ok(())
}

/// What the request sends.
#[derive(Default)]
enum Upload {
    #[default]
    None,
    /// The whole body and how far curl has read it (it may rewind to resend).
    Full(Bytes, usize),
    Reader(Box<dyn Read + Send>),
}

/// One request and its response, filled by curl's callbacks.
///
/// The callbacks only copy bytes into buffers the handle keeps from call to call, and the
/// caller's thread parses them: with async calls the callbacks run on the agent thread,
/// and memory allocated there and freed by the caller made the two threads contend for
/// the allocator's locks.
#[derive(Default)]
pub(crate) struct Exchange {
    upload: Upload,
    /// Why the caller's body failed (curl only learns that it was aborted).
    upload_error: Option<io::Error>,
    status: Option<StatusCode>,
    /// The header lines of the latest head, each followed by `\n`.
    head: Vec<u8>,
    /// The blank line after a final (not 1xx) status was seen.
    head_done: bool,
    /// A header line that is not HTTP (the transfer is aborted).
    bad_head: Option<String>,
    body: Vec<u8>,
    /// Where a streamed response goes (its head as soon as it is complete, then the body).
    pipe: Option<Arc<Pipe>>,
    /// The options the handle holds (kept from call to call).
    shape: Option<Shape>,
    /// The core's limit of a buffered body: past it (on the wire, then decoded) the
    /// transfer is aborted.
    max_body: Option<u64>,
    too_large: bool,
    /// The first head to come is the proxy's answer to `CONNECT`, not the response.
    tunnel_pending: bool,
    /// What the proxy answered to `CONNECT`, when it refused.
    connect_status: Option<StatusCode>,
}

impl Exchange {
    #[cfg(test)]
    fn new(body: BlockingRequestBody) -> Self {
        let mut ex = Self::default();
        ex.start(body);
        ex
    }

    pub(crate) fn pipe(&self) -> Option<&Arc<Pipe>> {
        self.pipe.as_ref()
    }

    /// Readies a recycled exchange for a new request.
    fn start(&mut self, body: BlockingRequestBody) {
        self.upload = match body {
            BlockingRequestBody::Full(b) if b.is_empty() => Upload::None,
            BlockingRequestBody::Full(b) => Upload::Full(b, 0),
            BlockingRequestBody::Reader(r) => Upload::Reader(r),
        };
    }

    /// Forgets the last call, keeping buffers of a reasonable size.
    fn recycle(&mut self) {
        self.upload = Upload::None;
        self.upload_error = None;
        self.status = None;
        self.head_done = false;
        self.bad_head = None;
        self.pipe = None;
        self.max_body = None;
        self.too_large = false;
        self.tunnel_pending = false;
        self.connect_status = None;
        for buf in [&mut self.head, &mut self.body] {
            buf.clear();
            if buf.capacity() > KEPT_BUFFER {
                *buf = Vec::new();
            }
        }
    }

    fn response(&mut self) -> Result<Response, TransportError> {
        let status = self.status.filter(|_| self.head_done).ok_or_else(|| {
            TransportError::msg(TransportErrorKind::Protocol, "curl finished without a response head")
        })?;
        // One copy of the head, which the values then share; the buffer stays with the handle.
        let mut headers = parse_head(Bytes::copy_from_slice(&self.head))?;
        let raw = if self.body.len() <= KEPT_BUFFER {
            let copy = Bytes::copy_from_slice(&self.body);
            self.body.clear();
            copy
        } else {
            Bytes::from(std::mem::take(&mut self.body))
        };
        let body = match decoding::take_decoder(&mut headers) {
            Some(decoder) => DecodedReader::new(raw.reader(), Some(decoder)).limit(self.max_body).read_all()?,
            None => raw,
        };
        Ok(Response { status, headers, body })
    }

    fn error(&mut self, e: curl::Error) -> TransportError {
        if self.connect_status == Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED) {
            let msg = "the proxy answered 407 Proxy Authentication Required to CONNECT";
            return TransportError::msg(TransportErrorKind::ProxyAuth, msg);
        }
        if let Some(status) = self.connect_status {
            let msg = format!("the proxy answered {status} to CONNECT");
            return TransportError::msg(TransportErrorKind::Connect, msg);
        }
        if let (true, Some(limit)) = (self.too_large, self.max_body) {
            return decoding::too_large(limit);
        }
        if let Some(cause) = self.upload_error.take() {
            return TransportError::new(TransportErrorKind::RequestBody, cause);
        }
        if let Some(line) = self.bad_head.take() {
            return TransportError::msg(TransportErrorKind::Protocol, format!("invalid response header line: {line}"));
        }
        classify::curl_error(e, self.head_done)
    }

    fn header_line(&mut self, line: &[u8]) -> Result<(), ()> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.head_done {
            // Trailers: the response was already described by its head.
            return Ok(());
        }
        if line.starts_with(b"HTTP/") {
            // A new head (the previous one was 1xx): start over.
            self.head.clear();
            let code = line.split(|b| *b == b' ').nth(1).unwrap_or_default();
            self.status = Some(StatusCode::from_bytes(code).map_err(|_| ())?);
        } else if line.is_empty() && self.tunnel_pending && self.status.is_some_and(|s| !s.is_informational()) {
            // curl hands the proxy's answer to `CONNECT` to the header callback too.
            self.tunnel_pending = false;
            let status = self.status.take();
            if !status.is_some_and(|s| s.is_success()) {
                self.connect_status = status;
            }
            self.head.clear();
        } else if line.is_empty() {
            self.head_done = self.status.is_some_and(|s| !s.is_informational());
            if let (true, Some(pipe), Some(status)) = (self.head_done, &self.pipe, self.status) {
                pipe.head(status, std::mem::take(&mut self.head));
            }
        } else {
            // Checked enough here to stop a transfer that is not HTTP; parsed in `response`.
            let colon = line.iter().position(|b| *b == b':').ok_or(())?;
            if line[..colon].trim_ascii().eq_ignore_ascii_case(b"content-length")
                && let Some(n) = std::str::from_utf8(line[colon + 1..].trim_ascii()).ok().and_then(|v| v.parse().ok())
            {
                self.body.reserve(usize::min(n, MAX_RESERVE));
            }
            self.head.extend_from_slice(line);
            self.head.push(b'\n');
        }
        Ok(())
    }
}

/// The header lines `Exchange` collected (each followed by `\n`); the values are slices of
/// `head`, not copies.
pub(crate) fn parse_head(head: Bytes) -> Result<HeaderMap, TransportError> {
    let mut headers = HeaderMap::with_capacity(head.iter().filter(|b| **b == b'\n').count());
    for line in head.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let (name, value) = parse_header_line(&head, line).ok_or_else(|| {
            TransportError::msg(
                TransportErrorKind::Protocol,
                format!("invalid response header line: {}", String::from_utf8_lossy(line)),
            )
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// One line of `head`.
fn parse_header_line(head: &Bytes, line: &[u8]) -> Option<(HeaderName, HeaderValue)> {
    let colon = line.iter().position(|b| *b == b':')?;
    let name = HeaderName::from_bytes(line[..colon].trim_ascii()).ok()?;
    let value = HeaderValue::from_maybe_shared(head.slice_ref(line[colon + 1..].trim_ascii())).ok()?;
    Some((name, value))
}

impl Handler for Exchange {
    fn header(&mut self, data: &[u8]) -> bool {
        match self.header_line(data) {
            Ok(()) => true,
            Err(()) => {
                self.bad_head = Some(String::from_utf8_lossy(data).trim_end().to_owned());
                false
            }
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        match &self.pipe {
            // A full pipe pauses the transfer; curl offers the same bytes again on resume.
            Some(pipe) if !pipe.push(data) => Err(WriteError::Pause),
            Some(_) => Ok(data.len()),
            None => {
                if self.max_body.is_some_and(|l| (self.body.len() + data.len()) as u64 > l) {
                    // Returning less than offered aborts the transfer (curl error 23).
                    self.too_large = true;
                    return Ok(0);
                }
                self.body.extend_from_slice(data);
                Ok(data.len())
            }
        }
    }

    fn read(&mut self, into: &mut [u8]) -> Result<usize, ReadError> {
        match &mut self.upload {
            Upload::None => Ok(0),
            Upload::Full(b, pos) => {
                let rest = b.get(*pos..).unwrap_or_default();
                let n = rest.len().min(into.len());
                into[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                Ok(n)
            }
            Upload::Reader(r) => loop {
                match r.read(into) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.upload_error = Some(e);
                        return Err(ReadError::Abort);
                    }
                }
            },
        }
    }

    fn seek(&mut self, whence: io::SeekFrom) -> SeekResult {
        // curl rewinds to resend on a fresh connection when a reused one turned out dead;
        // a whole body can be replayed, a reader cannot.
        match (&mut self.upload, whence) {
            (Upload::Full(b, pos), io::SeekFrom::Start(n)) if n <= b.len() as u64 => {
                *pos = n as usize;
                SeekResult::Ok
            }
            (Upload::None, io::SeekFrom::Start(0)) => SeekResult::Ok,
            _ => SeekResult::CantSeek,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&str]) -> (Exchange, Vec<bool>) {
        let mut ex = Exchange::default();
        let ok = lines.iter().map(|l| ex.header(l.as_bytes())).collect();
        (ex, ok)
    }

    #[test]
    fn a_head_after_an_informational_one_replaces_it() {
        let (mut ex, ok) = feed(&[
            "HTTP/1.1 100 Continue\r\n",
            "x-early: 1\r\n",
            "\r\n",
            "HTTP/1.1 201 Created\r\n",
            "Content-Type: application/json\r\n",
            "X-Twice: a\r\n",
            "X-Twice: b\r\n",
            "\r\n",
            "x-trailer: late\r\n",
        ]);
        assert!(ok.iter().all(|b| *b));
        assert!(ex.head_done);
        assert_eq!(ex.status, Some(StatusCode::CREATED));
        let r = ex.response().expect("response");
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers.get_all("x-twice").iter().count(), 2);
        assert!(!r.headers.contains_key("x-early"));
        assert!(!r.headers.contains_key("x-trailer"));
    }

    #[test]
    fn a_recycled_exchange_keeps_small_buffers_and_forgets_the_call() {
        let (mut ex, _) = feed(&["HTTP/1.1 200 OK\r\n", "Content-Length: 5\r\n", "\r\n"]);
        ex.write(b"hello").expect("write");
        let r = ex.response().expect("response");
        assert_eq!(r.body, "hello");
        assert_eq!(r.headers["content-length"], "5");
        ex.recycle();
        assert!(ex.body.capacity() >= 5 && ex.head.is_empty() && ex.status.is_none() && !ex.head_done);
        // The next call sees nothing of the last one.
        for l in ["HTTP/1.1 204 No Content\r\n", "\r\n"] {
            assert!(ex.header(l.as_bytes()));
        }
        let r = ex.response().expect("response");
        assert!(r.body.is_empty() && r.headers.is_empty());
        // A large body is handed over whole, and the handle does not hoard its memory.
        let big = vec![7u8; KEPT_BUFFER + 1];
        ex.write(&big).expect("write");
        assert_eq!(ex.response().expect("response").body.len(), big.len());
        ex.recycle();
        assert!(ex.body.capacity() <= KEPT_BUFFER);
    }

    #[test]
    fn a_header_line_that_does_not_parse_fails_the_response() {
        let (mut ex, ok) = feed(&["HTTP/1.1 200 OK\r\n", "bad name: x\r\n", "\r\n"]);
        assert!(ok.iter().all(|b| *b));
        let e = ex.response().err().expect("an error");
        assert_eq!(e.kind(), TransportErrorKind::Protocol);
        assert!(e.to_string().contains("bad name: x"), "{e}");
    }

    #[test]
    fn http2_status_lines_parse() {
        let (ex, _) = feed(&["HTTP/2 404 \r\n", "\r\n"]);
        assert_eq!(ex.status, Some(StatusCode::NOT_FOUND));
        assert!(ex.head_done);
    }

    #[test]
    fn a_malformed_line_aborts_with_the_line_kept() {
        let (mut ex, ok) = feed(&["HTTP/1.1 200 OK\r\n", "no colon here\r\n"]);
        assert_eq!(ok, [true, false]);
        let e = ex.error(curl::Error::new(23));
        assert_eq!(e.kind(), TransportErrorKind::Protocol);
        assert!(e.to_string().contains("no colon here"), "{e}");
        let (_, ok) = feed(&["HTTP/1.1 2x0 OK\r\n"]);
        assert_eq!(ok, [false]);
    }

    #[test]
    fn a_whole_body_rewinds_and_a_reader_does_not() {
        let mut ex = Exchange::new(BlockingRequestBody::Full(Bytes::from_static(b"abcdef")));
        let mut buf = [0u8; 4];
        assert_eq!(ex.read(&mut buf).ok(), Some(4));
        assert!(matches!(ex.seek(io::SeekFrom::Start(0)), SeekResult::Ok));
        assert_eq!(ex.read(&mut buf).ok(), Some(4));
        assert_eq!(&buf, b"abcd");
        let mut ex = Exchange::new(BlockingRequestBody::Reader(Box::new(io::Cursor::new(b"xy".to_vec()))));
        assert!(matches!(ex.seek(io::SeekFrom::Start(0)), SeekResult::CantSeek));
    }

    /// A server that answers each request with the request it read (head and body).
    fn echo_server() -> String {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let mut reader = BufReader::new(conn);
                let (mut seen, mut length) = (String::new(), 0);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    seen.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                seen.push_str(&String::from_utf8_lossy(&body));
                let reply =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{seen}", seen.len());
                let _ = reader.get_mut().write_all(reply.as_bytes());
            }
        });
        url
    }

    #[test]
    fn a_reused_handle_sends_each_call_as_asked() {
        let url = echo_server();
        let pool = EasyPool::new(Settings {
            connect_timeout: Duration::from_secs(5),
            http2_prior_knowledge: false,
            max_idle: 1,
            ca_file: None,
            ca_bundle: None,
            proxy: Default::default(),
        });
        let call = |method: Method, path: &str, header: &'static str, body: &'static str| {
            let request = http::Request::builder()
                .method(method)
                .uri(format!("{url}{path}"))
                .header("x-mark", header)
                .body(())
                .unwrap();
            let body = BlockingRequestBody::Full(Bytes::from_static(body.as_bytes()));
            let r = pool.call(request.into_parts().0, body, Some(Duration::from_secs(5)), None).expect("call");
            String::from_utf8(r.body.to_vec()).unwrap().to_ascii_lowercase()
        };
        // One idle handle: every call below reuses it.
        let put = call(Method::PUT, "/a", "1", "abc");
        assert!(put.starts_with("put /a http/1.1\r\n"), "{put}");
        assert!(put.contains("x-mark: 1\r\n") && put.contains("content-length: 3\r\n") && put.ends_with("abc"));
        // Same shape, longer body, other URL.
        let put = call(Method::PUT, "/b", "1", "abcdefg");
        assert!(put.starts_with("put /b http/1.1\r\n") && put.contains("content-length: 7\r\n"), "{put}");
        assert!(put.ends_with("abcdefg"));
        // Another method, no body: nothing of the PUT remains.
        let get = call(Method::GET, "/c", "1", "");
        assert!(get.starts_with("get /c http/1.1\r\n") && !get.contains("content-length"), "{get}");
        // Other headers.
        let get = call(Method::GET, "/c", "2", "");
        assert!(get.contains("x-mark: 2\r\n") && !get.contains("x-mark: 1"), "{get}");
        // An empty PUT still says so.
        let put = call(Method::PUT, "/d", "2", "");
        assert!(put.starts_with("put /d http/1.1\r\n") && put.contains("content-length: 0\r\n"), "{put}");
        let head = pool.call(
            http::Request::head(format!("{url}/e")).body(()).unwrap().into_parts().0,
            BlockingRequestBody::Full(Bytes::new()),
            None,
            None,
        );
        assert_eq!(head.expect("head").status, StatusCode::OK);
        let get = call(Method::GET, "/f", "2", "");
        assert!(get.starts_with("get /f http/1.1\r\n"), "{get}");
    }

    #[test]
    fn a_failing_reader_is_a_request_body_error_with_its_cause() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk gone"))
            }
        }
        let mut ex = Exchange::new(BlockingRequestBody::Reader(Box::new(Broken)));
        assert!(ex.read(&mut [0u8; 8]).is_err());
        let e = ex.error(curl::Error::new(42));
        assert_eq!(e.kind(), TransportErrorKind::RequestBody);
        assert!(std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("disk gone")));
    }
}
