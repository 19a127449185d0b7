//! A scripted fake HTTP server for tests, in the spirit of the per-test fake API of the
//! official Apify Python client.
//!
//! Each test starts its own [`ScriptedServer`] on `127.0.0.1` with a free port, scripts the
//! replies it wants (a FIFO queue, path routes and a fallback), points the client at
//! [`ScriptedServer::base_url`], and afterwards inspects the [`RecordedRequest`]s.
//! [`Reply`] can also misbehave on purpose: stall, trickle, reset, truncate, or stream a
//! huge body lazily.
//!
//! ```
//! use apify_tests::server::{Reply, ScriptedServer};
//! use serde_json::json;
//!
//! let server = ScriptedServer::start();
//! server.enqueue(Reply::status(503));
//! server.enqueue(Reply::json(200, json!({"data": {"id": "abc"}})));
//! // ... point the client at server.base_url() and call it ...
//! # drop(server);
//! ```
//!
//! The server serves HTTP/1.1 and HTTP/2 with prior knowledge (h2c); there is no TLS.

mod conn;
mod reply;
mod request;

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http::{Method, Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use self::conn::{ConnState, FaultableIo};
use self::reply::{BoxError, ResBody};
pub use self::reply::{Reply, run_json};
pub use self::request::RecordedRequest;

/// A route or fallback handler: builds a reply from the request that arrived.
type Handler = Arc<dyn Fn(&RecordedRequest) -> Reply + Send + Sync>;

/// A fake HTTP server on `127.0.0.1:<free port>` that answers with scripted [`Reply`]s and
/// records every request.
///
/// For each request the reply is chosen in this order:
/// 1. the first [`route`](Self::route) (in registration order) matching method and path,
/// 2. else the next reply in the [`enqueue`](Self::enqueue) FIFO queue,
/// 3. else the [`set_fallback`](Self::set_fallback) handler (default: a 500 JSON error of
///    type `test-server-unscripted`).
///
/// The server runs on its own thread with its own single-threaded tokio runtime, so it
/// works the same from blocking tests and from any async runtime. Dropping it stops the
/// accept loop, closes every open connection and joins the thread.
///
/// Handlers run on the server thread: they should be quick and must not block on the
/// client, or they stall every connection.
pub struct ScriptedServer {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Everything the tests script and everything the server records, behind one lock.
struct Script {
    routes: Vec<Route>,
    queue: VecDeque<Reply>,
    fallback: Handler,
    requests: Vec<RecordedRequest>,
}

struct Route {
    method: Method,
    path: PathMatch,
    handler: Handler,
}

enum PathMatch {
    Exact(String),
    Prefix(String),
}

impl Route {
    fn matches(&self, request: &RecordedRequest) -> bool {
        self.method == request.method
            && match &self.path {
                PathMatch::Exact(path) => request.path() == path,
                PathMatch::Prefix(prefix) => request.path().starts_with(prefix.as_str()),
            }
    }
}

impl ScriptedServer {
    /// Starts a server on `127.0.0.1` with an OS-chosen free port.
    ///
    /// # Panics
    ///
    /// Panics if the socket, the runtime or the thread cannot be created.
    pub fn start() -> Self {
        // Loopback only: tests must never expose a listener beyond this machine.
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("ScriptedServer: cannot bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("ScriptedServer: cannot make the listener non-blocking");
        let addr = listener.local_addr().expect("ScriptedServer: no local address");

        let script = Arc::new(Mutex::new(Script {
            routes: Vec::new(),
            queue: VecDeque::new(),
            fallback: Arc::new(unscripted),
            requests: Vec::new(),
        }));
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let thread_script = Arc::clone(&script);
        let thread = std::thread::Builder::new()
            .name(format!("scripted-server-{}", addr.port()))
            .spawn(move || {
                // The runtime is built and dropped on this thread, so dropping it never
                // happens inside the caller's async context (which tokio forbids).
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    accept_loop(listener, thread_script, shutdown_rx).await;
                });
                // Dropping the runtime cancels every connection task, closing their sockets.
                drop(runtime);
            })
            .expect("ScriptedServer: cannot spawn the server thread");
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("ScriptedServer: cannot start: {e}"),
            Err(_) => panic!("ScriptedServer: server thread died during start"),
        }
        Self { addr, script, shutdown: Some(shutdown_tx), thread: Some(thread) }
    }

    /// The bound address (always `127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url()` followed by `path`, e.g. `url("/v2/acts")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Appends a reply to the FIFO queue; each request not taken by a route pops one.
    pub fn enqueue(&self, reply: Reply) -> &Self {
        self.lock().queue.push_back(reply);
        self
    }

    /// How many enqueued replies have not been used yet.
    pub fn queued(&self) -> usize {
        self.lock().queue.len()
    }

    /// Replaces the handler used when no route matches and the queue is empty.
    pub fn set_fallback<F>(&self, handler: F) -> &Self
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        self.lock().fallback = Arc::new(handler);
        self
    }

    /// Serves requests with this method and path from `handler`, ahead of the queue.
    ///
    /// `path` matches the URI path exactly (the query is ignored), or as a prefix when it
    /// ends with `*` (`"/v2/datasets/*"`). Routes are tried in the order they were added.
    pub fn route<F>(&self, method: Method, path: &str, handler: F) -> &Self
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        let path = match path.strip_suffix('*') {
            Some(prefix) => PathMatch::Prefix(prefix.to_owned()),
            None => PathMatch::Exact(path.to_owned()),
        };
        self.lock().routes.push(Route { method, path, handler: Arc::new(handler) });
        self
    }

    /// A copy of every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// How many requests have been received so far.
    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// Returns the requests received so far and forgets them.
    pub fn take_requests(&self) -> Vec<RecordedRequest> {
        std::mem::take(&mut self.lock().requests)
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        lock(&self.script)
    }
}

