//! A run's log and status messages redirected to `tracing` (client-behaviour §17):
//! `run.get_streamed_log()` follows the live log and logs each message at the level its
//! words suggest; `run.get_status_message_watcher()` logs each change of status or status
//! message. Both end by themselves when the run ends; neither sleeps a fixed 6 s (§20).
//!
//! They are futures (async drivers) or blocking calls (`.send()`) that run until done:
//! spawn them beside your own work, or let [`RunClient::wait_for_finish`] return first and
//! drop them.

use std::future::{IntoFuture, poll_fn};
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;

use super::body::{BodyReader, BodyStream, StreamBody};
use super::builder::{StreamCall, StreamOperation};
use super::http::{BlockingHttpClient, BoxFuture, Environment, HttpClient};
use super::log::LogClient;
use super::run::RunClient;
use crate::config::{Config, Timeout, TimeoutTier};
use crate::error::Error;
use crate::models::{Run, timestamp};
use crate::ops::registry::OpSpec;
use crate::path::{Query, ResourcePath};
use crate::request::{ApiRequest, RequestBuilder};
use crate::response::Response;
use crate::stream::log::{LogLevel, LogMessage, LogSplitter};

/// First pause before reopening a log that ended before the run logged anything.
pub(crate) const EMPTY_STREAM_RETRY: Duration = Duration::from_millis(500);
/// Longest such pause.
pub(crate) const EMPTY_STREAM_MAX_RETRY: Duration = Duration::from_secs(5);

/// Where redirected messages go.
type Sink = Box<dyn FnMut(&str, &LogMessage) + Send>;
/// Where status changes go.
type StatusSink = Box<dyn FnMut(&str, &Run) + Send>;

/// Logs one message to `tracing`, target `apify::actor_log`, with the logger name
/// (`apify.{actor} runId:{id}`) as a field.
pub fn log_to_tracing(logger: &str, m: &LogMessage) {
    match m.level {
        LogLevel::Error => tracing::error!(target: "apify::actor_log", logger, "{}", m.text),
        LogLevel::Warn => tracing::warn!(target: "apify::actor_log", logger, "{}", m.text),
        LogLevel::Info => tracing::info!(target: "apify::actor_log", logger, "{}", m.text),
        LogLevel::Debug => tracing::debug!(target: "apify::actor_log", logger, "{}", m.text),
    }
}

/// `GET …/log?stream=true&raw=true`, the body handed over as it arrives.
#[derive(Debug, Clone)]
struct RawLogStream {
    spec: &'static OpSpec,
}

impl StreamOperation for RawLogStream {
    type Output<B: StreamBody> = Option<B>;
    fn request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error> {
        let mut q = Query::new();
        q.push("stream", &true).push("raw", &true);
        RequestBuilder::for_op(config, self.spec, target, &[])
            .client_method("RunClient.get_streamed_log")
            .query(q)
            .timeout(Timeout::Tier(TimeoutTier::None))
            .streamed()
            .build()
    }
    fn output<B: StreamBody>(self, head: Response, body: Option<B>) -> Result<Option<B>, Error> {
        match body {
            Some(b) if head.is_success() => Ok(Some(b)),
            _ if head.status == http::StatusCode::NOT_FOUND => Ok(None),
            _ => Err(head.to_api_error()),
        }
    }
}

/// The redirection's state: splitting, filtering by time, and deciding on reopens.
struct Redirect {
    logger: String,
    not_before: Option<timestamp::Timestamp>,
    received: bool,
    retry: Duration,
    reopens: usize,
    max_reopens: usize,
    sink: Sink,
}

impl Redirect {
    fn emit(&mut self, splitter: &mut LogSplitter) {
        while let Some(m) = splitter.next_message() {
            let old = match (&self.not_before, &m.timestamp) {
                (Some(limit), Some(ts)) => timestamp::parse(ts).is_ok_and(|t| t < *limit),
                _ => false,
            };
            if !old {
                (self.sink)(&self.logger, &m);
            }
        }
    }

    fn chunk(&mut self, splitter: &mut LogSplitter, chunk: &[u8]) {
        if !chunk.is_empty() {
            self.received = true;
        }
        splitter.feed(chunk);
        self.emit(splitter);
    }

    /// A whole log read at once.
    fn whole(&mut self, log: Option<&[u8]>) {
        let mut splitter = LogSplitter::new();
        self.chunk(&mut splitter, log.unwrap_or_default());
        splitter.finish();
        self.emit(&mut splitter);
    }

