//! The executors: the only code that runs the core's state machines against a driver.
//! One async loop and one blocking loop; everything they decide comes from [`Call`].

use std::future::poll_fn;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use super::http::{
    BlockingHttpClient, BlockingHttpRequest, BlockingRequestBody, BlockingResponseBody, ByteStream, Environment,
    HttpClient, HttpRequest, RequestBody, ResponseBody,
};
use crate::call::{Action, Call, HeadDisposition};
use crate::config::{Config, Timeout};
use crate::error::{Error, GiveUpReason, TransportError, TransportErrorKind};
use crate::ops::plan::{Plan, PlanCx, Step};
use crate::path::ResourcePath;
use crate::request::ApiRequest;
use crate::response::Response;
use crate::retry::SeededJitter;
use crate::stats::Stats;
use crate::time::Instant;

/// State shared by a root client and every sub-client made from it.
pub(crate) struct ClientInner<D> {
    pub(crate) driver: D,
    pub(crate) config: Config,
    pub(crate) stats: Arc<Stats>,
    seed: OnceLock<u64>,
    calls: AtomicU64,
}

impl<D: Environment> ClientInner<D> {
    pub(crate) fn new(driver: D, config: Config) -> Self {
        Self { driver, config, stats: Arc::default(), seed: OnceLock::new(), calls: AtomicU64::new(0) }
    }

