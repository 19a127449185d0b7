//! The emulator: the local API over HTTP on loopback (tokio + hyper), so that any Apify
//! client (Python, JS, ours) can use a local storage folder.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{LocalApi, MAX_BODY_BYTES};

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
    /// runtime. State is persisted every `persist_every` and on shutdown.
    pub async fn bind(addr: SocketAddr, api: LocalApi, persist_every: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let api = api.serving_at(&format!("http://{addr}"));
        let (stop, mut stopped) = watch::channel(false);
        let api = Arc::new(api);
        let done = tokio::spawn(async move {
            let mut persist = tokio::time::interval(persist_every);
            persist.tick().await;
            let mut metadata = tokio::time::interval(Duration::from_secs(1));
            metadata.tick().await;
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let api = api.clone();
                        let mut stopped = stopped.clone();
                        connections.spawn(async move {
                            let service = hyper::service::service_fn(move |req| handle(api.clone(), req));
                            let builder = auto::Builder::new(TokioExecutor::new());
                            let conn = builder.serve_connection(TokioIo::new(stream), service);
                            let mut conn = std::pin::pin!(conn);
                            tokio::select! {
                                _ = conn.as_mut() => {}
                                _ = stopped.changed() => {
                                    // Finish the request in flight, then close.
                                    conn.as_mut().graceful_shutdown();
                                    let _ = conn.await;
                                }
                            }
                        });
                    }
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
            while connections.join_next().await.is_some() {}
            let api = api.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = api.storages().flush() {
                    tracing::error!(error = %e, "persisting the storages on shutdown failed");
                }
            })
            .await;
        });
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

async fn handle(api: Arc<LocalApi>, req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    // Bodies are read up to the API's limit (one byte more proves it is exceeded): an
    // oversized upload is refused without being held in memory.
    let body = match http_body_util::Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let (status, kind, message) = if e.is::<http_body_util::LengthLimitError>() {
                (
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    "request-too-large",
                    format!("The POST payload is too large (limit: {MAX_BODY_BYTES} bytes)."),
                )
            } else {
                (http::StatusCode::BAD_REQUEST, "invalid-request", format!("The request body could not be read: {e}"))
            };
            let body = serde_json::json!({"error": {"type": kind, "message": message}});
            let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
            *r.status_mut() = status;
            r.headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json; charset=utf-8"));
            return Ok(r);
        }
    };
    let small = is_small_read(&parts);
    let request = http::Request::from_parts(parts, body);
    let response = if small {
        Ok(api.handle(request))
    } else {
        // Calls that may read many files or write (and fsync) stay off the async workers.
        tokio::task::spawn_blocking(move || api.handle(request)).await
    };
    Ok(match response {
        Ok(r) => r.map(Full::new),
        Err(_) => {
            let mut r = hyper::Response::new(Full::new(Bytes::from_static(
                br#"{"error":{"type":"internal-server-error","message":"the request handler failed"}}"#,
            )));
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    })
}
