//! The isahc (libcurl) driver of the Apify API client: one pooled client that is both
//! blocking and async.
//!
//! ```no_run
//! // No async runtime at all: `send()` blocks.
//! let client = apify_isahc::ApifyClient::new("MY-APIFY-TOKEN");
//! let page = client.dataset("username~my-dataset").list_items().limit(10u64).send()?;
//! println!("{} of {} items", page.items.len(), page.total);
//!
//! // The same client awaited from any executor (here futures-lite's `block_on`).
//! # futures_lite::future::block_on(async {
//! let page = client.dataset("username~my-dataset").list_items().limit(10u64).await?;
//! # Ok::<_, apify_isahc::Error>(()) })?;
//! # Ok::<_, apify_isahc::Error>(())
//! ```
//!
//! libcurl pools connections, negotiates HTTP/2 by ALPN and speaks TLS through rustls
//! (statically built: no system curl or OpenSSL). Blocking calls run curl on the caller's
//! thread; async calls and streamed responses are driven by a curl multi handle on a
//! thread of the client's own (pooled, ready-configured curl handles: nearly twice
//! isahc's throughput on small calls; a streamed body pauses curl while the reader is
//! behind). An async streamed upload, which that thread must not wait for, runs a blocking
//! handle on a thread of its own; isahc's client is left only for a streamed upload whose
//! response is streamed too.
//! Timeouts are curl's: a whole-transfer timeout for buffered responses, and a low-speed
//! limit (no byte for the attempt's timeout) for streamed ones. Waits between retries use `async-io`'s timer, which works
//! under any executor. Retries, redirects and body decoding are decided by [`apify_core`].

mod body;
mod classify;
mod easy;
mod multi;
mod pipe;

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use apify_core::client::decoding::{self, DecodedReader, DecodedStream, SleepFn};
use apify_core::client::{
    BlockingHttpClient, BlockingHttpRequest, BlockingHttpResponse, BlockingRequestBody, BlockingResponseBody,
    BoxFuture, Environment, HttpClient, HttpRequest, HttpResponse, RequestBody, ResponseBody,
};
use apify_core::codec::ACCEPT_ENCODING;
use apify_core::error::{TransportError, TransportErrorKind};
use apify_core::net::{ProxyConfig, RootCertificate};
use apify_core::time::{ClockOrigin, Instant};
use http::header::{self, HeaderValue};
use isahc::config::{Configurable, RedirectPolicy, VersionNegotiation};

pub use apify_core;
pub use apify_core::prelude::*;

/// The Apify client on isahc: `.send()` blocks, `.await` works under any executor.
pub type ApifyClient = apify_core::client::ApifyClient<IsahcClient>;

/// Settings of [`IsahcClient`].
#[derive(Debug, Clone)]
pub struct IsahcClientBuilder {
    connect_timeout: Duration,
    max_connections_per_host: usize,
    connection_cache_size: usize,
    http2_prior_knowledge: bool,
    agents: usize,
    extra_roots: Vec<RootCertificate>,
    // `None`: read from the environment when building.
    proxy: Option<ProxyConfig>,
}

impl Default for IsahcClientBuilder {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            max_connections_per_host: 0,
            connection_cache_size: 64,
            http2_prior_knowledge: false,
            // One thread drives about as many small calls as a raw hyper client on two
            // cores (BENCHMARKS.md); more only split the connection pool.
            agents: 1,
            extra_roots: Vec::new(),
            proxy: None,
        }
    }
}

impl IsahcClientBuilder {
    /// Time allowed to establish a connection (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Concurrent connections per host of each async agent and of streamed responses
    /// (default 0: unlimited). Other blocking calls use one connection per calling thread.
    pub fn max_connections_per_host(mut self, n: usize) -> Self {
        self.max_connections_per_host = n;
        self
    }

    /// Idle connections kept for reuse (default 64), and idle curl handles.
    pub fn connection_cache_size(mut self, n: usize) -> Self {
        self.connection_cache_size = n;
        self
    }

    /// Speaks HTTP/2 without negotiation, also over plain `http://` (h2c).
    pub fn http2_prior_knowledge(mut self, on: bool) -> Self {
        self.http2_prior_knowledge = on;
        self
    }

    /// Threads (each with its own curl multi handle and connection pool) that async calls
    /// are spread over, round robin. Default 1; more help only when one thread's core is
    /// saturated. The connection limits above apply to each.
    pub fn agents(mut self, n: usize) -> Self {
        self.agents = n.max(1);
        self
    }

