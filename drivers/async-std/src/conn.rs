//! Connections (plain TCP or rustls over async-std's TCP) and the keep-alive pool.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use apify_core::error::{TransportError, TransportErrorKind};
use apify_core::net::{Proxy, ProxyConfig, RootCertificate};
use async_std::net::{TcpStream, ToSocketAddrs};
use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use futures_rustls::rustls::pki_types::ServerName;
use futures_rustls::rustls::{self, ClientConfig, RootCertStore};
use futures_util::{AsyncReadExt, AsyncWriteExt};

/// Where a connection goes: scheme, host, port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    tls: bool,
    host: String,
    port: u16,
}

impl Origin {
    pub(crate) fn of(uri: &http::Uri) -> Result<Self, TransportError> {
        let unsupported = |m: &'static str| TransportError::msg(TransportErrorKind::Unsupported, m);
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(unsupported("only http:// and https:// URLs are supported")),
        };
        let host = uri.host().ok_or_else(|| unsupported("URL without a host"))?;
        // `[::1]` in a URL is `::1` on the socket.
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Self { tls, host, port })
    }

    /// The origin as a URI, to ask the proxy configuration about.
    fn uri(&self) -> Option<http::Uri> {
        let scheme = if self.tls { "https" } else { "http" };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{scheme}://{host}:{}/", self.port).parse().ok()
    }
}

/// An open connection.
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_close(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_close(cx),
        }
    }
}

/// Whether a pooled connection is still open and quiet: a read that would block. End of
/// stream (the server closed it) or unexpected bytes mean it cannot carry a request.
fn is_idle(conn: &mut Conn) -> bool {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut byte = [0u8; 1];
    matches!(Pin::new(conn).poll_read(&mut cx, &mut byte), Poll::Pending)
}

/// Buffer size: a request head fits, and a body moves in reads of this size.
pub(crate) const BUF: usize = 16 * 1024;

/// The two buffers of an exchange, kept together so that reusing them costs one lock and
/// `out` (whose bytes are always overwritten before they are read) is zeroed only once.
pub(crate) struct Buffers {
    /// Always `BUF` long: the request head and body on the way out, the socket's bytes on
    /// the way in, then decoded body bytes.
    pub(crate) out: Vec<u8>,
    /// Received bytes not yet consumed by the protocol.
    pub(crate) input: Vec<u8>,
}

/// Opens connections and keeps idle ones for reuse.
pub(crate) struct Pool {
    tls: TlsConnector,
    proxy: ProxyConfig,
    connect_timeout: Duration,
    max_idle_per_origin: usize,
    idle_timeout: Duration,
    idle: Mutex<HashMap<Origin, Vec<(Conn, std::time::Instant)>>>,
    /// Spare exchange buffers: allocating (and zeroing) fresh ones per call cost a tenth
    /// of the driver's CPU on small GETs.
    spare: Mutex<Vec<Buffers>>,
}

impl Pool {
    pub(crate) fn new(
        connect_timeout: Duration,
        max_idle_per_origin: usize,
        idle_timeout: Duration,
        extra_roots: &[RootCertificate],
        proxy: ProxyConfig,
    ) -> io::Result<Self> {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for root in extra_roots {
            roots.add(root.der().to_vec().into()).map_err(io::Error::other)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("ring supports the default TLS versions: {e}"))
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = TlsConnector::from(Arc::new(config));
        Ok(Self {
            tls,
            proxy,
            connect_timeout,
            max_idle_per_origin,
            idle_timeout,
            idle: Mutex::default(),
            spare: Mutex::default(),
        })
    }

    /// The proxy a request to `uri` goes through.
    pub(crate) fn proxy_for(&self, uri: &http::Uri) -> Option<&Proxy> {
        self.proxy.proxy_for(uri)
    }

    /// An idle connection to `origin`, if one is fresh enough.
    pub(crate) fn checkout(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(origin)?;
        while let Some((mut conn, since)) = list.pop() {
            if since.elapsed() < self.idle_timeout && is_idle(&mut conn) {
                return Some(conn);
            }
        }
        None
    }

    /// Buffers for one exchange: kept ones, or new.
    pub(crate) fn take_buffers(&self) -> Buffers {
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop();
        spare.unwrap_or_else(|| Buffers { out: vec![0; BUF], input: Vec::with_capacity(BUF) })
    }

    /// Keeps an exchange's buffers for another (unless the input grew large or enough are
    /// kept).
    pub(crate) fn give_buffers(&self, mut buffers: Buffers) {
        if buffers.out.len() != BUF || buffers.input.capacity() > 4 * BUF {
            return;
        }
        buffers.input.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < self.max_idle_per_origin.max(1) {
            spare.push(buffers);
        }
    }