impl fmt::Debug for ScriptedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread was already reported; don't double-panic here.
            let _ = thread.join();
        }
    }
}

/// A panicking handler must not poison the script for the rest of the test.
fn lock(script: &Mutex<Script>) -> MutexGuard<'_, Script> {
    script.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The default fallback: a loud, recognizable error for requests the test did not script.
fn unscripted(request: &RecordedRequest) -> Reply {
    Reply::json(
        500,
        serde_json::json!({
            "error": {
                "type": "test-server-unscripted",
                "message": format!(
                    "ScriptedServer has no scripted reply for {} {}",
                    request.method, request.uri
                ),
            }
        }),
    )
}

async fn accept_loop(listener: TcpListener, script: Arc<Mutex<Script>>, mut shutdown: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            // Resolves on an explicit send and when the sender is dropped.
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    tokio::spawn(serve_connection(stream, Arc::clone(&script)));
                }
                // Typically out of file descriptors; back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

async fn serve_connection(stream: TcpStream, script: Arc<Mutex<Script>>) {
    // Small scripted chunks (drip) should leave at once, not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let Ok(peer) = stream.peer_addr() else { return };
    let conn = Arc::new(ConnState::default());
    let io = TokioIo::new(FaultableIo::new(stream, Arc::clone(&conn)));
    let service = service_fn(move |request| handle(request, peer, Arc::clone(&script), Arc::clone(&conn)));
    // Errors are expected: scripted faults end connections by failing them.
    let _ = auto::Builder::new(TokioExecutor::new()).serve_connection(io, service).await;
}

async fn handle(
    request: Request<Incoming>,
    peer: SocketAddr,
    script: Arc<Mutex<Script>>,
    conn: Arc<ConnState>,
) -> Result<Response<ResBody>, BoxError> {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    // HTTP/2 requests carry scheme and authority; keep only what HTTP/1.1 would show.
    let uri = parts.uri.path_and_query().cloned().map_or_else(|| Uri::from_static("/"), Uri::from);
    let recorded =
        RecordedRequest { method: parts.method, uri, version: parts.version, headers: parts.headers, body, at, peer };

    let picked = {
        let mut script = lock(&script);
        script.requests.push(recorded.clone());
        if let Some(route) = script.routes.iter().find(|r| r.matches(&recorded)) {
            Err(Arc::clone(&route.handler))
        } else if let Some(reply) = script.queue.pop_front() {
            Ok(reply)
        } else {
            Err(Arc::clone(&script.fallback))
        }
    };
    // Handlers run outside the lock so they cannot deadlock against the test thread.
    let reply = picked.unwrap_or_else(|handler| run_handler(&handler, &recorded));
    reply.into_response(conn).await
}

/// Runs a handler, turning a panic into a 500 reply so the test sees a clear failure.
fn run_handler(handler: &Handler, request: &RecordedRequest) -> Reply {
    catch_unwind(AssertUnwindSafe(|| handler(request))).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".to_owned());
        Reply::json(
            500,
            serde_json::json!({
                "error": {
                    "type": "test-server-handler-panicked",
                    "message": format!(
                        "handler for {} {} panicked: {message}",
                        request.method, request.uri
                    ),
                }
            }),
        )
    })
}
