//! Async calls and streamed responses: one curl multi handle driven by its own thread.
//!
//! isahc's agent builds a fresh curl handle for every request and converts each request
//! and response on its thread, which caps a client near 20,000 small calls/s here; the
//! same multi handle fed with ready, reused easy handles keeps up with a raw hyper client
//! (BENCHMARKS.md). So the caller configures a pooled handle and reads the response
//! ([`crate::easy::EasyPool`]); this thread only adds the handle, drives the transfers
//! and hands the handle back.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use apify_core::error::{TransportError, TransportErrorKind};
use curl::easy::Easy2;
use curl::multi::{Easy2Handle, Multi, MultiWaker};
use futures_channel::oneshot;

use crate::easy::Exchange;

/// A performed handle and how its transfer ended, or why the agent could not run it.
pub(crate) type Done = Result<(Easy2<Exchange>, Result<(), curl::Error>), TransportError>;

struct Job {
    easy: Easy2<Exchange>,
    reply: oneshot::Sender<Done>,
}

/// Multi-handle limits (0: curl's default, unlimited).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections_per_host: usize,
    pub(crate) connection_cache_size: usize,
}

/// What callers and the agent thread share.
#[derive(Default)]
struct Shared {
    queue: Mutex<Vec<Job>>,
    /// Paused streamed transfers whose reader caught up, by token.
    resume: Mutex<Vec<usize>>,
    /// A caller gave up on a transfer: the thread drops the abandoned ones.
    sweep: AtomicBool,
    /// The client is gone: the thread ends once the streams still read are done.
    closed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A way to reach the thread, also held by streamed bodies.
#[derive(Clone)]
pub(crate) struct Link {
    shared: Arc<Shared>,
    waker: MultiWaker,
}

impl Link {
    fn wake(&self) {
        // Fails only if the thread is gone, which the reply channel then reports.
        let _ = self.waker.wakeup();
    }

    /// Hands a configured handle to the thread.
    pub(crate) fn submit(&self, easy: Easy2<Exchange>) -> Transfer {
        let (reply, done) = oneshot::channel();
        let was_idle = {
            let mut queue = lock(&self.shared.queue);
            queue.push(Job { easy, reply });
            queue.len() == 1
        };
        // The thread drains the whole queue each time it wakes: one wake-up per batch.
        if was_idle {
            self.wake();
        }
        Transfer { link: self.clone(), done: Some(done) }
    }

    /// Resumes a paused streamed transfer.
    pub(crate) fn resume(&self, token: usize) {
        lock(&self.shared.resume).push(token);
        self.wake();
    }
}

/// The thread. Dropping it stops the thread once no streamed body is being read.
pub(crate) struct Agent {
    link: Link,
}

impl Agent {
    pub(crate) fn start(limits: Limits) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let thread_shared = shared.clone();
        std::thread::Builder::new().name("apify-curl-multi".into()).spawn(move || {
            // A multi handle cannot change threads: it is made where it runs.
            let mut multi = Multi::new();
            let set = multi
                .set_max_host_connections(limits.max_connections_per_host)
                .and_then(|()| multi.set_max_connects(limits.connection_cache_size));
            let started = set.map(|()| multi.waker()).map_err(|e| std::io::Error::other(e.to_string()));
            let ok = started.is_ok();
            let _ = tx.send(started);
            if ok {
                run(&multi, &thread_shared);
            }
        })?;
        let waker = rx.recv().map_err(|_| std::io::Error::other("the curl agent thread died"))??;
        Ok(Self { link: Link { shared, waker } })
    }

    pub(crate) fn link(&self) -> &Link {
        &self.link
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.link.shared.closed.store(true, Ordering::Release);
        self.link.wake();
    }
}

/// A transfer handed to the thread; resolves to its end. Dropped before that (a call
/// cancelled, a streamed body dropped), it tells the thread, so the transfer and its
/// connection do not run on unobserved until a timeout.
pub(crate) struct Transfer {
    link: Link,
    /// `None` once the end was seen.
    done: Option<oneshot::Receiver<Done>>,
}

impl Future for Transfer {
    type Output = Done;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Done> {
        let Some(done) = self.done.as_mut() else { return Poll::Ready(Err(stopped())) };
        let done = std::task::ready!(Pin::new(done).poll(cx));
        self.done = None;
        Poll::Ready(done.unwrap_or_else(|_| Err(stopped())))
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        // The receiver goes first: the thread recognises abandoned transfers by it.
        if self.done.take().is_some() {
            self.link.shared.sweep.store(true, Ordering::Release);
            self.link.wake();
        }
    }
}

/// The thread is gone (it ends only with its client, or if it could not start).
pub(crate) fn stopped() -> TransportError {
    TransportError::msg(TransportErrorKind::Other, "the curl agent thread stopped")
}

struct Active {
    handle: Easy2Handle<Exchange>,
    reply: oneshot::Sender<Done>,
}