    /// Trusts this certificate authority too, besides the system's store (or
    /// `$SSL_CERT_FILE`).
    pub fn add_root_certificate(mut self, root: RootCertificate) -> Self {
        self.extra_roots.push(root);
        self
    }

    /// The proxies to use, instead of those of the environment (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, read when the client is built by the core's
    /// rules, not curl's); [`ProxyConfig::none`] for none.
    pub fn proxy(mut self, proxy: ProxyConfig) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Builds the client (starts its agent threads and isahc's).
    pub fn build(self) -> Result<IsahcClient, isahc::Error> {
        let proxy = Arc::new(self.proxy.unwrap_or_else(|| ProxyConfig::from_env(|k| std::env::var(k).ok())));
        let ca_file = easy::Settings::ca_file_from_env();
        let ca_bundle = (!self.extra_roots.is_empty()).then(|| Arc::new(bundle(ca_file.as_deref(), &self.extra_roots)));
        let versions = if self.http2_prior_knowledge {
            VersionNegotiation::http2()
        } else {
            VersionNegotiation::latest_compatible()
        };
        let streams = isahc::HttpClient::builder()
            // The core follows redirects itself (and drops the token across hosts) and
            // decodes bodies with the encodings it advertises.
            .redirect_policy(RedirectPolicy::None)
            .automatic_decompression(false)
            .version_negotiation(versions.clone())
            .connect_timeout(self.connect_timeout)
            .max_connections_per_host(self.max_connections_per_host)
            .connection_cache_size(self.connection_cache_size)
            .tcp_nodelay();
        let streams = match &ca_bundle {
            Some(pem) => {
                let store = isahc::tls::TrustStore::builder().certificate_from_pem(pem.as_slice()).build();
                streams.tls_config(isahc::tls::TlsConfig::builder().trust_store(store).build())
            }
            None => streams,
        }
        .build()?;
        let limits = multi::Limits {
            max_connections_per_host: self.max_connections_per_host,
            connection_cache_size: self.connection_cache_size,
        };
        let agents = (0..self.agents).map(|_| multi::Agent::start(limits)).collect::<Result<Vec<_>, _>>()?;
        let settings = easy::Settings {
            connect_timeout: self.connect_timeout,
            http2_prior_knowledge: self.http2_prior_knowledge,
            max_idle: self.connection_cache_size,
            ca_file,
            ca_bundle,
            proxy: proxy.clone(),
        };
        Ok(IsahcClient {
            shared: Arc::new(Shared {
                agents,
                next: AtomicUsize::new(0),
                async_handles: Arc::new(easy::EasyPool::new(settings.clone())),
                streams,
                proxy,
            }),
            easy: Arc::new(easy::EasyPool::new(settings)),
            origin: ClockOrigin::new(std::time::Instant::now()),
        })
    }
}

/// An [`HttpClient`] and [`BlockingHttpClient`] on libcurl. Clones share the agent threads,
/// their connection pools and the idle curl handles.
#[derive(Clone)]
pub struct IsahcClient {
    shared: Arc<Shared>,
    /// Blocking calls with buffered responses run curl on the caller's thread.
    easy: Arc<easy::EasyPool>,
    origin: ClockOrigin,
}

impl std::fmt::Debug for IsahcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IsahcClient").finish_non_exhaustive()
    }
}

impl Default for IsahcClient {
    fn default() -> Self {
        // Fails only if libcurl cannot initialise (out of memory, no thread).
        IsahcClientBuilder::default().build().unwrap_or_else(|e| panic!("starting libcurl failed: {e}"))
    }
}

impl IsahcClient {
    /// Default settings: pooled, HTTP/2 by ALPN, the system's trust store (or `$SSL_CERT_FILE`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Custom settings.
    pub fn builder() -> IsahcClientBuilder {
        IsahcClientBuilder::default()
    }
}

/// What async calls and streamed responses run on.
struct Shared {
    /// Async calls with whole bodies both ways, round robin.
    agents: Vec<multi::Agent>,
    next: AtomicUsize,
    /// Idle handles of those calls (their connections belong to the agents' multi handles).
    async_handles: Arc<easy::EasyPool>,
    /// Streamed request bodies with streamed responses, which no agent thread may wait for.
    streams: isahc::HttpClient,
    /// For `streams`, which is told per request.
    proxy: Arc<ProxyConfig>,
}

