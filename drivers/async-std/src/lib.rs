//! The async-std driver of the Apify API client: async-std's own TCP and timers, rustls
//! over them, and HTTP/1.1 from ureq-proto's sans-IO state machine. No tokio anywhere in
//! its dependency tree.
//!
//! ```no_run
//! # async fn run() -> Result<(), apify_async_std::Error> {
//! let client = apify_async_std::ApifyClient::new("MY-APIFY-TOKEN");
//! let page = client.dataset("username~my-dataset").list_items().limit(10u64).await?;
//! println!("{} of {} items", page.items.len(), page.total);
//! # Ok(()) }
//! # async_std::task::block_on(run()).unwrap();
//! ```
//!
//! Connections are kept alive and pooled per origin; an idle connection the server has
//! closed is noticed before it is used. Each attempt has a whole-request timeout (streamed bodies: one for the head,
//! then one per chunk). Retries, redirects and body decoding are decided by [`apify_core`].

mod conn;
mod exchange;

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use apify_core::client::decoding::{self, DecodedStream, SleepFn};
use apify_core::client::{
    BoxFuture, ByteStream, Environment, HttpClient, HttpRequest, HttpResponse, RequestBody, ResponseBody,
};
use apify_core::codec::ACCEPT_ENCODING;
use apify_core::error::{TransportError, TransportErrorKind};
use apify_core::net::{ProxyConfig, RootCertificate};
use apify_core::time::{ClockOrigin, Instant};
use http::header::{self, HeaderValue};

pub use apify_core;
pub use apify_core::prelude::*;

use conn::{Origin, Pool};

/// The Apify client on async-std.
pub type ApifyClient = apify_core::client::ApifyClient<AsyncStdClient>;

/// Settings of [`AsyncStdClient`].
#[derive(Debug, Clone)]
pub struct AsyncStdClientBuilder {
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    extra_roots: Vec<RootCertificate>,
    // `None`: read from the environment when building.
    proxy: Option<ProxyConfig>,
}

impl Default for AsyncStdClientBuilder {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 32,
            extra_roots: Vec::new(),
            proxy: None,
        }
    }
}

impl AsyncStdClientBuilder {
    /// Time allowed to connect and finish the TLS handshake (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// How long an idle connection is kept (default 90 s).
    pub fn pool_idle_timeout(mut self, d: Duration) -> Self {
        self.pool_idle_timeout = d;
        self
    }

    /// Idle connections kept per host (default 32).
    pub fn pool_max_idle_per_host(mut self, n: usize) -> Self {
        self.pool_max_idle_per_host = n;
        self
    }

    /// Trusts this certificate authority too, besides the webpki roots.
    pub fn add_root_certificate(mut self, root: RootCertificate) -> Self {
        self.extra_roots.push(root);
        self
    }

    /// The proxies to use, instead of those of the environment (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, read when the client is built);
    /// [`ProxyConfig::none`] for none. `https://` targets are tunnelled with `CONNECT`,
    /// `http://` ones asked of the proxy in absolute form.
    pub fn proxy(mut self, proxy: ProxyConfig) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Builds the client; fails only if an added root is not a certificate.
    pub fn build(self) -> Result<AsyncStdClient, std::io::Error> {
        let proxy = self.proxy.unwrap_or_else(|| ProxyConfig::from_env(|k| std::env::var(k).ok()));
        let pool = Pool::new(
            self.connect_timeout,
            self.pool_max_idle_per_host,
            self.pool_idle_timeout,
            &self.extra_roots,
            proxy,
        )?;
        Ok(AsyncStdClient { pool: Arc::new(pool), origin: ClockOrigin::new(std::time::Instant::now()) })
    }
}

/// An [`HttpClient`] on async-std. Clones share the connection pool.
#[derive(Clone)]
pub struct AsyncStdClient {
    pool: Arc<Pool>,
    origin: ClockOrigin,
}

impl std::fmt::Debug for AsyncStdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStdClient").finish_non_exhaustive()
    }
}

