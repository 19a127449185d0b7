//! Per-connection state and the socket wrapper that lets replies inject transport faults.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Shared between a connection's socket wrapper and the replies served on it.
#[derive(Debug, Default)]
pub(super) struct ConnState {
    /// Set by `reset_before_head`: close with RST instead of FIN.
    abort: AtomicBool,
    /// How many times hyper flushed the socket; hyper only flushes the socket after its
    /// write buffer has fully drained, so a flush proves earlier writes left the process.
    flushes: AtomicU64,
    flushed: Notify,
}

impl ConnState {
    /// Makes the coming close of this connection an abortive one (RST).
    pub(super) fn request_abort(&self) {
        self.abort.store(true, Ordering::SeqCst);
    }

    /// Waits for the next socket flush that starts after this call.
    pub(super) async fn wait_for_flush(&self) {
        let seen = self.flushes.load(Ordering::SeqCst);
        loop {
            let notified = self.flushed.notified();
            let mut notified = std::pin::pin!(notified);
            // Register before re-checking so a flush between check and await is not missed.
            notified.as_mut().enable();
            if self.flushes.load(Ordering::SeqCst) > seen {
                return;
            }
            notified.await;
        }
    }
}

/// A TCP stream that counts flushes and can close abortively.
#[derive(Debug)]
pub(super) struct FaultableIo {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl FaultableIo {
    pub(super) fn new(inner: TcpStream, state: Arc<ConnState>) -> Self {
        Self { inner, state }
    }
}

impl Drop for FaultableIo {
    fn drop(&mut self) {
        if self.state.abort.load(Ordering::SeqCst) {
            // A zero linger makes the close send RST at once (and never blocks, which is why
            // tokio's deprecation of `set_linger` does not apply to this use).
            #[allow(deprecated)]
            let _ = self.inner.set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for FaultableIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultableIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        if result.is_ready() {
            self.state.flushes.fetch_add(1, Ordering::SeqCst);
            self.state.flushed.notify_waiters();
        }
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