/// The trust store as PEM: `$SSL_CERT_FILE`'s, or the system's, and the added roots.
fn bundle(ca_file: Option<&std::path::Path>, extra: &[RootCertificate]) -> Vec<u8> {
    let mut out = match ca_file.and_then(|p| std::fs::read(p).ok()) {
        Some(pem) => pem,
        None => {
            let mut pem = String::new();
            for cert in rustls_native_certs::load_native_certs().certs {
                pem.push_str(&RootCertificate::from_der(cert.to_vec()).to_pem());
            }
            pem.into_bytes()
        }
    };
    out.push(b'\n');
    for root in extra {
        out.extend_from_slice(root.to_pem().as_bytes());
    }
    out
}

impl Shared {
    fn agent(&self) -> &multi::Agent {
        &self.agents[self.next.fetch_add(1, Ordering::Relaxed) % self.agents.len()]
    }

    /// Starts a transfer whose response streams through a pipe (blocking or async).
    fn stream(
        &self,
        parts: http::request::Parts,
        body: bytes::Bytes,
        timeout: Option<Duration>,
    ) -> Result<pipe::PipeBody, TransportError> {
        let pipe = Arc::new(pipe::Pipe::default());
        let easy =
            self.async_handles.prepare(parts, BlockingRequestBody::Full(body), timeout, Some(pipe.clone()), None)?;
        let link = self.agent().link();
        Ok(pipe::PipeBody::new(pipe, link.clone(), self.async_handles.clone(), link.submit(easy)))
    }
}

/// The parts of one attempt as isahc wants them; `B` is the body type.
fn prepare<B>(
    parts: http::request::Parts,
    body: B,
    timeout: Option<Duration>,
    streamed: bool,
    proxies: &ProxyConfig,
) -> Result<http::Request<B>, TransportError> {
    let proxy = proxies.proxy_for(&parts.uri).cloned();
    // isahc reads per-request settings from its builder only.
    let mut builder = http::Request::builder().method(parts.method).uri(parts.uri).version(parts.version);
    // `None` also stops curl from reading the environment by its own rules.
    builder = builder.proxy(proxy.as_ref().and_then(|p| p.url().parse().ok()));
    if let Some(c) = proxy.as_ref().and_then(|p| p.expose_credentials()) {
        let (user, password) = c.split_once(':').unwrap_or((c, ""));
        builder = builder
            .proxy_authentication(isahc::auth::Authentication::basic())
            .proxy_credentials(isahc::auth::Credentials::new(user, password));
    }
    if let Some(t) = timeout {
        // A streamed body is read at the caller's pace: only a stall (no byte for `t`) fails it.
        builder = if streamed { builder.low_speed_timeout(1, t) } else { builder.timeout(t) };
    }
    if let Some(headers) = builder.headers_mut() {
        headers.extend(parts.headers);
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(ACCEPT_ENCODING));
    }
    builder.body(body).map_err(|e| TransportError::new(TransportErrorKind::Unsupported, e))
}

impl Environment for IsahcClient {
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

impl HttpClient for IsahcClient {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let HttpRequest { request, timeout, stream_response, max_body } = request;
        let (parts, body) = request.into_parts();
        let body = match body {
            RequestBody::Full(b) if !stream_response => {
                let handles = &self.shared.async_handles;
                let easy = handles.prepare(parts, BlockingRequestBody::Full(b), timeout, None, max_body)?;
                let (easy, performed) = self.shared.agent().link().submit(easy).await?;
                let r = handles.finish(easy, performed)?;
                return Ok(HttpResponse { status: r.status, headers: r.headers, body: ResponseBody::Full(r.body) });
            }
            RequestBody::Full(b) => {
                let mut body = self.shared.stream(parts, b, timeout)?;
                let (status, mut headers) = body.head().await?;
                let decoder = decoding::take_decoder(&mut headers);
                let body = DecodedStream::new(body, decoder).idle_timeout(timeout, timer());
                return Ok(HttpResponse { status, headers, body: ResponseBody::Stream(Box::pin(body)) });
            }
            RequestBody::Stream(s) if !stream_response => return self.upload_stream(parts, s, timeout, max_body).await,
            // A body the caller produces as it goes, and a streamed answer: isahc reads the
            // body on its own thread.
            RequestBody::Stream(s) => isahc::AsyncBody::from_reader(body::StreamReader::new(s)),
        };
        let request = prepare(parts, body, timeout, stream_response, &self.shared.proxy)?;
        let response = self.shared.streams.send_async(request).await.map_err(classify::send_error)?;
        let (mut parts, body) = response.into_parts();
        let decoder = decoding::take_decoder(&mut parts.headers);
        let raw = body::ReaderStream::new(body);
        let body = if stream_response {
            ResponseBody::Stream(Box::pin(DecodedStream::new(raw, decoder).idle_timeout(timeout, timer())))
        } else {
            ResponseBody::Full(decoding::collect_decoded_limited(raw, decoder, max_body).await?)
        };
        Ok(HttpResponse { status: parts.status, headers: parts.headers, body })
    }

