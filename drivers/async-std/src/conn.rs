//! Connections (plain TCP or rustls over async-std's TCP) and the keep-alive pool.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use apify_core::error::{TransportError, TransportErrorKind};
use async_std::net::TcpStream;
use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use futures_rustls::rustls::pki_types::ServerName;
use futures_rustls::rustls::{self, ClientConfig, RootCertStore};

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
    connect_timeout: Duration,
    max_idle_per_origin: usize,
    idle_timeout: Duration,
    idle: Mutex<HashMap<Origin, Vec<(Conn, std::time::Instant)>>>,
    /// Spare exchange buffers: allocating (and zeroing) fresh ones per call cost a tenth
    /// of the driver's CPU on small GETs.
    spare: Mutex<Vec<Buffers>>,
}

impl Pool {
    pub(crate) fn new(connect_timeout: Duration, max_idle_per_origin: usize, idle_timeout: Duration) -> Self {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("ring supports the default TLS versions: {e}"))
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = TlsConnector::from(Arc::new(config));
        Self {
            tls,
            connect_timeout,
            max_idle_per_origin,
            idle_timeout,
            idle: Mutex::default(),
            spare: Mutex::default(),
        }
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
        let connect = TcpStream::connect((origin.host.as_str(), origin.port));
        let tcp = async_std::future::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| {
                let msg = format!("no connection to {}:{} within {:?}", origin.host, origin.port, self.connect_timeout);
                TransportError::msg(TransportErrorKind::Connect, msg)
            })?
            .map_err(|e| TransportError::new(TransportErrorKind::Connect, e))?;
        tcp.set_nodelay(true).map_err(|e| TransportError::new(TransportErrorKind::Connect, e))?;
        if !origin.tls {
            return Ok(Conn::Plain(tcp));
        }
        let name = ServerName::try_from(origin.host.clone())
            .map_err(|e| TransportError::new(TransportErrorKind::Unsupported, e))?;
        let handshake = self.tls.connect(name, tcp);
        let tls = async_std::future::timeout(self.connect_timeout, handshake)
            .await
            .map_err(|_| TransportError::msg(TransportErrorKind::Connect, "TLS handshake timed out"))?
            .map_err(|e| {
                // A certificate the roots do not trust fails the same way every time.
                let kind = if e.kind() == io::ErrorKind::InvalidData {
                    TransportErrorKind::Protocol
                } else {
                    TransportErrorKind::Connect
                };
                TransportError::new(kind, e)
            })?;
        Ok(Conn::Tls(Box::new(tls)))
    }
}
