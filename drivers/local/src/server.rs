//! The emulator: the local API over HTTP on loopback (tokio + hyper), so that any Apify
//! client (Python, JS, ours) can use a local storage folder.
//!
//! Connections are bounded in number and in time (see [`ServerOptions`]): a client that
//! connects and sends nothing, trickles a request head, stalls its body or keeps an idle
//! connection open cannot hold descriptors forever, and running out of descriptors makes the
//! server back off instead of spinning.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};

use crate::api::{ApiFailure, LocalApi, MAX_BODY_BYTES, too_large};
use crate::platform::{Platform, PlatformOptions, Routed, ServerBody};

/// How the emulator treats connections. `Default` gives the `apify-local serve` defaults.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How often request-queue state records are written for the Python SDK (also on
    /// shutdown).
    pub persist_every: Duration,
    /// Longest wait for a request head (HTTP/1), counted from when the connection starts
    /// waiting for it: a client trickling its headers is closed after it, and so is a
    /// kept-alive connection that sends no next request. `None` or zero: no limit.
    pub header_read_timeout: Option<Duration>,
    /// Longest time to receive a request body once its head is in; past it the answer is
    /// 408 and the connection is closed. `None` or zero: no limit.
    pub body_read_timeout: Option<Duration>,
    /// A connection with no request in flight that moves no bytes for this long is closed
    /// (HTTP/1 and HTTP/2, also one that never sends anything). `None` or zero: no limit.
    pub idle_timeout: Option<Duration>,
    /// Most connections served at once; `None`: half the soft descriptor limit, at most
    /// 1024, so that storage files always find descriptors. At the limit the connection idle
    /// longest is closed to make room; when all are busy a newcomer gets 503 and is closed.
    pub max_connections: Option<usize>,
    /// The local Actors and how their runs are run.
    pub platform: PlatformOptions,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            persist_every: Duration::from_secs(60),
            header_read_timeout: Some(Duration::from_secs(30)),
            body_read_timeout: Some(Duration::from_secs(60)),
            idle_timeout: Some(Duration::from_secs(30)),
            platform: PlatformOptions::default(),
            max_connections: None,
        }
    }
}

/// First pause after a failed `accept`; it doubles up to [`MAX_ACCEPT_BACKOFF`].
const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
/// A warning is logged once per burst of failures; a burst ends after this long without one.
const BURST_GAP: Duration = Duration::from_secs(5);
/// How long a newcomer waits for a slot freed by closing an idle connection.
const SLOT_WAIT: Duration = Duration::from_millis(500);
/// An evicted connection still open after this (a half-sent head, a stalled read of an
/// answer) is dropped, unless a request is in flight.
const EVICT_GRACE: Duration = Duration::from_millis(250);
/// After an answer given before the body was read, the rest of the upload is read and
/// dropped for at most this long and this much.
const LINGER_TIME: Duration = Duration::from_secs(5);
const LINGER_BYTES: usize = 64 << 20;

/// A read of one record or of one storage's metadata touches a file or two, usually in
/// the page cache: it is served on the worker, sparing two thread hand-offs (which cost
/// more than the read).
fn is_small_read(parts: &http::request::Parts) -> bool {
    if parts.method != http::Method::GET {
        return false;
    }
    let segments: Vec<&str> = parts.uri.path().trim_matches('/').split('/').collect();
    matches!(segments.as_slice(), ["v2", _, _] | ["v2", "key-value-stores", _, "records", _])
}

/// A running emulator; dropping the handle leaves it running until `shutdown`.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (use port 0 for a free port) and serves `api` on the current tokio
    /// runtime with the default [`ServerOptions`]. State is persisted every `persist_every`
    /// and on shutdown.
    pub async fn bind(addr: SocketAddr, api: LocalApi, persist_every: Duration) -> io::Result<Self> {
        Self::bind_with(addr, api, ServerOptions { persist_every, ..ServerOptions::default() }).await
    }

    /// Binds `addr` and serves `api` with `options`.
    ///
    /// The storage folder is served by one process at a time: this takes
    /// `<storage dir>/.locks/serve.lock` and fails (`WouldBlock`, naming the folder and the
    /// lock) while another server holds it.
    pub async fn bind_with(addr: SocketAddr, api: LocalApi, options: ServerOptions) -> io::Result<Self> {
        let lock = lock_folder(&api.storages().config().root)?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let api = Arc::new(api.serving_at(&url));
        let platform = Platform::open(api.clone(), url, options.platform.clone());
        let (stop, stopped) = watch::channel(false);
        let done = tokio::spawn(run(listener, platform, api, options, stopped, lock));
        Ok(Self { addr, stop, done })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets requests in flight finish, persists state, and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.done.await;
    }
}

