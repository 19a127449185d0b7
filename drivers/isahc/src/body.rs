//! Adapters between the core's byte streams and isahc's `AsyncRead` bodies.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use apify_core::client::ByteStream;
use apify_core::error::{TransportError, TransportErrorKind};
use bytes::Bytes;
use futures_core::Stream;
use futures_io::AsyncRead;

const CHUNK: usize = 64 * 1024;

/// Makes a `Send` value `Sync` (isahc wants both of request bodies): it is only ever
/// used through `&mut`, so the lock is never contended.
pub(crate) struct SyncCell<T>(Mutex<T>);

impl<T> SyncCell<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self(Mutex::new(inner))
    }

    fn get(&mut self) -> &mut T {
        self.0.get_mut().unwrap_or_else(|p| p.into_inner())
    }
}

impl<R: io::Read> io::Read for SyncCell<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.get().read(buf)
    }
}

/// A streamed request body read by curl.
pub(crate) struct StreamReader {
    stream: SyncCell<ByteStream>,
    pending: Bytes,
}

impl StreamReader {
    pub(crate) fn new(stream: ByteStream) -> Self {
        Self { stream: SyncCell::new(stream), pending: Bytes::new() }
    }
}

impl AsyncRead for StreamReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        while self.pending.is_empty() {
            match self.stream.get().as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(b))) => self.pending = b,
                // The caller's body failed: curl aborts the upload with this error.
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(io::Error::other(e))),
                Poll::Ready(None) => return Poll::Ready(Ok(0)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Poll::Ready(Ok(n))
    }
}

/// A streamed request body read by a blocking curl handle on a thread of its own: each read
/// waits for the caller's stream, or ends with an error once the call is dropped (its end of
/// `cancel` gone), so that curl aborts the upload instead of waiting forever.
pub(crate) struct BlockingStreamReader {
    inner: StreamReader,
    cancel: futures_channel::oneshot::Receiver<()>,
}

impl BlockingStreamReader {
    pub(crate) fn new(stream: ByteStream, cancel: futures_channel::oneshot::Receiver<()>) -> Self {
        Self { inner: StreamReader::new(stream), cancel }
    }
}

impl io::Read for BlockingStreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = futures_lite::io::AsyncReadExt::read(&mut self.inner, buf);
        let cancel = async {
            let _ = (&mut self.cancel).await;
            Err(io::Error::other("the call was dropped during the upload"))
        };
        futures_lite::future::block_on(futures_lite::future::or(read, cancel))
    }
}

/// A response body as a stream of raw chunks.
pub(crate) struct ReaderStream<R> {
    reader: R,
    buf: Vec<u8>,
    done: bool,
}

impl<R> ReaderStream<R> {
    pub(crate) fn new(reader: R) -> Self {
        Self { reader, buf: vec![0; CHUNK], done: false }
    }
}

impl<R: AsyncRead + Unpin> Stream for ReaderStream<R> {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.reader).poll_read(cx, &mut this.buf) {
            Poll::Ready(Ok(0)) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Ok(n)) => Poll::Ready(Some(Ok(Bytes::copy_from_slice(&this.buf[..n])))),
            Poll::Ready(Err(e)) => {
                this.done = true;
                // The head arrived, so only the body is missing (or it stalled).
                let kind = if e.kind() == io::ErrorKind::TimedOut {
                    TransportErrorKind::Timeout
                } else {
                    TransportErrorKind::IncompleteBody
                };
                Poll::Ready(Some(Err(TransportError::new(kind, e))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
