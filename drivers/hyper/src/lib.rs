//! The tokio + hyper driver of the Apify API client.
//!
//! ```no_run
//! # async fn run() -> Result<(), apify_hyper::Error> {
//! let client = apify_hyper::ApifyClient::new("MY-APIFY-TOKEN");
//! let page = client.dataset("username~my-dataset").list_items().limit(10u64).await?;
//! println!("{} of {} items", page.items.len(), page.total);
//! # Ok(()) }
//! ```
//!
//! Connections are pooled (hyper-util), TLS is rustls with the webpki or the system roots,
//! HTTP/2 is negotiated by ALPN, `gzip`, `deflate` and `br` responses are decoded, every
//! attempt has a whole-request timeout, and bodies stream both ways. Everything else
//! (retries, waits, redirects, decoding) is decided by [`apify_core`].

mod body;
mod classify;
mod connect;

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use apify_core::client::decoding;
use apify_core::client::{BoxFuture, Environment, HttpClient, HttpRequest, HttpResponse, RequestBody, ResponseBody};
use apify_core::codec::ACCEPT_ENCODING;
use apify_core::error::{TransportError, TransportErrorKind};
use apify_core::net::{ProxyConfig, RootCertificate};
use apify_core::time::{ClockOrigin, Instant};
use http::header::{self, HeaderValue};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use connect::{Resolver, TcpConnector};
use hyper_util::rt::TokioExecutor;

pub use apify_core;
pub use apify_core::prelude::*;

/// The Apify client on tokio + hyper: `ApifyClient::new(token)` is all it takes.
pub type ApifyClient = apify_core::client::ApifyClient<HyperClient>;

/// Which certificate authorities TLS trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsRoots {
    /// Mozilla's roots, compiled in (works everywhere, no system files).
    #[default]
    WebPki,
    /// The operating system's store.
    Native,
}

/// Settings of [`HyperClient`].
#[derive(Debug, Clone)]
pub struct HyperClientBuilder {
    roots: TlsRoots,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    connect_timeout: Duration,
    http2_prior_knowledge: bool,
    extra_roots: Vec<RootCertificate>,
    // `None`: read from the environment when building.
    proxy: Option<ProxyConfig>,
}

impl Default for HyperClientBuilder {
    fn default() -> Self {
        Self {
            roots: TlsRoots::WebPki,
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 32,
            connect_timeout: Duration::from_secs(10),
            http2_prior_knowledge: false,
            extra_roots: Vec::new(),
            proxy: None,
        }
    }
}

impl HyperClientBuilder {
    /// Trusts these roots.
    pub fn tls_roots(mut self, roots: TlsRoots) -> Self {
        self.roots = roots;
        self
    }

    /// How long an idle pooled connection is kept (default 90 s).
    pub fn pool_idle_timeout(mut self, d: Duration) -> Self {
        self.pool_idle_timeout = d;
        self
    }

    /// Idle connections kept per host (default 32).
    pub fn pool_max_idle_per_host(mut self, n: usize) -> Self {
        self.pool_max_idle_per_host = n;
        self
    }

    /// Time allowed to establish a connection (default 10 s); a failure here is known not
    /// to have reached the server, so any call may retry it.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Speaks HTTP/2 without negotiation, also over plain `http://` (h2c).
    pub fn http2_prior_knowledge(mut self, on: bool) -> Self {
        self.http2_prior_knowledge = on;
        self
    }

    /// Trusts this certificate authority too (a private CA, a TLS-inspecting proxy).
    pub fn add_root_certificate(mut self, root: RootCertificate) -> Self {
        self.extra_roots.push(root);
        self
    }