/// Held while serving: a second server on the same folder would fail storage by storage
/// at request time (each storage is locked by its opener), so it is refused at start.
#[derive(Debug)]
struct ServeLock {
    _file: File,
}

fn lock_folder(root: &Path) -> io::Result<ServeLock> {
    let dir = root.join(".locks");
    std::fs::create_dir_all(&dir).map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", dir.display())))?;
    let path = dir.join("serve.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(ServeLock { _file: file }),
        Err(TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "the storage folder {} is already being served by another process (lock {}); point clients at that server or stop it first",
                root.display(),
                path.display()
            ),
        )),
        Err(TryLockError::Error(e)) => Err(io::Error::new(e.kind(), format!("locking {}: {e}", path.display()))),
    }
}

/// Half the soft descriptor limit: the other half is for storage files, the blocking
/// pool's reads and writes, and the runtime.
fn default_max_connections() -> usize {
    #[cfg(target_os = "linux")]
    {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(u64::MAX);
        usize::try_from(soft / 2).unwrap_or(usize::MAX).clamp(16, 1024)
    }
    #[cfg(not(target_os = "linux"))]
    {
        128
    }
}

/// What the server knows about one connection.
#[derive(Debug)]
struct Conn {
    born: Instant,
    /// Milliseconds after `born` of the last byte read or written, or request finished.
    last_active_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// Answered before the request body was read: read and drop the rest before closing.
    linger: AtomicBool,
    evicting: AtomicBool,
    evict: Notify,
}

impl Conn {
    fn new() -> Self {
        Self {
            born: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            linger: AtomicBool::new(false),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        self.born.elapsed().saturating_sub(Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed)))
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
    }
}

/// Resolves once `conn` has had no request in flight and moved no bytes for `timeout`.
async fn idle(conn: &Conn, timeout: Option<Duration>) {
    let Some(timeout) = timeout else { return std::future::pending().await };
    loop {
        let quiet = conn.idle_for();
        if quiet >= timeout && !conn.busy() {
            return;
        }
        let wait = if conn.busy() { timeout.max(Duration::from_millis(100)) } else { timeout - quiet };
        tokio::time::sleep(wait.max(Duration::from_millis(5))).await;
    }
}