    /// After a stream ended (cut by `failure`, if any): done, failed, or reopen after a
    /// pause (a log that delivered nothing yet, within `max_reopens`).
    fn end_stream(&mut self, splitter: &mut LogSplitter, failure: Option<Error>) -> AfterStream {
        splitter.finish();
        self.emit(splitter);
        match failure {
            // A cut stream is reopened like an empty one only if nothing came yet.
            Some(e) if self.received => return AfterStream::Failed(e),
            _ if self.received => return AfterStream::Done,
            _ => {}
        }
        self.reopens += 1;
        if self.reopens > self.max_reopens {
            return AfterStream::Done;
        }
        let pause = self.retry;
        self.retry = (self.retry * 2).min(EMPTY_STREAM_MAX_RETRY);
        AfterStream::Reopen(pause)
    }
}

/// What follows the end of one log stream.
enum AfterStream {
    Done,
    Failed(Error),
    Reopen(Duration),
}

/// `run.get_streamed_log()`: the live log redirected, reopened (0.5 s, doubling to 5 s)
/// while the run has logged nothing yet; `.await` or `.send()` runs it until the log ends.
#[must_use = "the redirection does nothing until it is awaited or sent"]
pub struct StreamedLog<D> {
    log: LogClient<D>,
    spec: &'static OpSpec,
    from_start: bool,
    logger: String,
    sink: Sink,
    max_reopens: usize,
    // The run whose log this is: an empty log of a run that has ended is read once whole,
    // and the redirection ends.
    run: Option<RunClient<D>>,
}

impl<D> std::fmt::Debug for StreamedLog<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedLog").field("logger", &self.logger).field("from_start", &self.from_start).finish()
    }
}

impl<D> StreamedLog<D> {
    pub(crate) fn new(log: LogClient<D>, spec: &'static OpSpec, logger: String) -> Self {
        Self { log, spec, from_start: true, logger, sink: Box::new(log_to_tracing), max_reopens: usize::MAX, run: None }
    }

    pub(crate) fn of_run(mut self, run: RunClient<D>) -> Self {
        self.run = Some(run);
        self
    }

    /// `false`: skip messages older than the moment the redirection starts (needs the
    /// driver's wall clock).
    pub fn from_start(mut self, from_start: bool) -> Self {
        self.from_start = from_start;
        self
    }

    /// The logger name logged with each message (default `apify.{run id}`).
    pub fn logger_name(mut self, name: impl Into<String>) -> Self {
        self.logger = name.into();
        self
    }

    /// Sends each message here instead of to `tracing` (`(logger, message)`).
    pub fn on_message(mut self, sink: impl FnMut(&str, &LogMessage) + Send + 'static) -> Self {
        self.sink = Box::new(sink);
        self
    }

    /// Gives up after this many reopens of a log that stays empty (default: never).
    pub fn max_reopens(mut self, n: usize) -> Self {
        self.max_reopens = n;
        self
    }

    fn state(&mut self, wall: Option<std::time::SystemTime>) -> Redirect {
        let not_before = if self.from_start { None } else { wall.map(timestamp::Timestamp::from) };
        let sink = std::mem::replace(&mut self.sink, Box::new(|_, _| {}));
        Redirect {
            logger: self.logger.clone(),
            not_before,
            received: false,
            retry: EMPTY_STREAM_RETRY,
            reopens: 0,
            max_reopens: self.max_reopens,
            sink,
        }
    }

    fn stream_call(&self) -> StreamCall<D, RawLogStream> {
        StreamCall::new(self.log.base_call(RawLogStream { spec: self.spec }))
    }
}

