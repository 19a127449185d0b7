//! A raw TCP server for faults an HTTP server library will not commit: answering in the
//! middle of an upload, closing a keep-alive connection as the next request arrives,
//! speaking TLS with a bad certificate, acting as a proxy.
//!
//! Each connection runs `handler` on a thread of its own with blocking sockets and 10 s
//! read and write timeouts, so nothing a client does can hang a test. The server listens
//! on `127.0.0.1` only, and stops accepting when dropped.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A loopback server that hands each accepted connection (and its 0-based index) to a
/// handler.
pub struct RawServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RawServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// Longest a connection may block on a read or a write.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

impl RawServer {
    /// Starts listening; `handler(index, stream)` serves each connection.
    pub fn start(handler: impl Fn(usize, TcpStream) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("RawServer: cannot bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("RawServer: non-blocking listener");
        let addr = listener.local_addr().expect("RawServer: local address");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let handler = Arc::new(handler);
        let (stop2, accepted2) = (stop.clone(), accepted.clone());
        let thread = std::thread::Builder::new()
            .name(format!("raw-server-{}", addr.port()))
            .spawn(move || {
                while !stop2.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let index = accepted2.fetch_add(1, Ordering::SeqCst);
                            let handler = handler.clone();
                            let _ = stream.set_nonblocking(false);
                            let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
                            let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
                            let _ = stream.set_nodelay(true);
                            std::thread::spawn(move || handler(index, stream));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
            .expect("RawServer: accept thread");
        Self { addr, stop, accepted, thread: Some(thread) }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A request head read off a connection.
#[derive(Debug, Clone)]
pub struct RawHead {
    /// `GET`, `CONNECT`...
    pub method: String,
    /// The request target as sent (origin form, absolute form or `host:port`).
    pub target: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

impl RawHead {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> Option<usize> {
        self.header("content-length").and_then(|v| v.trim().parse().ok())
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }
}

/// Reads HTTP/1.1 requests off a stream, keeping what it read ahead.
pub struct HttpReader<S> {
    /// The connection.
    pub stream: S,
    buf: Vec<u8>,
}

impl<S: Read + Write> HttpReader<S> {
    /// Wraps a connection.
    pub fn new(stream: S) -> Self {
        Self { stream, buf: Vec::new() }
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next request head; `None` when the client closed the connection first.
    pub fn head(&mut self) -> io::Result<Option<RawHead>> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                let mut lines = text.split("\r\n");
                let mut first = lines.next().unwrap_or_default().split(' ');
                let method = first.next().unwrap_or_default().to_owned();
                let target = first.next().unwrap_or_default().to_owned();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                return Ok(Some(RawHead { method, target, headers }));
            }
            if self.fill()? == 0 {
                return Ok(None);
            }
        }
    }

    /// Up to `n` bytes of the body that follows (what the client sent, whatever the framing).
    pub fn some_body(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                break;
            }
        }
        let take = n.min(self.buf.len());
        Ok(self.buf.drain(..take).collect())
    }

    /// The whole body of `head` (`Content-Length` or chunked), de-chunked.
    pub fn body(&mut self, head: &RawHead) -> io::Result<Vec<u8>> {
        if head.chunked() {
            let mut out = Vec::new();
            loop {
                let line = self.line()?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {line:?}")))?;
                if size == 0 {
                    // Trailers, then the blank line.
                    while !self.line()?.is_empty() {}
                    return Ok(out);
                }
                out.extend(self.exact(size)?);
                self.line()?;
            }
        }
        self.exact(head.content_length().unwrap_or(0))
    }

    fn exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "body cut short"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(line);
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "line cut short"));
            }
        }
    }

    /// Bytes read ahead and not yet consumed (handed on when tunnelling).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Writes a response with a `Content-Length`.
    pub fn respond(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
        self.stream.write_all(&response(status, headers, body))?;
        self.stream.flush()
    }
}

/// A response with a `Content-Length`, as bytes.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        407 => "Proxy Authentication Required",
        413 => "Content Too Large",
        502 => "Bad Gateway",
        _ => "Status",
    }
}

/// Ends a connection the way servers do after an early answer (nginx's lingering close):
/// no more writes, then what the client still sends is read and dropped for a while, so
/// that closing does not reset the connection before the client has read the answer.
pub fn lingering_close(stream: &TcpStream, for_at_most: Duration) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let until = Instant::now() + for_at_most;
    let mut sink = [0u8; 64 * 1024];
    let mut s = stream;
    while Instant::now() < until {
        match s.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
}