impl Default for AsyncStdClient {
    fn default() -> Self {
        // No extra roots: nothing can fail.
        AsyncStdClientBuilder::default().build().unwrap_or_else(|e| panic!("building the HTTP client failed: {e}"))
    }
}

impl AsyncStdClient {
    /// Default settings: pooled keep-alive connections, webpki roots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Custom settings.
    pub fn builder() -> AsyncStdClientBuilder {
        AsyncStdClientBuilder::default()
    }

    /// Sends on a pooled connection (one the server has not closed), or a new one.
    async fn exchange(
        &self,
        mut parts: http::request::Parts,
        body: RequestBody,
    ) -> Result<exchange::Head, TransportError> {
        let origin = Origin::of(&parts.uri)?;
        // An `http://` target through a proxy is asked of the proxy (a tunnel carries its own).
        let proxy = self.pool.proxy_for(&parts.uri).filter(|_| parts.uri.scheme_str() == Some("http"));
        let proxied = proxy.is_some();
        if let Some(auth) = proxy.and_then(|p| p.authorization()) {
            parts.headers.insert(header::PROXY_AUTHORIZATION, auth);
        }
        let conn = match self.pool.checkout(&origin) {
            Some(conn) => conn,
            // Boxed: a TLS handshake's state is large, and this future is part of every
            // call's, which is copied as a call is set up.
            None => Box::pin(self.pool.connect(&origin)).await?,
        };
        exchange::send(conn, origin, self.pool.clone(), parts, body, proxied).await
    }
}

impl Environment for AsyncStdClient {
    fn now(&self) -> Instant {
        self.origin.to_core(std::time::Instant::now())
    }

    fn wall_clock(&self) -> Option<SystemTime> {
        Some(SystemTime::now())
    }

    fn random_seed(&self) -> u64 {
        // RandomState is seeded from the OS; no extra crate needed.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos());
        h.finish()
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// The body's chunks as a stream.
fn chunks(reader: exchange::BodyReader) -> ByteStream {
    Box::pin(futures_util::stream::unfold(reader, |mut r| async move {
        match r.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), r)),
            Ok(None) => None,
            Err(e) => Some((Err(e), r)),
        }
    }))
}

fn timed_out(t: Duration) -> TransportError {
    TransportError::msg(TransportErrorKind::Timeout, format!("no complete response within {t:?}"))
}

impl HttpClient for AsyncStdClient {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let HttpRequest { request, timeout, stream_response, max_body } = request;
        let (mut parts, body) = request.into_parts();
        parts.headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(ACCEPT_ENCODING));
        let exchange = async {
            let head = self.exchange(parts, body).await?;
            let (mut response, ()) = head.response.into_parts();
            let decoder = decoding::take_decoder(&mut response.headers);
            if stream_response {
                return Ok((response, Err((head.body, decoder))));
            }
            Ok((response, Ok(decoding::collect_decoded_limited(chunks(head.body), decoder, max_body).await?)))
        };
        // Not `async_std::future::timeout`: an async fn, it would hold `exchange` twice.
        let deadline = async {
            match timeout {
                Some(t) => {
                    async_std::task::sleep(t).await;
                    Err(timed_out(t))
                }
                None => std::future::pending().await,
            }
        };
        let (response, body) = futures_lite::future::or(exchange, deadline).await?;
        let body = match body {
            Ok(bytes) => ResponseBody::Full(bytes),
            Err((reader, decoder)) => {
                let sleep: SleepFn = Arc::new(|d| Box::pin(async_std::task::sleep(d)));
                ResponseBody::Stream(Box::pin(DecodedStream::new(chunks(reader), decoder).idle_timeout(timeout, sleep)))
            }
        };
        Ok(HttpResponse { status: response.status, headers: response.headers, body })
    }

    fn sleep(&self, duration: Duration) -> Option<BoxFuture<'static, ()>> {
        Some(Box::pin(async_std::task::sleep(duration)))
    }
}
