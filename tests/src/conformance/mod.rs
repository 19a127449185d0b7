//! The conformance kit: one suite of scenarios that every driver must pass, written once
//! and run against any driver — the workspace's own and yours.
//!
//! ```no_run
//! use apify_tests::conformance::{Blocking, Target, run_conformance};
//! # #[derive(Default)] struct MyClient;
//! # impl apify_core::client::Environment for MyClient {}
//! # impl apify_core::client::BlockingHttpClient for MyClient {
//! #     fn call(&self, _: apify_core::client::BlockingHttpRequest)
//! #         -> Result<apify_core::client::BlockingHttpResponse, apify_core::error::TransportError> { todo!() }
//! # }
//! // A blocking driver of your own; an async one uses `Async::new(executor)`.
//! let report = run_conformance(&Target::network("my-driver", Blocking, MyClient::default));
//! report.assert_passed();
//! ```
//!
//! Network targets run every scenario against the `apify-local` emulator and a scripted
//! fault server, both on 127.0.0.1: the storage methods end to end, pagination to the last
//! page, large streamed bodies read incrementally, gzip request bodies, compressed
//! responses, the auth header and the token's absence from logs, and the fault matrix
//! (429 with `Retry-After` in seconds or as a date, and without it, 500/502/503, resets
//! before and during the body, truncated JSON, a stalled response, a slow drip). For each fault the kit checks the
//! number of attempts, that the waits match the delays the core logged, the typed error and
//! its kept cause, and that no item or request was lost. In-process targets (the local
//! driver) have no wire, so they run the storage scenarios only.

mod capture;
mod faults;
mod http2;
mod jobs;
mod net;
mod platform;
mod proxy;
mod storage;
mod tls;
mod wire;

use std::future::{Future, IntoFuture};
use std::time::{Duration, Instant};

use apify_core::client::{
    ApifyClient, BlockingHttpClient, BodyReader, BodyStream, CallBuilder, Environment, HttpClient, KeyValueStoreClient,
    Paginator, StreamCall, StreamLog,
};
use apify_core::config::Config;
use apify_core::error::Error;
use apify_core::models::Record;
use apify_core::net::{ProxyConfig, RootCertificate};
use apify_core::ops::dataset::DownloadItems;
use apify_core::ops::key_value_store::GetRecordAsBytes;
use apify_core::ops::paginate::Paginated;
use apify_core::ops::plan::{IntoPlan, Plan};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;

/// The output of a call.
pub type Output<O> = <<O as IntoPlan>::Plan as Plan>::Output;

/// A boxed iterator the scenarios read streamed bodies with.
pub type Chunks<'a, T> = Box<dyn Iterator<Item = Result<T, Error>> + 'a>;

/// A streamed record: its content type and its chunks.
pub type RecordChunks<'a> = (Option<String>, Chunks<'a, Bytes>);

/// A named scenario.
pub(crate) type Scenario<D, M> = (&'static str, fn(&Target<D, M>) -> Outcome);

/// A scenario that runs only on targets with a [`Feature`].
pub(crate) type FeatureScenario<D, M> = (&'static str, &'static [Feature], fn(&Target<D, M>) -> Outcome);

/// What some scenarios need of a driver beyond plain HTTP/1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// TLS, with extra roots from [`NetSettings::roots`].
    Tls,
    /// HTTP and HTTPS proxies from [`NetSettings::proxy`].
    Proxy,
    /// HTTP/2 with prior knowledge over plain TCP ([`NetSettings::http2_prior_knowledge`]).
    Http2,
    /// Keep-alive connections reused from a pool.
    KeepAlive,
}

/// How the kit asks for a driver set up for a network scenario.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NetSettings {
    /// Certificate authorities to trust besides the driver's defaults.
    pub roots: Vec<RootCertificate>,
    /// The proxies to use (`None`: the driver's default, which must not read the process
    /// environment in a way another scenario could change).
    pub proxy: Option<ProxyConfig>,
    /// Speak HTTP/2 without negotiation.
    pub http2_prior_knowledge: bool,
}