    /// The proxies to use, instead of those of the environment (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, read when the client is built);
    /// [`ProxyConfig::none`] for none.
    pub fn proxy(mut self, proxy: ProxyConfig) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Builds the client; fails only if the system roots are asked for and cannot be read,
    /// or an added root is not a certificate.
    pub fn build(self) -> Result<HyperClient, std::io::Error> {
        let mut http = HttpConnector::new_with_resolver(Resolver::default());
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.connect_timeout));
        let proxy = Arc::new(self.proxy.unwrap_or_else(|| ProxyConfig::from_env(|k| std::env::var(k).ok())));
        let tcp = TcpConnector { http, proxy: proxy.clone() };
        let mut roots = rustls::RootCertStore::empty();
        match self.roots {
            TlsRoots::WebPki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            TlsRoots::Native => {
                let found = rustls_native_certs::load_native_certs();
                if found.certs.is_empty() && !found.errors.is_empty() {
                    return Err(std::io::Error::other(format!("no system roots: {:?}", found.errors)));
                }
                roots.add_parsable_certificates(found.certs);
            }
        }
        for root in &self.extra_roots {
            roots.add(root.der().to_vec().into()).map_err(std::io::Error::other)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .http2_only(self.http2_prior_knowledge)
            .build(connector);
        Ok(HyperClient { client, proxy, origin: ClockOrigin::new(std::time::Instant::now()) })
    }
}

/// An [`HttpClient`] on hyper 1.x and tokio. Clones share the connection pool.
#[derive(Clone)]
pub struct HyperClient {
    client: Client<HttpsConnector<TcpConnector>, body::RequestBody>,
    proxy: Arc<ProxyConfig>,
    origin: ClockOrigin,
}

impl std::fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperClient").finish_non_exhaustive()
    }
}

impl Default for HyperClient {
    fn default() -> Self {
        // The webpki roots are compiled in, so this cannot fail.
        HyperClientBuilder::default().build().unwrap_or_else(|e| panic!("building the HTTP client failed: {e}"))
    }
}

impl HyperClient {
    /// Default settings: webpki roots, pooled, HTTP/1.1 and HTTP/2 by ALPN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Custom settings.
    pub fn builder() -> HyperClientBuilder {
        HyperClientBuilder::default()
    }
}

impl Environment for HyperClient {
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

impl HttpClient for HyperClient {
    async fn call(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let HttpRequest { request, timeout, stream_response, max_body } = request;
        let (mut parts, body) = request.into_parts();
        parts.headers.entry(header::ACCEPT_ENCODING).or_insert(HeaderValue::from_static(ACCEPT_ENCODING));
        if parts.uri.scheme_str() == Some("http")
            && let Some(auth) = self.proxy.proxy_for(&parts.uri).and_then(|p| p.authorization())
        {
            // An `http://` target is asked of the proxy itself (a tunnel carries its own).
            parts.headers.insert(header::PROXY_AUTHORIZATION, auth);
        }
        let body = match body {
            RequestBody::Full(b) => body::RequestBody::full(b),
            RequestBody::Stream(s) => body::RequestBody::stream(s),
        };
        let send = self.client.request(http::Request::from_parts(parts, body));
        let exchange = async {
            let response = send.await.map_err(classify::client_error)?;
            let (mut parts, incoming) = response.into_parts();
            let decoder = decoding::take_decoder(&mut parts.headers);
            let raw = body::IncomingStream(incoming);
            if stream_response {
                let sleep: decoding::SleepFn = Arc::new(|d| Box::pin(tokio::time::sleep(d)));
                let stream = decoding::DecodedStream::new(raw, decoder).idle_timeout(timeout, sleep);
                return Ok((parts, ResponseBody::Stream(Box::pin(stream))));
            }
            let bytes = decoding::collect_decoded_limited(raw, decoder, max_body).await?;
            Ok((parts, ResponseBody::Full(bytes)))
        };
        let (parts, body) = match timeout {
            Some(t) => tokio::time::timeout(t, exchange).await.map_err(|_| {
                TransportError::msg(TransportErrorKind::Timeout, format!("no complete response within {t:?}"))
            })??,
            None => exchange.await?,
        };
        Ok(HttpResponse { status: parts.status, headers: parts.headers, body })
    }

    fn sleep(&self, duration: Duration) -> Option<BoxFuture<'static, ()>> {
        Some(Box::pin(tokio::time::sleep(duration)))
    }
}