/// The agent thread's loop: take new jobs, drive the transfers, answer finished ones,
/// sleep until a socket, a timer of curl's or a caller wakes it.
fn run(multi: &Multi, shared: &Shared) {
    // Transfers by token (their index); free indices are reused.
    let mut active: Vec<Option<Active>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut jobs = Vec::new();
    let mut finished = Vec::new();
    let mut resume = Vec::new();
    loop {
        let closed = shared.closed.load(Ordering::Acquire);
        if closed && active.iter().all(Option::is_none) && lock(&shared.queue).is_empty() {
            break;
        }
        std::mem::swap(&mut jobs, &mut *lock(&shared.queue));
        for Job { easy, reply } in jobs.drain(..) {
            let token = free.pop().unwrap_or(active.len());
            let added = multi.add2(easy).map_err(|e| e.to_string()).and_then(|mut h| {
                // On failure the handle's guard takes it out of the multi handle again.
                h.set_token(token).map_err(|e| e.to_string())?;
                Ok(h)
            });
            match added {
                Ok(handle) => {
                    if let Some(pipe) = handle.get_ref().pipe() {
                        pipe.set_token(token);
                    }
                    if token == active.len() {
                        active.push(None);
                    }
                    active[token] = Some(Active { handle, reply });
                }
                Err(e) => {
                    free.push(token);
                    let _ = reply.send(Err(TransportError::msg(TransportErrorKind::Other, e)));
                }
            }
        }
        std::mem::swap(&mut resume, &mut *lock(&shared.resume));
        for token in resume.drain(..) {
            if let Some(Some(a)) = active.get(token) {
                // A stale token (its transfer gone, the slot reused) unpauses a transfer
                // that is not paused: harmless.
                let _ = a.handle.unpause_write();
            }
        }
        // Once the client is gone only streams still read by someone keep running.
        if shared.sweep.swap(false, Ordering::AcqRel) || closed {
            for (token, slot) in active.iter_mut().enumerate() {
                if slot.as_ref().is_some_and(|a| a.reply.is_canceled())
                    && let Some(a) = slot.take()
                {
                    // Removing the handle aborts its transfer and closes its connection.
                    let _ = multi.remove2(a.handle);
                    free.push(token);
                }
            }
        }
        if let Err(e) = multi.perform() {
            // Only a broken multi handle (out of memory): fail what runs, keep serving.
            for (token, slot) in active.iter_mut().enumerate() {
                if let Some(a) = slot.take() {
                    let _ = multi.remove2(a.handle);
                    let _ = a.reply.send(Err(TransportError::msg(TransportErrorKind::Other, e.to_string())));
                    free.push(token);
                }
            }
        }
        multi.messages(|m| {
            if let (Ok(token), Some(result)) = (m.token(), m.result()) {
                finished.push((token, result));
            }
        });
        for (token, result) in finished.drain(..) {
            let Some(a) = active.get_mut(token).and_then(Option::take) else { continue };
            free.push(token);
            let done = multi
                .remove2(a.handle)
                .map(|easy| (easy, result))
                .map_err(|e| TransportError::msg(TransportErrorKind::Other, e.to_string()));
            let _ = a.reply.send(done);
        }
        // curl shortens the wait to its own next timeout; a caller's wake-up ends it.
        if multi.poll(&mut [], Duration::from_secs(1)).is_err() {
            // Interrupted or out of memory: try again shortly rather than spin.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::easy::{EasyPool, Settings};
    use apify_core::client::BlockingRequestBody;
    use std::io::{Read, Write};

    /// A server that answers each of `n` connections with one fixed response.
    fn serve(n: usize) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming().take(n) {
                let mut conn = conn.unwrap();
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
        });
        url
    }

    #[test]
    fn performs_a_transfer_and_its_thread_ends_with_the_agent() {
        let agent = Agent::start(Limits { max_connections_per_host: 0, connection_cache_size: 4 }).unwrap();
        let pool = EasyPool::new(Settings {
            connect_timeout: Duration::from_secs(5),
            http2_prior_knowledge: false,
            max_idle: 4,
            ca_file: None,
            ca_bundle: None,
            proxy: Default::default(),
        });
        let request = http::Request::get(serve(1)).body(()).unwrap().into_parts().0;
        let easy = pool.prepare(request, BlockingRequestBody::Full(Default::default()), None, None, None).unwrap();
        let (easy, performed) = futures_lite::future::block_on(agent.link().submit(easy)).unwrap();
        let response = pool.finish(easy, performed).unwrap();
        assert_eq!((response.status.as_u16(), &response.body[..]), (200, &b"ok"[..]));

        let shared = Arc::downgrade(&agent.link.shared);
        drop(agent);
        // The thread holds the other reference until it returns.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while shared.upgrade().is_some() {
            assert!(std::time::Instant::now() < deadline, "the agent thread did not stop");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