/// Resolves `grace` from now, or later once no request is in flight: unlike [`idle`], a
/// peer trickling bytes does not extend it.
async fn after_grace(conn: &Conn, grace: Duration) {
    tokio::time::sleep(grace).await;
    while conn.busy() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A request being answered on a connection.
struct InFlight(Arc<Conn>);

impl InFlight {
    fn enter(conn: &Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        conn.touch();
        Self(conn.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // Idle time counts from the end of the last request.
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The live connections, for choosing one to close when a newcomer needs its slot.
#[derive(Debug, Default)]
struct Live {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Live {
    fn register(self: &Arc<Self>, conn: Arc<Conn>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.conns.lock().unwrap_or_else(PoisonError::into_inner).insert(id, conn);
        Registered { live: self.clone(), id }
    }

    /// Asks the connection idle longest (no request in flight) to close; false if every
    /// connection is busy.
    fn evict_idlest(&self) -> bool {
        let conns = self.conns.lock().unwrap_or_else(PoisonError::into_inner);
        let victim =
            conns.values().filter(|c| !c.busy() && !c.evicting.load(Ordering::Relaxed)).max_by_key(|c| c.idle_for());
        let Some(victim) = victim else { return false };
        victim.evicting.store(true, Ordering::Relaxed);
        victim.evict.notify_one();
        true
    }
}

struct Registered {
    live: Arc<Live>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.live.conns.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
    }
}

/// The socket of a connection: records activity, and holds the connection's slot until the
/// socket is closed (after lingering, if it does).
struct Tracked {
    stream: Option<TcpStream>,
    conn: Arc<Conn>,
    slot: Option<OwnedSemaphorePermit>,
}

fn closed() -> io::Error {
    io::Error::from(io::ErrorKind::NotConnected)
}

impl AsyncRead for Tracked {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(stream) = this.stream.as_mut() else { return Poll::Ready(Err(closed())) };
        let before = buf.filled().len();
        let polled = Pin::new(stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(stream) = this.stream.as_mut() else { return Poll::Ready(Err(closed())) };
        let polled = Pin::new(stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.conn.touch();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(stream) = this.stream.as_mut() else { return Poll::Ready(Err(closed())) };
        let polled = Pin::new(stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.conn.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(TcpStream::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream.as_mut() {
            Some(stream) => Pin::new(stream).poll_flush(cx),
            None => Poll::Ready(Err(closed())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream.as_mut() {
            Some(stream) => Pin::new(stream).poll_shutdown(cx),
            None => Poll::Ready(Err(closed())),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.conn.linger.load(Ordering::Relaxed) {
            return;
        }
        if let (Some(stream), Ok(rt)) = (self.stream.take(), tokio::runtime::Handle::try_current()) {
            rt.spawn(linger(stream, self.slot.take()));
        }
    }
}

/// Closing a socket with unread data sends a reset, which can destroy the answer before
/// the client reads it (a client still uploading sees a broken pipe, never the 413): the
/// rest of the upload is read and dropped first, within limits.
async fn linger(mut stream: TcpStream, _slot: Option<OwnedSemaphorePermit>) {
    let _ = stream.shutdown().await;
    let deadline = tokio::time::Instant::now() + LINGER_TIME;
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = LINGER_BYTES;
    while left > 0 {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
}

/// One warning per burst of the same trouble, not one per occurrence.
#[derive(Debug, Default)]
struct Burst {
    last: Option<Instant>,
}

impl Burst {
    /// Records an occurrence; true if it starts a burst.
    fn hit(&mut self) -> bool {
        let now = Instant::now();
        let starts = self.last.is_none_or(|t| now.duration_since(t) > BURST_GAP);
        self.last = Some(now);
        starts
    }
}

/// Errors about one connection (gone before it was taken), not about the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionRefused
    )
}

async fn accept_after(
    listener: &TcpListener,
    resume_at: Option<tokio::time::Instant>,
) -> io::Result<(TcpStream, SocketAddr)> {
    if let Some(at) = resume_at {
        tokio::time::sleep_until(at).await;
    }
    listener.accept().await
}

/// Every connection is busy: say so and close (best effort; the socket is not read).
fn refuse(stream: &TcpStream) {
    let body =
        r#"{"error":{"type":"server-busy","message":"The emulator is at its connection limit; retry shortly."}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.try_write(answer.as_bytes());
}

async fn run(
    listener: TcpListener,
    platform: Arc<Platform>,
    api: Arc<LocalApi>,
    options: ServerOptions,
    mut stopped: watch::Receiver<bool>,
    lock: ServeLock,
) {
    // Zero means no limit, as on the command line.
    let enabled = |d: Option<Duration>| d.filter(|d| !d.is_zero());
    let options = ServerOptions {
        header_read_timeout: enabled(options.header_read_timeout),
        body_read_timeout: enabled(options.body_read_timeout),
        idle_timeout: enabled(options.idle_timeout),
        ..options
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let limit = options.max_connections.unwrap_or_else(default_max_connections).max(1);
    let slots = Arc::new(Semaphore::new(limit));
    let live = Arc::new(Live::default());
    let mut accept_failures = Burst::default();
    let mut refusals = Burst::default();
    let mut backoff: Option<Duration> = None;
    let mut resume_at = None;

    let mut persist = tokio::time::interval(options.persist_every);
    persist.tick().await;
    let mut metadata = tokio::time::interval(Duration::from_secs(1));
    metadata.tick().await;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = accept_after(&listener, resume_at) => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) if is_per_connection(&e) => continue,
                    Err(e) => {
                        // EMFILE and the like: accepting again at once would fail again at
                        // once, a busy loop serving nothing.
                        let delay = backoff.map_or(MIN_ACCEPT_BACKOFF, |d| (d * 2).min(MAX_ACCEPT_BACKOFF));
                        backoff = Some(delay);
                        resume_at = Some(tokio::time::Instant::now() + delay);
                        if accept_failures.hit() {
                            tracing::warn!(error = %e, "accepting connections failed; backing off (out of file descriptors? see --max-connections)");
                        }
                        // An idle connection's descriptor lets the next accept through.
                        live.evict_idlest();
                        continue;
                    }
                };
                backoff = None;
                resume_at = None;
                let slot = match slots.clone().try_acquire_owned() {
                    Ok(slot) => Some(slot),
                    Err(_) => {
                        live.evict_idlest();
                        tokio::time::timeout(SLOT_WAIT, slots.clone().acquire_owned()).await.ok().and_then(Result::ok)
                    }
                };
                let Some(slot) = slot else {
                    if refusals.hit() {
                        tracing::warn!(limit, "all connections are busy; new ones are answered 503 (see --max-connections)");
                    }
                    refuse(&stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let conn = Arc::new(Conn::new());
                let registered = live.register(conn.clone());
                let io = TokioIo::new(Tracked { stream: Some(stream), conn: conn.clone(), slot: Some(slot) });
                connections.spawn(serve_connection(
                    builder.clone(),
                    io,
                    conn,
                    registered,
                    platform.clone(),
                    options.clone(),
                    stopped.clone(),
                ));
            }
            // Finished connections are reaped as they go, not kept until shutdown.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = metadata.tick() => {
                let api = api.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(e) = api.storages().flush_metadata() {
                        tracing::warn!(error = %e, "writing storage metadata failed");
                    }
                })
                .await;
            }
            _ = persist.tick() => {
                let api = api.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(e) = api.storages().flush() {
                        tracing::warn!(error = %e, "persisting the storages failed");
                    }
                })
                .await;
            }
            _ = stopped.changed() => break,
        }
    }
    drop(listener);
    // Runs first: their end answers the long polls and log streams still open.
    platform.shutdown().await;
    while connections.join_next().await.is_some() {}
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(e) = api.storages().flush() {
            tracing::error!(error = %e, "persisting the storages on shutdown failed");
        }
    })
    .await;
    // Released only once everything is on disk.
    drop(lock);
}