/// How the suite runs calls on a driver of type `D`: blocking drivers with `.send()`,
/// async ones awaited on their executor. Scenarios are written once against this.
pub trait Mode<D>: Send + Sync {
    /// Runs one call.
    fn call<O: IntoPlan>(&self, call: CallBuilder<D, O>) -> Result<Output<O>, Error>;
    /// Streams dataset items, decoding them one by one.
    fn items<'a>(&'a self, call: StreamCall<D, DownloadItems>) -> Result<Chunks<'a, Value>, Error>;
    /// Streams a record's bytes (`None`: no such record), with its content type.
    fn record<'a>(&'a self, call: StreamCall<D, GetRecordAsBytes>) -> Result<Option<RecordChunks<'a>>, Error>;
    /// Collects an iteration over every page.
    fn collect<O: Paginated + Unpin>(&self, pages: Paginator<D, O>) -> Result<Vec<O::Item>, Error>;
    /// Uploads a record from a body produced chunk by chunk (a stream or a reader).
    fn upload(
        &self,
        store: &KeyValueStoreClient<D>,
        key: &str,
        content_type: &str,
        chunks: Vec<Bytes>,
    ) -> Result<(), Error>;
    /// Follows a log line by line (`None`: no such log).
    fn log_lines<'a>(&'a self, call: StreamCall<D, StreamLog>) -> Result<Option<Chunks<'a, String>>, Error>;
}

/// Runs blocking drivers ([`BlockingHttpClient`]) with `.send()` and plain iterators.
#[derive(Debug, Clone, Copy, Default)]
pub struct Blocking;

impl<D: BlockingHttpClient> Mode<D> for Blocking {
    fn call<O: IntoPlan>(&self, call: CallBuilder<D, O>) -> Result<Output<O>, Error> {
        call.send()
    }

    fn items<'a>(&'a self, call: StreamCall<D, DownloadItems>) -> Result<Chunks<'a, Value>, Error> {
        let body: BodyReader = call.send()?;
        Ok(Box::new(body.items::<Value>()))
    }

    fn record<'a>(&'a self, call: StreamCall<D, GetRecordAsBytes>) -> Result<Option<RecordChunks<'a>>, Error> {
        let Some(Record { value: mut reader, content_type, .. }) = call.send()? else { return Ok(None) };
        let chunks = std::iter::from_fn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            match std::io::Read::read(&mut reader, &mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some(Ok(Bytes::from(buf)))
                }
                Err(e) => Some(Err(Error::invalid_argument(format!("reading the record failed: {e}")))),
            }
        });
        Ok(Some((content_type, Box::new(chunks))))
    }

    fn collect<O: Paginated + Unpin>(&self, pages: Paginator<D, O>) -> Result<Vec<O::Item>, Error> {
        pages.collect()
    }

    fn upload(
        &self,
        store: &KeyValueStoreClient<D>,
        key: &str,
        content_type: &str,
        chunks: Vec<Bytes>,
    ) -> Result<(), Error> {
        // A reader that hands out one chunk at a time, as a file or a socket would.
        let reader = ChunkReader { chunks: chunks.into_iter(), pending: Bytes::new() };
        store.upload_record(key, content_type, reader).send()
    }

    fn log_lines<'a>(&'a self, call: StreamCall<D, StreamLog>) -> Result<Option<Chunks<'a, String>>, Error> {
        Ok(call.send()?.map(|lines| Box::new(lines) as Chunks<'a, String>))
    }
}

/// Runs a future to completion on an async runtime: `tokio::runtime::Runtime::block_on`,
/// `async_std::task::block_on`, `futures_lite::future::block_on`...
pub trait BlockOn: Send + Sync {
    /// Drives `future` to its end on the current thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output;
}