    /// Keeps a connection whose exchange ended cleanly.
    pub(crate) fn checkin(&self, origin: Origin, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.entry(origin).or_default();
        list.retain(|(_, since)| since.elapsed() < self.idle_timeout);
        if list.len() < self.max_idle_per_origin {
            list.push((conn, std::time::Instant::now()));
        }
    }

    /// Opens a new connection; any failure here means nothing was sent.
    pub(crate) async fn connect(&self, origin: &Origin) -> Result<Conn, TransportError> {
        let proxy = origin.uri().and_then(|u| self.proxy.proxy_for(&u).cloned());
        let Some(proxy) = proxy else { return self.connect_to(origin, &origin.host, origin.port).await };
        let tcp = self.tcp(proxy.host(), proxy.port()).await?;
        if !origin.tls {
            // Requests go to the proxy itself, in absolute form.
            return Ok(Conn::Plain(tcp));
        }
        let tunnel =
            async_std::future::timeout(self.connect_timeout, tunnel(tcp, origin, &proxy)).await.map_err(|_| {
                TransportError::msg(TransportErrorKind::Connect, "the proxy did not open a tunnel in time")
            })??;
        self.handshake(origin, tunnel).await
    }

    async fn connect_to(&self, origin: &Origin, host: &str, port: u16) -> Result<Conn, TransportError> {
        let tcp = self.tcp(host, port).await?;
        if !origin.tls {
            return Ok(Conn::Plain(tcp));
        }
        self.handshake(origin, tcp).await
    }

    /// A TCP connection to `host:port`, a resolver failure told apart.
    async fn tcp(&self, host: &str, port: u16) -> Result<TcpStream, TransportError> {
        let origin = Origin { tls: false, host: host.to_owned(), port };
        let name = (origin.host.as_str(), origin.port);
        let addrs: Vec<std::net::SocketAddr> = async_std::future::timeout(self.connect_timeout, name.to_socket_addrs())
            .await
            .map_err(|_| {
                let msg = format!("{} did not resolve within {:?}", origin.host, self.connect_timeout);
                TransportError::msg(TransportErrorKind::Dns, msg)
            })?
            .map_err(|e| TransportError::new(TransportErrorKind::Dns, e))?
            .collect();
        let connect = TcpStream::connect(&addrs[..]);
        let tcp = async_std::future::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| {
                let msg = format!("no connection to {}:{} within {:?}", origin.host, origin.port, self.connect_timeout);
                TransportError::msg(TransportErrorKind::Connect, msg)
            })?
            .map_err(|e| TransportError::new(TransportErrorKind::Connect, e))?;
        tcp.set_nodelay(true).map_err(|e| TransportError::new(TransportErrorKind::Connect, e))?;
        Ok(tcp)
    }

    async fn handshake(&self, origin: &Origin, tcp: TcpStream) -> Result<Conn, TransportError> {
        let name = ServerName::try_from(origin.host.clone())
            .map_err(|e| TransportError::new(TransportErrorKind::Unsupported, e))?;
        let handshake = self.tls.connect(name, tcp);
        let tls = async_std::future::timeout(self.connect_timeout, handshake)
            .await
            .map_err(|_| TransportError::msg(TransportErrorKind::Connect, "TLS handshake timed out"))?
            .map_err(|e| {
                // A certificate the roots do not trust fails the same way every time.
                let kind = if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
                    TransportErrorKind::Tls
                } else {
                    TransportErrorKind::Connect
                };
                TransportError::new(kind, e)
            })?;
        Ok(Conn::Tls(Box::new(tls)))
    }
}

/// Asks the proxy for a tunnel to `origin`; reads its answer byte by byte, since what
/// follows it belongs to the target.
async fn tunnel(mut tcp: TcpStream, origin: &Origin, proxy: &Proxy) -> Result<TcpStream, TransportError> {
    let closed = |e: io::Error| TransportError::new(TransportErrorKind::Connect, e);
    let authority = origin.uri().and_then(|u| u.authority().map(|a| a.to_string())).unwrap_or_default();
    let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = proxy.authorization() {
        req.push_str(&format!("Proxy-Authorization: {}\r\n", auth.to_str().unwrap_or_default()));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes()).await.map_err(closed)?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || tcp.read(&mut byte).await.map_err(closed)? == 0 {
            return Err(TransportError::msg(TransportErrorKind::Connect, "the proxy closed the connection to CONNECT"));
        }
        head.push(byte[0]);
    }
    let status = head.split(|b| *b == b' ').nth(1).and_then(|s| std::str::from_utf8(s).ok()?.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(tcp),
        Some(407) => Err(TransportError::msg(
            TransportErrorKind::ProxyAuth,
            "the proxy answered 407 Proxy Authentication Required to CONNECT",
        )),
        Some(s) => Err(TransportError::msg(TransportErrorKind::Connect, format!("the proxy answered {s} to CONNECT"))),
        None => Err(TransportError::msg(TransportErrorKind::Connect, "the proxy's answer to CONNECT is not HTTP")),
    }
}
