//! The TCP side of a connection: name resolution with its failure told apart, and
//! proxies (the core's [`ProxyConfig`] decides per target): an `http://` target is asked
//! for through the proxy in absolute form, an `https://` one through a `CONNECT` tunnel,
//! which hyper-rustls then wraps in TLS to the target.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use apify_core::net::{Proxy, ProxyConfig};
use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A host name did not resolve (told apart from a refused connection).
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve the host name: {0}")]
pub(crate) struct DnsFailed(#[source] io::Error);

/// The proxy answered `CONNECT` with 407.
#[derive(Debug, thiserror::Error)]
#[error("the proxy answered 407 Proxy Authentication Required to CONNECT")]
pub(crate) struct ProxyAuthRequired;

/// The proxy refused the tunnel with another status.
#[derive(Debug, thiserror::Error)]
#[error("the proxy answered {0} to CONNECT")]
pub(crate) struct TunnelRefused(u16);

/// The system resolver, its failures wrapped in [`DnsFailed`].
#[derive(Clone)]
pub(crate) struct Resolver(GaiResolver);

impl Default for Resolver {
    fn default() -> Self {
        Self(GaiResolver::new())
    }
}

impl Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = DnsFailed;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DnsFailed>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DnsFailed>> {
        self.0.poll_ready(cx).map_err(DnsFailed)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let lookup = self.0.call(name);
        Box::pin(async move { Ok(lookup.await.map_err(DnsFailed)?.collect::<Vec<_>>().into_iter()) })
    }
}

/// TCP to the target, or to the proxy the target goes through.
#[derive(Clone)]
pub(crate) struct TcpConnector {
    pub(crate) http: HttpConnector<Resolver>,
    pub(crate) proxy: Arc<ProxyConfig>,
}

/// A TCP connection, saying whether hyper must write requests for a proxy.
pub(crate) struct Tcp {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for Tcp {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl Read for Tcp {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: ReadBufCursor<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for Tcp {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

fn proxy_uri(p: &Proxy) -> Result<Uri, BoxError> {
    Ok(p.url().parse()?)
}

impl Service<Uri> for TcpConnector {
    type Response = Tcp;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Tcp, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, target: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let proxy = self.proxy.proxy_for(&target).cloned();
        Box::pin(async move {
            let Some(proxy) = proxy else {
                return Ok(Tcp { io: http.call(target).await?, proxied: false });
            };
            let io = http.call(proxy_uri(&proxy)?).await?;
            if target.scheme_str() != Some("https") {
                return Ok(Tcp { io, proxied: true });
            }
            let mut tcp = io.into_inner();
            tunnel(&mut tcp, &target, &proxy).await?;
            Ok(Tcp { io: TokioIo::new(tcp), proxied: false })
        })
    }
}

/// Asks the proxy for a tunnel to `target` and reads its answer, byte by byte: what comes
/// after the answer's head is the target's.
async fn tunnel(tcp: &mut TcpStream, target: &Uri, proxy: &Proxy) -> Result<(), BoxError> {
    let host = target.host().ok_or("a URL without a host")?;
    let port = target.port_u16().unwrap_or(443);
    let mut req = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some(auth) = proxy.authorization() {
        req.push_str("Proxy-Authorization: ");
        req.push_str(auth.to_str().unwrap_or_default());
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes()).await?;
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Err("the proxy's answer to CONNECT has no end".into());
        }
        let b = tcp.read_u8().await?;
        head.push(b);
    }
    let status = head.split(|b| *b == b' ').nth(1).and_then(|s| std::str::from_utf8(s).ok()?.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(()),
        Some(407) => Err(ProxyAuthRequired.into()),
        Some(s) => Err(TunnelRefused(s).into()),
        None => Err("the proxy's answer to CONNECT is not HTTP".into()),
    }
}