impl<D: HttpClient> IntoFuture for StreamedLog<D> {
    type Output = Result<(), Error>;
    type IntoFuture = BoxFuture<'static, Self::Output>;
    fn into_future(mut self) -> Self::IntoFuture {
        Box::pin(async move {
            let driver_wall = self.log.driver_wall();
            let mut state = self.state(driver_wall);
            loop {
                let Some(mut body): Option<BodyStream> = self.stream_call().await? else { return Ok(()) };
                let mut splitter = LogSplitter::new();
                let mut failure = None;
                while let Some(chunk) = poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await {
                    match chunk {
                        Ok(c) => state.chunk(&mut splitter, &c),
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                let pause = match state.end_stream(&mut splitter, failure) {
                    AfterStream::Done => return Ok(()),
                    AfterStream::Failed(e) => return Err(e),
                    AfterStream::Reopen(pause) => pause,
                };
                if let Some(run) = &self.run {
                    let ended = run.get().await?.is_none_or(|r| r.status.is_terminal());
                    if ended {
                        // Nothing was streamed and nothing more will be: read it once whole.
                        let whole = self.log.get_as_bytes().raw(true).await?;
                        state.whole(whole.as_deref());
                        return Ok(());
                    }
                }
                match self.log.sleep(pause) {
                    Some(sleep) => sleep.await,
                    None => return Ok(()),
                }
            }
        })
    }
}

impl<D: BlockingHttpClient> StreamedLog<D> {
    /// Runs the redirection on the blocking driver until the log ends.
    pub fn send(mut self) -> Result<(), Error> {
        let mut state = self.state(self.log.driver_wall());
        loop {
            let Some(mut body): Option<BodyReader> = self.stream_call().send()? else { return Ok(()) };
            let mut splitter = LogSplitter::new();
            let mut buf = vec![0u8; 16 * 1024];
            let mut failure = None;
            loop {
                match body.read_chunk(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => state.chunk(&mut splitter, &buf[..n]),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let pause = match state.end_stream(&mut splitter, failure) {
                AfterStream::Done => return Ok(()),
                AfterStream::Failed(e) => return Err(e),
                AfterStream::Reopen(pause) => pause,
            };
            if let Some(run) = &self.run {
                let ended = run.get().send()?.is_none_or(|r| r.status.is_terminal());
                if ended {
                    // Nothing was streamed and nothing more will be: read it once whole.
                    let whole = self.log.get_as_bytes().raw(true).send()?;
                    state.whole(whole.as_deref());
                    return Ok(());
                }
            }
            if !self.log.sleep_blocking(pause) {
                return Ok(());
            }
        }
    }
}

/// `run.get_status_message_watcher()`: polls the run every `check_period` (1 s) and logs
/// `Status: {status}, Message: {message}` whenever either changes; ends once the run is
/// terminal (after reading it once more) or its message is marked terminal.
#[must_use = "the watcher does nothing until it is awaited or sent"]
pub struct StatusMessageWatcher<D> {
    run: RunClient<D>,
    period: Duration,
    logger: String,
    sink: StatusSink,
}

impl<D> std::fmt::Debug for StatusMessageWatcher<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusMessageWatcher").field("period", &self.period).finish_non_exhaustive()
    }
}

fn log_status(logger: &str, run: &Run) {
    tracing::info!(
        target: "apify::actor_log",
        logger,
        "Status: {}, Message: {}",
        run.status,
        run.status_message.as_deref().unwrap_or("")
    );
}

impl<D> StatusMessageWatcher<D> {
    pub(crate) fn new(run: RunClient<D>, logger: String) -> Self {
        Self { run, period: Duration::from_secs(1), logger, sink: Box::new(log_status) }
    }

    /// How often the run is read (default 1 s).
    pub fn check_period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// Sends each change here instead of to `tracing`.
    pub fn on_change(mut self, sink: impl FnMut(&str, &Run) + Send + 'static) -> Self {
        self.sink = Box::new(sink);
        self
    }
}

/// What the watcher does with a read of the run: log a change, and whether to go on.
fn watch_step(
    last: &mut Option<(String, Option<String>)>,
    run: Option<&Run>,
    logger: &str,
    sink: &mut dyn FnMut(&str, &Run),
) -> bool {
    let Some(run) = run else { return false };
    let now = (run.status.as_str().to_owned(), run.status_message.clone());
    if last.as_ref() != Some(&now) {
        sink(logger, run);
        *last = Some(now);
    }
    !(run.status.is_terminal() || run.is_status_message_terminal == Some(true))
}

impl<D: HttpClient> IntoFuture for StatusMessageWatcher<D> {
    type Output = Result<(), Error>;
    type IntoFuture = BoxFuture<'static, Self::Output>;
    fn into_future(mut self) -> Self::IntoFuture {
        Box::pin(async move {
            let mut last = None;
            loop {
                let run = self.run.get().await?;
                if !watch_step(&mut last, run.as_ref(), &self.logger, &mut *self.sink) {
                    return Ok(());
                }
                match self.run.sleep(self.period) {
                    Some(s) => s.await,
                    None => return Ok(()),
                }
            }
        })
    }
}

impl<D: BlockingHttpClient> StatusMessageWatcher<D> {
    /// Runs the watcher on the blocking driver until the run ends.
    pub fn send(mut self) -> Result<(), Error> {
        let mut last = None;
        loop {
            let run = self.run.get().send()?;
            if !watch_step(&mut last, run.as_ref(), &self.logger, &mut *self.sink)
                || !self.run.sleep_blocking(self.period)
            {
                return Ok(());
            }
        }
    }
}

impl<D: Environment> LogClient<D> {
    fn driver_wall(&self) -> Option<std::time::SystemTime> {
        self.base().wall_clock()
    }
}

impl<D: HttpClient> LogClient<D> {
    fn sleep(&self, d: Duration) -> Option<BoxFuture<'static, ()>> {
        self.base().sleep(d)
    }
}

impl<D: BlockingHttpClient> LogClient<D> {
    fn sleep_blocking(&self, d: Duration) -> bool {
        self.base().sleep_blocking(d)
    }
}

impl<D: HttpClient> RunClient<D> {
    fn sleep(&self, d: Duration) -> Option<BoxFuture<'static, ()>> {
        self.base().sleep(d)
    }
}

impl<D: BlockingHttpClient> RunClient<D> {
    fn sleep_blocking(&self, d: Duration) -> bool {
        self.base().sleep_blocking(d)
    }
}