/// Runs async drivers ([`HttpClient`]) by awaiting each call on an executor.
#[derive(Debug, Clone)]
pub struct Async<E>(pub E);

impl<E> Async<E> {
    /// Awaits calls on `executor`.
    pub fn new(executor: E) -> Self {
        Self(executor)
    }
}

impl<D: HttpClient, E: BlockOn> Mode<D> for Async<E> {
    fn call<O: IntoPlan>(&self, call: CallBuilder<D, O>) -> Result<Output<O>, Error> {
        self.0.block_on(call.into_future())
    }

    fn items<'a>(&'a self, call: StreamCall<D, DownloadItems>) -> Result<Chunks<'a, Value>, Error> {
        let body: BodyStream = self.0.block_on(call.into_future())?;
        let mut items = body.items::<Value>();
        Ok(Box::new(std::iter::from_fn(move || self.0.block_on(items.next()))))
    }

    fn record<'a>(&'a self, call: StreamCall<D, GetRecordAsBytes>) -> Result<Option<RecordChunks<'a>>, Error> {
        let Some(Record { value: mut body, content_type, .. }) = self.0.block_on(call.into_future())? else {
            return Ok(None);
        };
        Ok(Some((content_type, Box::new(std::iter::from_fn(move || self.0.block_on(body.next()))))))
    }

    fn collect<O: Paginated + Unpin>(&self, pages: Paginator<D, O>) -> Result<Vec<O::Item>, Error> {
        self.0.block_on(pages.collect::<Vec<_>>()).into_iter().collect()
    }

    fn upload(
        &self,
        store: &KeyValueStoreClient<D>,
        key: &str,
        content_type: &str,
        chunks: Vec<Bytes>,
    ) -> Result<(), Error> {
        let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
        self.0.block_on(store.upload_record(key, content_type, stream).into_future())
    }

    fn log_lines<'a>(&'a self, call: StreamCall<D, StreamLog>) -> Result<Option<Chunks<'a, String>>, Error> {
        let Some(mut lines) = self.0.block_on(call.into_future())? else { return Ok(None) };
        Ok(Some(Box::new(std::iter::from_fn(move || self.0.block_on(lines.next())))))
    }
}

/// A reader over chunks produced one at a time.
struct ChunkReader<I> {
    chunks: I,
    pending: Bytes,
}

impl<I: Iterator<Item = Bytes>> std::io::Read for ChunkReader<I> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            match self.chunks.next() {
                Some(c) => self.pending = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending.split_to(n));
        Ok(n)
    }
}

type MakeClient<D> = Box<dyn Fn(Config) -> ApifyClient<D> + Send + Sync>;
type MakeDriver<D> = Box<dyn Fn(&NetSettings) -> D + Send + Sync>;

/// A driver under test.
pub struct Target<D, M> {
    name: String,
    mode: M,
    make: MakeClient<D>,
    network: bool,
    settings: Option<MakeDriver<D>>,
    features: Vec<Feature>,
    not_applicable: Vec<(Feature, String)>,
}

impl<D, M> std::fmt::Debug for Target<D, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("name", &self.name).field("network", &self.network).finish_non_exhaustive()
    }
}

impl<D: Environment, M: Mode<D>> Target<D, M> {
    /// A driver that speaks HTTP: `make` builds a fresh one for each scenario.
    pub fn network(name: &str, mode: M, make: impl Fn() -> D + Send + Sync + 'static) -> Self {
        let make = move |config: Config| ApifyClient::with_custom_http_client(config, make());
        Self {
            name: name.to_owned(),
            mode,
            make: Box::new(make),
            network: true,
            settings: None,
            features: vec![Feature::KeepAlive],
            not_applicable: Vec::new(),
        }
    }