async fn serve_connection(
    builder: auto::Builder<TokioExecutor>,
    io: TokioIo<Tracked>,
    conn: Arc<Conn>,
    _registered: Registered,
    platform: Arc<Platform>,
    options: ServerOptions,
    mut stopped: watch::Receiver<bool>,
) {
    let body_timeout = options.body_read_timeout;
    let on = conn.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let started = Instant::now();
        let method = req.method().clone();
        let target = loggable_target(req.uri());
        let in_flight = InFlight::enter(&on);
        let answer = handle(platform.clone(), on.clone(), body_timeout, req);
        async move {
            let response = answer.await;
            drop(in_flight);
            tracing::debug!(%method, path = %target, status = response.status().as_u16(), elapsed = ?started.elapsed(), "request");
            Ok::<_, Infallible>(response)
        }
    });
    let served = builder.serve_connection(io, service);
    let mut served = std::pin::pin!(served);
    let evicted = tokio::select! {
        _ = served.as_mut() => return,
        _ = stopped.changed() => false,
        () = idle(&conn, options.idle_timeout) => false,
        () = conn.evict.notified() => true,
    };
    // Finish the request in flight, then close; a peer that never lets go (a stalled read
    // of the answer, a half-sent head) is dropped once idle.
    served.as_mut().graceful_shutdown();
    tokio::select! {
        _ = served.as_mut() => {}
        () = after_grace(&conn, EVICT_GRACE), if evicted => {}
        () = idle(&conn, options.idle_timeout), if !evicted => {}
    }
}

/// The request target for the log: the path and the query without its `token` parameter
/// (however its name is encoded: the API decodes names).
fn loggable_target(uri: &http::Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else { return path.to_owned() };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| url::form_urlencoded::parse(pair.as_bytes()).next().is_none_or(|(name, _)| name != "token"))
        .collect();
    if kept.is_empty() { path.to_owned() } else { format!("{path}?{}", kept.join("&")) }
}

/// An answer given before the body was read to its end: the connection (HTTP/1) cannot
/// carry another request, so it says it closes and lingers on the unread rest.
fn without_the_body(conn: &Conn, version: http::Version, failure: ApiFailure) -> hyper::Response<ServerBody> {
    let mut response = failure.into_response().map(|b| Full::new(b).boxed());
    if version < http::Version::HTTP_2 {
        conn.linger.store(true, Ordering::Relaxed);
        response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    }
    response
}

