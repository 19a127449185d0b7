//! Streamed responses from the agent thread to the caller: the head as soon as it is
//! complete, then the body chunk by chunk, with the transfer paused while the caller has
//! [`LIMIT`] bytes unread (so memory stays bounded whatever the body's size).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use apify_core::error::{TransportError, TransportErrorKind};
use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderMap, StatusCode};

use crate::easy::{self, EasyPool};
use crate::multi::{Link, Transfer};

/// Unread bytes at which the transfer pauses.
const LIMIT: usize = 256 * 1024;

/// Filled by curl's callbacks on the agent thread, read by the caller.
#[derive(Default)]
pub(crate) struct Pipe {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    head: Option<(StatusCode, Vec<u8>)>,
    chunks: VecDeque<Bytes>,
    unread: usize,
    /// The transfer is paused; the reader asks the agent to resume it.
    paused: bool,
    /// The transfer's token on the agent thread.
    token: Option<usize>,
    waker: Option<Waker>,
}

impl Pipe {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(mut state: MutexGuard<'_, State>) {
        let waker = state.waker.take();
        drop(state);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The final response head (agent thread).
    pub(crate) fn head(&self, status: StatusCode, head: Vec<u8>) {
        let mut state = self.lock();
        state.head = Some((status, head));
        Self::wake(state);
    }

    /// A piece of the body (agent thread); `false`: the pipe is full and did not take it.
    pub(crate) fn push(&self, data: &[u8]) -> bool {
        let mut state = self.lock();
        if state.unread >= LIMIT {
            state.paused = true;
            return false;
        }
        state.unread += data.len();
        state.chunks.push_back(Bytes::copy_from_slice(data));
        Self::wake(state);
        true
    }

    /// The token the agent knows the transfer by (agent thread, before it runs).
    pub(crate) fn set_token(&self, token: usize) {
        self.lock().token = Some(token);
    }
}

/// The caller's end: a streamed response body, which also waits for the head.
pub(crate) struct PipeBody {
    pipe: Arc<Pipe>,
    link: Link,
    pool: Arc<EasyPool>,
    /// `None` once it ended; dropped before, it aborts.
    transfer: Option<Transfer>,
}

impl PipeBody {
    pub(crate) fn new(pipe: Arc<Pipe>, link: Link, pool: Arc<EasyPool>, transfer: Transfer) -> Self {
        Self { pipe, link, pool, transfer: Some(transfer) }
    }

    /// The transfer's result once it ended (all its chunks are in the pipe by then).
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        let Some(transfer) = self.transfer.as_mut() else { return Poll::Ready(Ok(())) };
        let done = std::task::ready!(Pin::new(transfer).poll(cx));
        self.transfer = None;
        Poll::Ready(done.and_then(|(easy, performed)| self.pool.finish_stream(easy, performed)))
    }

    /// Waits for the response head; an error if the transfer ended without one.
    pub(crate) async fn head(&mut self) -> Result<(StatusCode, HeaderMap), TransportError> {
        let (status, head) = std::future::poll_fn(|cx| {
            let mut state = self.pipe.lock();
            if let Some(head) = state.head.take() {
                return Poll::Ready(Ok(head));
            }
            state.waker = Some(cx.waker().clone());
            drop(state);
            match std::task::ready!(self.poll_end(cx)) {
                Err(e) => Poll::Ready(Err(e)),
                // The head, if any, came before the end.
                Ok(()) => Poll::Ready(self.pipe.lock().head.take().ok_or_else(|| {
                    TransportError::msg(TransportErrorKind::Protocol, "curl finished without a response head")
                })),
            }
        })
        .await?;
        Ok((status, easy::parse_head(head.into())?))
    }
}

impl Stream for PipeBody {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.pipe.lock();
        if let Some(chunk) = state.chunks.pop_front() {
            state.unread -= chunk.len();
            let resume = state.paused && state.unread < LIMIT / 2;
            let token = state.token;
            if resume {
                state.paused = false;
            }
            drop(state);
            if let (true, Some(token)) = (resume, token) {
                self.link.resume(token);
            }
            return Poll::Ready(Some(Ok(chunk)));
        }
        state.waker = Some(cx.waker().clone());
        drop(state);
        if self.transfer.is_none() {
            return Poll::Ready(None);
        }
        match std::task::ready!(self.poll_end(cx)) {
            // The last chunks may have arrived with the end.
            Ok(()) => self.poll_next(cx),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

/// A blocking reader over a [`PipeBody`].
pub(crate) struct PipeReader {
    body: PipeBody,
    chunk: Bytes,
}

impl PipeReader {
    pub(crate) fn new(body: PipeBody) -> Self {
        Self { body, chunk: Bytes::new() }
    }
}

impl std::io::Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use futures_lite::StreamExt;
        while self.chunk.is_empty() {
            match futures_lite::future::block_on(self.body.next()) {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => {
                    let kind = if e.kind() == TransportErrorKind::Timeout {
                        std::io::ErrorKind::TimedOut
                    } else {
                        std::io::ErrorKind::Other
                    };
                    return Err(std::io::Error::new(kind, e));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
