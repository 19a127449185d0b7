//! [`LocalClient`]: a driver that answers API calls from the local storage folder, in
//! process. The same `ApifyClient` code then works with no token and no network.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use apify_core::client::{
    BlockingHttpClient, BlockingHttpRequest, BlockingHttpResponse, BlockingRequestBody, BlockingResponseBody,
    BoxFuture, Environment, HttpClient, HttpRequest, HttpResponse, RequestBody, ResponseBody,
};
use apify_core::error::{TransportError, TransportErrorKind};
use apify_core::time::{ClockOrigin, Instant};
use bytes::{Bytes, BytesMut};

use crate::api::{ApiConfig, LocalApi};
use crate::storage::{StorageConfig, Storages};

/// An HTTP driver backed by local storages (async and blocking).
#[derive(Clone)]
pub struct LocalClient {
    api: LocalApi,
    origin: ClockOrigin,
}

impl std::fmt::Debug for LocalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalClient").field("root", &self.api.storages().config().root).finish()
    }
}

impl Default for LocalClient {
    /// The storage folder of the environment (`APIFY_LOCAL_STORAGE_DIR`,
    /// `CRAWLEE_STORAGE_DIR`, default `./storage`).
    fn default() -> Self {
        let cfg = StorageConfig::from_env(|k| std::env::var(k).ok());
        Self::new(Arc::new(Storages::new(cfg)))
    }
}

impl LocalClient {
    /// Serves `storages`.
    pub fn new(storages: Arc<Storages>) -> Self {
        let api_cfg = ApiConfig {
            user_id: std::env::var("APIFY_USER_ID").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "local".into()),
            ..ApiConfig::default()
        };
        Self::with_api(LocalApi::new(storages, api_cfg))
    }

    /// Serves an API as configured.
    pub fn with_api(api: LocalApi) -> Self {
        Self { api, origin: ClockOrigin::new(std::time::Instant::now()) }
    }

    /// The storages.
    pub fn storages(&self) -> &Arc<Storages> {
        self.api.storages()
    }

    /// The API router.
    pub fn api(&self) -> &LocalApi {
        &self.api
    }

    fn respond(&self, request: http::Request<Bytes>) -> (http::StatusCode, http::HeaderMap, Bytes) {
        let (parts, body) = self.api.handle(request).into_parts();
        (parts.status, parts.headers, body)
    }
}

impl Environment for LocalClient {
    fn now(&self) -> Instant {
        self.origin.to_core(std::time::Instant::now())
    }

    fn wall_clock(&self) -> Option<SystemTime> {
        Some(SystemTime::now())
    }

    fn random_seed(&self) -> u64 {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_or(0x5EED, |()| u64::from_le_bytes(b))
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

fn body_error(e: impl Into<apify_core::error::BoxError>) -> TransportError {
    TransportError::new(TransportErrorKind::RequestBody, e)
}

impl HttpClient for LocalClient {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.request.into_parts();
        let body = match body {
            RequestBody::Full(b) => b,
            RequestBody::Stream(mut s) => {
                let mut buf = BytesMut::new();
                while let Some(chunk) = std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await {
                    buf.extend_from_slice(&chunk?);
                }
                buf.freeze()
            }
        };
        let (status, headers, body) = self.respond(http::Request::from_parts(parts, body));
        Ok(HttpResponse { status, headers, body: ResponseBody::Full(body) })
    }

    fn sleep(&self, duration: Duration) -> Option<BoxFuture<'static, ()>> {
        Some(Box::pin(ThreadSleep::new(duration)))
    }
}

impl BlockingHttpClient for LocalClient {
    fn call(&self, request: BlockingHttpRequest) -> Result<BlockingHttpResponse, TransportError> {
        let (parts, body) = request.request.into_parts();
        let body = match body {
            BlockingRequestBody::Full(b) => b,
            BlockingRequestBody::Reader(mut r) => {
                let mut buf = Vec::new();
                r.read_to_end(&mut buf).map_err(body_error)?;
                buf.into()
            }
        };
        let (status, headers, body) = self.respond(http::Request::from_parts(parts, body));
        Ok(BlockingHttpResponse { status, headers, body: BlockingResponseBody::Full(body) })
    }

    fn sleep(&self, duration: Duration) -> bool {
        std::thread::sleep(duration);
        true
    }
}

/// A runtime-agnostic sleep: a thread waits and wakes the task (retries of local calls are
/// rare, so a thread per wait is fine, and no async runtime is assumed).
struct ThreadSleep {
    duration: Duration,
    state: Option<Arc<Mutex<Wake>>>,
}

/// Whether the time is up, and whom to wake when it is.
type Wake = (bool, Option<Waker>);

impl ThreadSleep {
    fn new(duration: Duration) -> Self {
        Self { duration, state: None }
    }
}

impl Future for ThreadSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let duration = self.duration;
        let state = self.state.get_or_insert_with(|| {
            let state = Arc::new(Mutex::new((false, None::<Waker>)));
            let s = state.clone();
            std::thread::spawn(move || {
                std::thread::sleep(duration);
                let mut g = s.lock().unwrap_or_else(|p| p.into_inner());
                g.0 = true;
                if let Some(w) = g.1.take() {
                    w.wake();
                }
            });
            state
        });
        let mut g = state.lock().unwrap_or_else(|p| p.into_inner());
        if g.0 {
            Poll::Ready(())
        } else {
            g.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}