    /// How to make the driver with [`NetSettings`]: runs the scenarios of `features`
    /// (TLS with custom roots, proxies, HTTP/2), each driver made for its scenario.
    pub fn with_settings(
        mut self,
        features: &[Feature],
        make: impl Fn(&NetSettings) -> D + Send + Sync + 'static,
    ) -> Self {
        self.settings = Some(Box::new(make));
        self.features.extend_from_slice(features);
        self
    }

    /// Says why the scenarios of `feature` do not apply to this driver (they are reported
    /// as skipped with `reason`).
    pub fn not_applicable(mut self, feature: Feature, reason: &str) -> Self {
        self.features.retain(|f| *f != feature);
        self.not_applicable.push((feature, reason.to_owned()));
        self
    }

    /// Why a scenario needing `feature` does not run, if it does not.
    fn skip_reason(&self, feature: Feature) -> Option<String> {
        if let Some((_, why)) = self.not_applicable.iter().find(|(f, _)| *f == feature) {
            return Some(why.clone());
        }
        if self.features.contains(&feature) && (feature == Feature::KeepAlive || self.settings.is_some()) {
            return None;
        }
        Some(format!("{feature:?} not declared by the target (Target::with_settings)"))
    }

    /// A client of a driver made with `settings` (the plain maker when `settings` is
    /// the default and none was given).
    pub(crate) fn client_with_settings(&self, config: Config, settings: &NetSettings) -> ApifyClient<D> {
        match &self.settings {
            Some(make) => ApifyClient::with_custom_http_client(config, make(settings)),
            None => (self.make)(config),
        }
    }

    /// A driver with no wire (such as the local driver): `make` builds a client over fresh
    /// storage for each scenario, and only the storage scenarios run.
    pub fn in_process(name: &str, mode: M, make: impl Fn() -> ApifyClient<D> + Send + Sync + 'static) -> Self {
        Self {
            name: name.to_owned(),
            mode,
            make: Box::new(move |_| make()),
            network: false,
            settings: None,
            features: Vec::new(),
            not_applicable: Vec::new(),
        }
    }

    /// Its name in reports.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What one scenario found.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// Scenario name.
    pub name: &'static str,
    /// `Err` with what went wrong.
    pub outcome: Result<(), String>,
    /// Why the scenario did not run on this target (then `outcome` is `Ok`).
    pub skipped: Option<String>,
    /// Wall time.
    pub took: Duration,
}

/// The results of a run.
#[derive(Debug, Clone)]
pub struct Report {
    /// The driver.
    pub target: String,
    /// One entry per scenario, in order.
    pub results: Vec<ScenarioResult>,
}

impl Report {
    /// Failed scenarios.
    pub fn failures(&self) -> impl Iterator<Item = &ScenarioResult> {
        self.results.iter().filter(|r| r.outcome.is_err())
    }

    /// Scenarios that do not apply to the target, with the reason.
    pub fn skipped(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.results.iter().filter_map(|r| r.skipped.as_deref().map(|why| (r.name, why)))
    }

    /// Panics with every failure listed, if any.
    pub fn assert_passed(&self) {
        let failed: Vec<String> =
            self.failures().map(|r| format!("  {}: {}", r.name, r.outcome.as_ref().unwrap_err())).collect();
        assert!(
            failed.is_empty(),
            "{}: {} of {} scenarios failed:\n{}",
            self.target,
            failed.len(),
            self.results.len(),
            failed.join("\n")
        );
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for r in &self.results {
            let status = match (&r.outcome, &r.skipped) {
                (Err(_), _) => "FAILED".to_owned(),
                (Ok(()), Some(why)) => format!("skipped: {why}"),
                (Ok(()), None) => "ok".to_owned(),
            };
            writeln!(f, "{:<16} {:<44} {:>6} ms  {status}", self.target, r.name, r.took.as_millis())?;
        }
        Ok(())
    }
}

/// What a scenario returns.
pub(crate) type Outcome = Result<(), String>;

/// Fails the scenario with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;