async fn handle(
    platform: Arc<Platform>,
    conn: Arc<Conn>,
    body_timeout: Option<Duration>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<ServerBody> {
    let (parts, body) = req.into_parts();
    // Refused from the head when it declares too much: the body is never polled, so hyper
    // sends no `100 Continue` and a client that waits for one gets the 413 at once.
    let declared = body.size_hint().lower();
    if declared > MAX_BODY_BYTES as u64 {
        let failure = too_large(Some(usize::try_from(declared).unwrap_or(usize::MAX)));
        return without_the_body(&conn, parts.version, failure);
    }
    // Read up to the API's limit: a chunked upload is refused as soon as it passes it,
    // never held in memory.
    let read = http_body_util::Limited::new(body, MAX_BODY_BYTES).collect();
    let read = match body_timeout {
        Some(limit) => match tokio::time::timeout(limit, read).await {
            Ok(read) => read,
            Err(_) => {
                let failure = ApiFailure::new(
                    http::StatusCode::REQUEST_TIMEOUT,
                    "request-timeout",
                    format!("The request body did not arrive within {} ms.", limit.as_millis()),
                );
                return without_the_body(&conn, parts.version, failure);
            }
        },
        None => read.await,
    };
    let body = match read {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return without_the_body(&conn, parts.version, too_large(None));
        }
        Err(e) => {
            let failure = ApiFailure::bad_request(format!("The request body could not be read: {e}"));
            return without_the_body(&conn, parts.version, failure);
        }
    };
    let (request, status) = match platform.route(http::Request::from_parts(parts, body)).await {
        Routed::Answer(response) => return response,
        Routed::Storage(request, status) => (request, status),
    };
    let (parts, body) = request.into_parts();
    let small = is_small_read(&parts);
    let api = platform.api().clone();
    let request = http::Request::from_parts(parts, body);
    let response = if small {
        Ok(api.handle(request))
    } else {
        // Calls that may read many files or write (and fsync) stay off the async workers.
        tokio::task::spawn_blocking(move || api.handle(request)).await
    };
    match response {
        Ok(mut r) => {
            // run-sync answers a finished run's record or items with 201.
            if let Some(status) = status.filter(|_| r.status().is_success()) {
                *r.status_mut() = status;
            }
            r.map(|b| Full::new(b).boxed())
        }
        Err(e) => {
            tracing::error!(error = %e, "the request handler failed");
            ApiFailure::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal-server-error",
                "the request handler failed",
            )
            .into_response()
            .map(|b| Full::new(b).boxed())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_target_never_has_the_token() {
        let target = |s: &str| loggable_target(&s.parse::<http::Uri>().unwrap());
        assert_eq!(target("/v2/datasets"), "/v2/datasets");
        assert_eq!(target("/v2/datasets?token=s3cret"), "/v2/datasets");
        assert_eq!(target("/v2/datasets?limit=1&token=s3cret&offset=2"), "/v2/datasets?limit=1&offset=2");
        // Encoded names are tokens to the API, so they are dropped too.
        assert_eq!(target("/v2/datasets?%74oken=s3cret&desc=1"), "/v2/datasets?desc=1");
        assert_eq!(target("/v2/datasets?tokens=x"), "/v2/datasets?tokens=x");
    }

    #[test]
    fn a_burst_warns_once() {
        let mut burst = Burst::default();
        assert!(burst.hit());
        assert!(!burst.hit());
        assert!(!burst.hit());
        burst.last = Instant::now().checked_sub(BURST_GAP * 2);
        assert!(burst.hit());
    }

    #[test]
    fn the_idlest_free_connection_is_evicted() {
        let live = Arc::new(Live::default());
        let (old, new, busy) = (Arc::new(Conn::new()), Arc::new(Conn::new()), Arc::new(Conn::new()));
        std::thread::sleep(Duration::from_millis(20));
        new.touch();
        let _in_flight = InFlight::enter(&busy);
        let _r = [live.register(old.clone()), live.register(new.clone()), live.register(busy.clone())];
        assert!(live.evict_idlest());
        assert!(old.evicting.load(Ordering::Relaxed));
        assert!(live.evict_idlest());
        assert!(new.evicting.load(Ordering::Relaxed));
        // Only the busy one is left: nothing to close.
        assert!(!live.evict_idlest());
        assert!(!busy.evicting.load(Ordering::Relaxed));
    }
}