    fn sleep(&self, duration: Duration) -> Option<BoxFuture<'static, ()>> {
        Some(Box::pin(async move {
            async_io::Timer::after(duration).await;
        }))
    }
}

/// Sleeps for the core's idle timeout of streamed bodies; curl's low-speed limit already
/// watches a stalled server, this also covers a caller that stopped reading.
fn timer() -> SleepFn {
    Arc::new(|d| {
        Box::pin(async move {
            async_io::Timer::after(d).await;
        })
    })
}

impl IsahcClient {
    /// A body the caller produces as it goes, sent by a blocking handle on a thread of its
    /// own: an agent's thread must not wait for the stream, and the handle reads the proxy's
    /// answer to `CONNECT` and the body cap as every other call does.
    async fn upload_stream(
        &self,
        parts: http::request::Parts,
        stream: apify_core::client::ByteStream,
        timeout: Option<Duration>,
        max_body: Option<u64>,
    ) -> Result<HttpResponse, TransportError> {
        let (done_tx, done_rx) = futures_channel::oneshot::channel();
        // Dropped when this future ends or is dropped: a read still waiting then fails.
        let (_cancel, cancel_rx) = futures_channel::oneshot::channel::<()>();
        let reader = body::BlockingStreamReader::new(stream, cancel_rx);
        let easy = self.easy.clone();
        std::thread::Builder::new()
            .name("apify-isahc-upload".into())
            .spawn(move || {
                let _ =
                    done_tx.send(easy.call(parts, BlockingRequestBody::Reader(Box::new(reader)), timeout, max_body));
            })
            .map_err(|e| TransportError::new(TransportErrorKind::Other, e))?;
        let done = async { Some(done_rx.await) };
        // curl's timeout cannot fire while a read waits for the caller's stream.
        let expired = async {
            match timeout {
                Some(t) => async_io::Timer::after(t).await,
                None => std::future::pending().await,
            };
            None
        };
        match futures_lite::future::or(done, expired).await {
            Some(Ok(r)) => {
                let r = r?;
                Ok(HttpResponse { status: r.status, headers: r.headers, body: ResponseBody::Full(r.body) })
            }
            Some(Err(_)) => {
                Err(TransportError::msg(TransportErrorKind::Other, "the upload thread ended without a result"))
            }
            None => Err(TransportError::msg(TransportErrorKind::Timeout, "the streamed upload timed out")),
        }
    }
}

impl BlockingHttpClient for IsahcClient {
    fn call(&self, request: BlockingHttpRequest) -> Result<BlockingHttpResponse, TransportError> {
        let BlockingHttpRequest { request, timeout, stream_response, max_body } = request;
        let (parts, body) = request.into_parts();
        if !stream_response {
            let r = self.easy.call(parts, body, timeout, max_body)?;
            return Ok(BlockingHttpResponse {
                status: r.status,
                headers: r.headers,
                body: BlockingResponseBody::Full(r.body),
            });
        }
        let body = match body {
            BlockingRequestBody::Full(b) => {
                let mut body = self.shared.stream(parts, b, timeout)?;
                let (status, mut headers) = futures_lite::future::block_on(body.head())?;
                let reader = DecodedReader::new(pipe::PipeReader::new(body), decoding::take_decoder(&mut headers));
                return Ok(BlockingHttpResponse {
                    status,
                    headers,
                    body: BlockingResponseBody::Reader(Box::new(reader)),
                });
            }
            BlockingRequestBody::Reader(r) => isahc::Body::from_reader(body::SyncCell::new(r)),
        };
        let request = prepare(parts, body, timeout, stream_response, &self.shared.proxy)?;
        let response = self.shared.streams.send(request).map_err(classify::send_error)?;
        let (mut parts, body) = response.into_parts();
        let reader = DecodedReader::new(body, decoding::take_decoder(&mut parts.headers));
        Ok(BlockingHttpResponse {
            status: parts.status,
            headers: parts.headers,
            body: BlockingResponseBody::Reader(Box::new(reader)),
        })
    }

    fn sleep(&self, duration: Duration) -> bool {
        std::thread::sleep(duration);
        true
    }
}