/// Turns a call's error into a scenario failure naming the step.
pub(crate) trait Step<T> {
    fn step(self, what: &str) -> Result<T, String>;
}

impl<T> Step<T> for Result<T, Error> {
    fn step(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e} ({e:?})"))
    }
}

/// Runs every scenario against `target` and reports each one.
pub fn run_conformance<D: Environment, M: Mode<D>>(target: &Target<D, M>) -> Report {
    let mut scenarios: Vec<Scenario<D, M>> = vec![
        ("datasets end to end", storage::datasets),
        ("key-value stores end to end", storage::key_value_stores),
        ("request queues end to end", storage::request_queues),
        ("pagination to the last page", storage::pagination),
    ];
    if target.network {
        scenarios.extend::<[Scenario<D, M>; 6]>([
            ("auth header, and no token in logs", wire::auth_and_logs),
            ("gzip request bodies", wire::gzip_requests),
            ("decompressed responses", wire::decompressed_responses),
            ("large item stream read incrementally", wire::large_item_stream),
            ("large record stream read incrementally", wire::large_record_stream),
            ("streamed upload, chunked, one attempt", wire::streamed_upload),
        ]);
        scenarios.extend(faults::scenarios::<D, M>());
        scenarios.extend(jobs::scenarios::<D, M>());
        scenarios.extend(net::scenarios::<D, M>());
        scenarios.extend(platform::scenarios::<D, M>());
    }
    let run_one = |name: &'static str, run: fn(&Target<D, M>) -> Outcome| {
        let start = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(target)))
            .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(&p))));
        ScenarioResult { name, outcome, skipped: None, took: start.elapsed() }
    };
    let mut results: Vec<ScenarioResult> = scenarios.into_iter().map(|(name, run)| run_one(name, run)).collect();
    if target.network {
        for (name, features, run) in net::feature_scenarios::<D, M>() {
            match features.iter().find_map(|f| target.skip_reason(*f)) {
                Some(why) => {
                    results.push(ScenarioResult { name, outcome: Ok(()), skipped: Some(why), took: Duration::ZERO })
                }
                None => results.push(run_one(name, run)),
            }
        }
    }
    Report { target: target.name.clone(), results }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// A client of `target` for `url` with fast retries (20 ms base delay).
pub(crate) fn client_for<D: Environment, M>(target: &Target<D, M>, url: &str, token: &str) -> ApifyClient<D> {
    let config = Config::new()
        .with_token(token)
        .with_api_url(url)
        .unwrap_or_else(|e| panic!("bad test URL {url}: {e}"))
        .with_min_delay_between_retries(BASE_DELAY);
    (target.make)(config)
}

/// [`client_for`] with the storage token and a changed configuration.
pub(crate) fn client_with<D: Environment, M>(
    target: &Target<D, M>,
    url: &str,
    configure: impl FnOnce(Config) -> Config,
) -> ApifyClient<D> {
    let config = Config::new()
        .with_token(storage::TOKEN)
        .with_api_url(url)
        .unwrap_or_else(|e| panic!("bad test URL {url}: {e}"))
        .with_min_delay_between_retries(BASE_DELAY);
    (target.make)(configure(config))
}

/// The retry base delay the fault scenarios use.
pub(crate) const BASE_DELAY: Duration = Duration::from_millis(20);

/// [`client_with`] on a driver made with `settings`.
pub(crate) fn client_on<D: Environment, M: Mode<D>>(
    target: &Target<D, M>,
    url: &str,
    settings: &NetSettings,
    configure: impl FnOnce(Config) -> Config,
) -> ApifyClient<D> {
    let config = Config::new()
        .with_token(storage::TOKEN)
        .with_api_url(url)
        .unwrap_or_else(|e| panic!("bad test URL {url}: {e}"))
        .with_min_delay_between_retries(BASE_DELAY);
    target.client_with_settings(configure(config), settings)
}