    /// A jitter source for one call: the driver's seed, varied per call without locking.
    fn jitter(&self) -> SeededJitter {
        let seed = *self.seed.get_or_init(|| self.driver.random_seed());
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        SeededJitter::new(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// A random number for a plan's step (an idempotency key), from the driver's seed.
    pub(crate) fn random(&self) -> u64 {
        let seed = *self.seed.get_or_init(|| self.driver.random_seed());
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        // splitmix64 of the varied seed: distinct calls give unrelated numbers.
        let mut z = (seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// What a plan sees at this moment.
    pub(crate) fn plan_cx<'a>(&'a self, target: &'a ResourcePath) -> PlanCx<'a> {
        PlanCx {
            config: &self.config,
            target,
            now: self.driver.now(),
            wall: self.driver.wall_clock(),
            random: self.random(),
        }
    }

    fn start(&self, request: ApiRequest, now: Instant) -> (Call, SeededJitter) {
        (Call::new(request, &self.config, self.stats.clone(), now), self.jitter())
    }
}

/// Ends a call whose 2xx head has been accepted for streaming: its result, with the body.
fn hand_over<B>(
    call: &mut Call,
    now: Instant,
    jitter: &mut SeededJitter,
    body: B,
) -> Result<(Response, Option<B>), Error> {
    let Action::Done(done) = call.poll_action(now, jitter) else {
        return Err(Error::invalid_argument("streamed call did not finish"));
    };
    done.map(|r| (r, Some(body)))
}

/// Hands a whole response (or the failure to read its body) to the call. The wall clock is
/// read only for an unsuccessful status: it serves only to read an HTTP-date `Retry-After`.
fn deliver(
    call: &mut Call,
    now: Instant,
    wall: impl FnOnce() -> Option<SystemTime>,
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Result<Bytes, TransportError>,
) {
    match body {
        Ok(body) => {
            let wall = if status.is_success() { None } else { wall() };
            let mut r = http::Response::new(body);
            *r.status_mut() = status;
            *r.headers_mut() = headers;
            call.handle_response(now, wall, r);
        }
        Err(e) => call.handle_transport_error(now, e),
    }
}

/// Reads a whole body a driver handed over as a stream, stopping past `limit` bytes.
async fn collect(body: ResponseBody, limit: Option<u64>) -> Result<Bytes, TransportError> {
    match body {
        ResponseBody::Full(b) => Ok(b),
        ResponseBody::Stream(mut s) => {
            let mut buf = BytesMut::new();
            while let Some(chunk) = poll_fn(|cx| s.as_mut().poll_next(cx)).await {
                buf.extend_from_slice(&chunk?);
                if let Some(limit) = limit.filter(|l| buf.len() as u64 > *l) {
                    return Err(super::decoding::too_large(limit));
                }
            }
            Ok(buf.freeze())
        }
    }
}

/// Runs one logical call (async); a 2xx body of a streamed request is handed over as a
/// stream. `upload` is a streamed request body (one attempt only).
///
/// Written so that little is kept across its awaits: this future holds the driver's, and
/// every call's future is copied (in full) as the call is set up.
pub(crate) async fn execute<D: HttpClient>(
    inner: &ClientInner<D>,
    request: ApiRequest,
    mut upload: Option<ByteStream>,
) -> Result<(Response, Option<ByteStream>), Error> {
    let streamed = request.meta.streamed;
    let driver = &inner.driver;
    // The clock is read once after each await: no time passes in between.
    let mut now = driver.now();
    let (mut call, mut jitter) = inner.start(request, now);
    loop {
        // The action is taken apart before any await, so that it is not kept alive across.
        let req = match call.poll_action(now, &mut jitter) {
            Action::Send(attempt) => {
                let (parts, body) = attempt.request.into_parts();
                let body = match upload.take() {
                    Some(stream) => RequestBody::Stream(stream),
                    None => RequestBody::Full(body),
                };
                HttpRequest {
                    request: http::Request::from_parts(parts, body),
                    timeout: attempt.timeout,
                    stream_response: streamed,
                    max_body: attempt.max_body,
                }
            }
            Action::WaitUntil(at) => {
                match driver.sleep(at - now) {
                    Some(sleep) => sleep.await,
                    None => call.handle_no_timer(),
                }
                now = driver.now();
                continue;
            }
            Action::Done(result) => return result.map(|r| (r, None)),
        };
        let result = driver.call(req).await;
        now = driver.now();
        match result {
            Ok(resp) => {
                if streamed && call.handle_response_head(now, resp.status, &resp.headers) == HeadDisposition::Stream {
                    let stream = match resp.body {
                        ResponseBody::Stream(s) => s,
                        ResponseBody::Full(b) => Box::pin(Once(Some(b))) as ByteStream,
                    };
                    return hand_over(&mut call, now, &mut jitter, stream);
                }
                let body = match resp.body {
                    ResponseBody::Full(b) => Ok(b),
                    stream => {
                        let body = collect(stream, call.max_body()).await;
                        now = driver.now();
                        body
                    }
                };
                deliver(&mut call, now, || driver.wall_clock(), resp.status, resp.headers, body);
            }
            Err(e) => call.handle_transport_error(now, e),
        }
    }
}

/// A stream of one chunk, for drivers that buffered a streamed body anyway.
struct Once(Option<Bytes>);

impl Stream for Once {
    type Item = Result<Bytes, TransportError>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.take().map(Ok))
    }
}

/// Runs a plan: its requests one after another, with its waits (async).
pub(crate) async fn run_plan<D: HttpClient, P: Plan>(
    inner: &ClientInner<D>,
    target: &ResourcePath,
    mut plan: P,
    timeout: Option<Timeout>,
) -> Result<P::Output, Error> {
    loop {
        // A statement of its own: the `?` temporaries are not kept across the await.
        let step = plan.next(&inner.plan_cx(target));
        match step? {
            Step::Done => break,
            Step::Send(mut req) => {
                override_timeout(&mut req, timeout);
                let (resp, _) = execute(inner, req, None).await?;
                plan.on_response(resp)?;
            }
            Step::SendAll(reqs) => {
                let mut calls: Vec<_> = reqs
                    .into_iter()
                    .map(|mut req| {
                        override_timeout(&mut req, timeout);
                        Box::pin(execute(inner, req, None))
                    })
                    .collect();
                let mut results: Vec<Option<Result<Response, Error>>> = (0..calls.len()).map(|_| None).collect();
                // Every call is polled until all are over: no runtime needed to run them at once.
                poll_fn(|cx| {
                    let mut pending = false;
                    for (call, slot) in calls.iter_mut().zip(results.iter_mut()) {
                        if slot.is_none() {
                            match call.as_mut().poll(cx) {
                                std::task::Poll::Ready(r) => *slot = Some(r.map(|(resp, _)| resp)),
                                std::task::Poll::Pending => pending = true,
                            }
                        }
                    }
                    if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
                })
                .await;
                drop(calls);
                deliver_all(&mut plan, results)?;
            }
            Step::Wait { duration, optional } => match inner.driver.sleep(duration) {
                Some(sleep) => sleep.await,
                None if optional => {}
                None => return Err(no_timer(duration)),
            },
        }
    }
    plan.finish()
}

/// Hands the results of concurrent requests to the plan in order; the first failure (in
/// order) fails the call.
fn deliver_all<P: Plan>(plan: &mut P, results: Vec<Option<Result<Response, Error>>>) -> Result<(), Error> {
    let mut first_error = None;
    for result in results {
        match result {
            Some(Ok(resp)) if first_error.is_none() => {
                if let Err(e) = plan.on_response(resp) {
                    first_error = Some(e);
                }
            }
            Some(Err(e)) if first_error.is_none() => first_error = Some(e),
            _ => {}
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The caller's timeout replaces a request's own, except where the plan keeps it.
fn override_timeout(req: &mut ApiRequest, timeout: Option<Timeout>) {
    if let Some(t) = timeout
        && !req.meta.own_timeout
    {
        req.timeout = t;
    }
}

fn no_timer(delay: std::time::Duration) -> Error {
    let last = Error::invalid_argument("the call had to wait between its requests");
    Error::GaveUp { reason: GiveUpReason::NoTimer { delay }, attempts: 0, last: Box::new(last) }
}

/// Maps a reader failure to a transport error, keeping a driver's classification when it
/// wrapped a [`TransportError`] in the `io::Error`.
pub(crate) fn io_to_transport(e: std::io::Error) -> TransportError {
    let kind = match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => TransportErrorKind::Timeout,
        std::io::ErrorKind::UnexpectedEof => TransportErrorKind::IncompleteBody,
        _ => TransportErrorKind::ConnectionClosed,
    };
    let text = e.to_string();
    match e.into_inner() {
        Some(inner) => match inner.downcast::<TransportError>() {
            Ok(t) => *t,
            Err(other) => TransportError::new(kind, other),
        },
        None => TransportError::msg(kind, text),
    }
}

/// Reads a whole body a driver handed over as a reader, stopping past `limit` bytes.
fn read_all(body: BlockingResponseBody, limit: Option<u64>) -> Result<Bytes, TransportError> {
    match body {
        BlockingResponseBody::Full(b) => Ok(b),
        BlockingResponseBody::Reader(r) => {
            let mut buf = Vec::new();
            let most = limit.map_or(u64::MAX, |l| l.saturating_add(1));
            r.take(most).read_to_end(&mut buf).map_err(io_to_transport)?;
            match limit {
                Some(limit) if buf.len() as u64 > limit => Err(super::decoding::too_large(limit)),
                _ => Ok(buf.into()),
            }
        }
    }
}

/// Runs one logical call to completion (blocking). `upload` is a streamed request body.
pub(crate) fn execute_blocking<D: BlockingHttpClient>(
    inner: &ClientInner<D>,
    request: ApiRequest,
    mut upload: Option<Box<dyn Read + Send>>,
) -> Result<(Response, Option<Box<dyn Read + Send>>), Error> {
    let streamed = request.meta.streamed;
    let driver = &inner.driver;
    // The clock is read once after each wait: no time passes in between.
    let mut now = driver.now();
    let (mut call, mut jitter) = inner.start(request, now);
    loop {
        match call.poll_action(now, &mut jitter) {
            Action::Send(attempt) => {
                let (parts, body) = attempt.request.into_parts();
                let body = match upload.take() {
                    Some(r) => BlockingRequestBody::Reader(r),
                    None => BlockingRequestBody::Full(body),
                };
                let req = BlockingHttpRequest {
                    request: http::Request::from_parts(parts, body),
                    timeout: attempt.timeout,
                    stream_response: streamed,
                    max_body: attempt.max_body,
                };
                let result = driver.call(req);
                now = driver.now();
                match result {
                    Ok(resp) => {
                        if streamed
                            && call.handle_response_head(now, resp.status, &resp.headers) == HeadDisposition::Stream
                        {
                            let reader: Box<dyn Read + Send> = match resp.body {
                                BlockingResponseBody::Reader(r) => r,
                                BlockingResponseBody::Full(b) => Box::new(std::io::Cursor::new(b)),
                            };
                            return hand_over(&mut call, now, &mut jitter, reader);
                        }
                        let body = match resp.body {
                            BlockingResponseBody::Full(b) => Ok(b),
                            reader => {
                                let body = read_all(reader, call.max_body());
                                now = driver.now();
                                body
                            }
                        };
                        deliver(&mut call, now, || driver.wall_clock(), resp.status, resp.headers, body);
                    }
                    Err(e) => call.handle_transport_error(now, e),
                }
            }
            Action::WaitUntil(at) => {
                if !driver.sleep(at - now) {
                    call.handle_no_timer();
                }
                now = driver.now();
            }
            Action::Done(result) => return result.map(|r| (r, None)),
        }
    }
}

/// Runs a plan (blocking).
pub(crate) fn run_plan_blocking<D: BlockingHttpClient, P: Plan>(
    inner: &ClientInner<D>,
    target: &ResourcePath,
    mut plan: P,
    timeout: Option<Timeout>,
) -> Result<P::Output, Error> {
    loop {
        match plan.next(&inner.plan_cx(target))? {
            Step::Done => break,
            Step::Send(mut req) => {
                override_timeout(&mut req, timeout);
                let (resp, _) = execute_blocking(inner, req, None)?;
                plan.on_response(resp)?;
            }
            Step::SendAll(reqs) => {
                // One scoped thread per request: a blocking driver has no other way to send
                // several at once.
                let results: Vec<Option<Result<Response, Error>>> = std::thread::scope(|scope| {
                    let handles: Vec<_> = reqs
                        .into_iter()
                        .map(|mut req| {
                            override_timeout(&mut req, timeout);
                            scope.spawn(move || execute_blocking(inner, req, None).map(|(resp, _)| resp))
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| {
                            Some(h.join().unwrap_or_else(|_| Err(Error::invalid_argument("a batch request panicked"))))
                        })
                        .collect()
                });
                deliver_all(&mut plan, results)?;
            }
            Step::Wait { duration, optional } => {
                if !inner.driver.sleep(duration) && !optional {
                    return Err(no_timer(duration));
                }
            }
        }
    }
    plan.finish()
}
