//! Calls made of several requests (chunked pushes, merged batches, public URLs) as pure
//! state machines, so that async and blocking executors share one implementation.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::dataset::{DownloadItems, ItemFilters, ItemFormat, PushItems, items_public_url};
use super::key_value_store::{ListKeys, keys_public_url, record_public_url};
use super::request_queue::{BatchAddRequests, BatchDeleteRequests, MAX_BATCH_REQUESTS, RequestRef};
use super::storage::{Datasets, GetStorage, KeyValueStores, StorageKind};
use super::{Decoder, Operation, setters};
use crate::config::{Config, Timeout, TimeoutTier};
use crate::error::Error;
use crate::models::{BatchAddResult, BatchDeleteResult, Dataset, KeyValueStore};
use crate::path::ResourcePath;
use crate::request::ApiRequest;
use crate::response::Response;
use crate::time::Instant;

/// What a plan asks of its executor next.
#[derive(Debug)]
// The request is moved straight into the call; boxing it would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// Send this request (with the core's retries), then report its final response.
    Send(ApiRequest),
    /// Send these requests concurrently (each with its retries), then report their final
    /// responses in this order. If any of them fails, the call fails (once all are over).
    SendAll(Vec<ApiRequest>),
    /// Sleep this long, then ask again. An `optional` wait is skipped by a driver without a
    /// timer; a required one ends the call with [`GiveUpReason::NoTimer`](crate::error::GiveUpReason).
    Wait {
        /// How long.
        duration: Duration,
        /// Whether the call may go on without it.
        optional: bool,
    },
    /// The call is complete: take [`Plan::finish`].
    Done,
}

/// What a plan may read when it decides its next step: the configuration, the client's
/// target, the monotonic and wall clocks and a random number, all passed in by the
/// executor (the core reads none of them itself).
#[derive(Debug, Clone, Copy)]
pub struct PlanCx<'a> {
    /// The client's configuration.
    pub config: &'a Config,
    /// The path the client was built with.
    pub target: &'a ResourcePath,
    /// Monotonic time now.
    pub now: Instant,
    /// The wall clock, when the driver has one.
    pub wall: Option<SystemTime>,
    /// A random number, fresh for each step (drawn from the driver's seed).
    pub random: u64,
}

impl<'a> PlanCx<'a> {
    /// A context with no clocks and no entropy (time stands still at zero).
    pub fn new(config: &'a Config, target: &'a ResourcePath) -> Self {
        Self { config, target, now: Instant::ZERO, wall: None, random: 0 }
    }
}

/// A call of one or more requests, sent one after another, with waits between them where
/// the plan asks for them.
pub trait Plan: Send + 'static {
    /// The call's result.
    type Output: Send + 'static;
    /// The next step.
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error>;
    /// Takes the final response of the request last sent.
    fn on_response(&mut self, response: Response) -> Result<(), Error>;
    /// The result, once `next` returned [`Step::Done`].
    fn finish(self) -> Result<Self::Output, Error>;

    /// The next request of a plan that never waits, with the clock at zero (for tests and
    /// hand-driven plans); `None` when the plan is done.
    fn next_request(
        &mut self,
        config: &Config,
        target: &ResourcePath,
        wall: Option<SystemTime>,
    ) -> Result<Option<ApiRequest>, Error> {
        let cx = PlanCx { wall, ..PlanCx::new(config, target) };
        match self.next(&cx)? {
            Step::Send(r) => Ok(Some(r)),
            Step::Done => Ok(None),
            Step::SendAll(mut all) if all.len() == 1 => Ok(all.pop()),
            Step::SendAll(_) | Step::Wait { .. } => {
                Err(Error::invalid_argument("plan: this plan waits; run it through a client"))
            }
        }
    }
}

/// Anything the client can execute: every [`Operation`], and the composite calls here.
pub trait IntoPlan: Send + 'static {
    /// The plan.
    type Plan: Plan;
    /// Starts it.
    fn into_plan(self) -> Self::Plan;
}

/// An [`Operation`] as a one-request plan.
pub struct Single<O: Operation> {
    op: Option<O>,
    decoder: Option<Decoder<O::Output>>,
    output: Option<O::Output>,
}

impl<O: Operation> IntoPlan for O {
    type Plan = Single<O>;
    fn into_plan(self) -> Single<O> {
        Single { op: Some(self), decoder: None, output: None }
    }
}

impl<O: Operation> Plan for Single<O> {
    type Output = O::Output;
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        let Some(op) = self.op.take() else { return Ok(Step::Done) };
        let (request, decoder) = op.build(cx.config, cx.target)?.into_parts();
        self.decoder = Some(decoder);
        Ok(Step::Send(request))
    }
    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        let decoder = self.decoder.take().ok_or_else(|| Error::invalid_argument("plan: response without a request"))?;
        self.output = Some(decoder(response)?);
        Ok(())
    }
    fn finish(self) -> Result<O::Output, Error> {
        self.output.ok_or_else(|| Error::invalid_argument("plan: finished before its request completed"))
    }
}

/// Dataset push split into bodies of at most 9 MiB, sent in order.
pub struct PushChunks {
    chunks: VecDeque<Bytes>,
    pending: Option<Decoder<()>>,
}

/// A copy that has sent nothing yet.
impl Clone for PushChunks {
    fn clone(&self) -> Self {
        Self { chunks: self.chunks.clone(), pending: None }
    }
}

impl PushChunks {
    /// Chunks from [`super::dataset::chunk_items`].
    pub fn new(chunks: Vec<Bytes>) -> Self {
        Self { chunks: chunks.into(), pending: None }
    }
}

impl IntoPlan for PushChunks {
    type Plan = Self;
    fn into_plan(self) -> Self {
        self
    }
}

impl Plan for PushChunks {
    type Output = ();
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        let Some(body) = self.chunks.pop_front() else { return Ok(Step::Done) };
        let (req, dec) = PushItems::raw_json(body).build(cx.config, cx.target)?.into_parts();
        self.pending = Some(dec);
        Ok(Step::Send(req))
    }
    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        match self.pending.take() {
            Some(dec) => dec(response),
            None => Ok(()),
        }
    }
    fn finish(self) -> Result<(), Error> {
        Ok(())
    }
}

/// Batch add split into calls of at most 25 requests, up to `max_parallel` of them at
/// once; results are merged in the order of the requests given.
pub struct BatchAdd {
    chunks: VecDeque<Bytes>,
    forefront: bool,
    max_parallel: usize,
    pending: VecDeque<Decoder<BatchAddResult>>,
    result: BatchAddResult,
}

/// A copy that has sent nothing yet.
impl Clone for BatchAdd {
    fn clone(&self) -> Self {
        Self {
            chunks: self.chunks.clone(),
            forefront: self.forefront,
            max_parallel: self.max_parallel,
            pending: VecDeque::new(),
            result: BatchAddResult::default(),
        }
    }
}

impl BatchAdd {
    /// Bodies from [`super::request_queue::chunk_requests`].
    pub fn new(chunks: Vec<Bytes>, forefront: bool) -> Self {
        Self {
            chunks: chunks.into(),
            forefront,
            max_parallel: 1,
            pending: VecDeque::new(),
            result: BatchAddResult::default(),
        }
    }

    /// Puts the requests at the head of the queue.
    pub fn forefront(mut self, forefront: bool) -> Self {
        self.forefront = forefront;
        self
    }

    /// Sends up to this many batches at once (default 1; 0 counts as 1).
    pub fn max_parallel(mut self, n: usize) -> Self {
        self.max_parallel = n.max(1);
        self
    }
}

impl IntoPlan for BatchAdd {
    type Plan = Self;
    fn into_plan(self) -> Self {
        self
    }
}

impl Plan for BatchAdd {
    type Output = BatchAddResult;
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        let mut reqs = Vec::with_capacity(self.max_parallel.min(self.chunks.len()));
        while reqs.len() < self.max_parallel
            && let Some(body) = self.chunks.pop_front()
        {
            let (req, dec) =
                BatchAddRequests { body, forefront: self.forefront }.build(cx.config, cx.target)?.into_parts();
            self.pending.push_back(dec);
            reqs.push(req);
        }
        Ok(match reqs.len() {
            0 => Step::Done,
            1 => Step::Send(reqs.remove(0)),
            _ => Step::SendAll(reqs),
        })
    }
    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        if let Some(dec) = self.pending.pop_front() {
            let r = dec(response)?;
            self.result.processed_requests.extend(r.processed_requests);
            self.result.unprocessed_requests.extend(r.unprocessed_requests);
        }
        Ok(())
    }
    fn finish(self) -> Result<BatchAddResult, Error> {
        Ok(self.result)
    }
}

/// Batch delete split into calls of at most 25 requests; results are merged.
pub struct BatchDelete {
    chunks: VecDeque<Vec<RequestRef>>,
    pending: Option<Decoder<BatchDeleteResult>>,
    result: BatchDeleteResult,
}

/// A copy that has sent nothing yet.
impl Clone for BatchDelete {
    fn clone(&self) -> Self {
        Self { chunks: self.chunks.clone(), pending: None, result: BatchDeleteResult::default() }
    }
}

impl BatchDelete {
    /// Deletes `requests`, 25 per call.
    pub fn new(requests: Vec<RequestRef>) -> Self {
        let chunks = requests.chunks(MAX_BATCH_REQUESTS).map(<[RequestRef]>::to_vec).collect();
        Self { chunks, pending: None, result: BatchDeleteResult::default() }
    }
}

impl IntoPlan for BatchDelete {
    type Plan = Self;
    fn into_plan(self) -> Self {
        self
    }
}

impl Plan for BatchDelete {
    type Output = BatchDeleteResult;
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        let Some(requests) = self.chunks.pop_front() else { return Ok(Step::Done) };
        let (req, dec) = BatchDeleteRequests { requests }.build(cx.config, cx.target)?.into_parts();
        self.pending = Some(dec);
        Ok(Step::Send(req))
    }
    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        if let Some(dec) = self.pending.take() {
            let r = dec(response)?;
            self.result.processed_requests.extend(r.processed_requests);
            self.result.unprocessed_requests.extend(r.unprocessed_requests);
        }
        Ok(())
    }
    fn finish(self) -> Result<BatchDeleteResult, Error> {
        Ok(self.result)
    }
}

/// Unix milliseconds of `wall + expires_in`; an expiry needs a wall clock.
fn expires_at(wall: Option<SystemTime>, expires_in: Option<Duration>) -> Result<Option<u64>, Error> {
    let Some(d) = expires_in else { return Ok(None) };
    let wall = wall.ok_or_else(|| {
        Error::invalid_argument("an expiring URL needs a wall clock, which this HTTP client does not provide")
    })?;
    let now = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
    Ok(Some((now + d).as_millis() as u64))
}

/// How a public URL is built from the storage object it points to.
pub trait PublicUrlSpec<K: StorageKind>: Send + 'static {
    /// Name of the client method, for logs.
    const CLIENT_METHOD: &'static str;
    /// Refuses bad arguments before anything is sent.
    fn check(&self) -> Result<(), Error> {
        Ok(())
    }
    /// How long the URL stays valid (`None`: forever).
    fn expires_in(&self) -> Option<Duration>;
    /// Builds the URL from the fetched storage.
    fn url(self, config: &Config, object: &K::Object, expires_at_millis: Option<u64>) -> Result<String, Error>;
}

/// Reads the storage object, then builds a URL from it (public URLs need the real ID and
/// signing secret, which a client addressed by name or chained from a run does not know).
pub struct PublicUrl<K: StorageKind, U> {
    spec: Option<U>,
    config: Option<Config>,
    expires_at: Option<u64>,
    pending: Option<Decoder<Option<K::Object>>>,
    object: Option<K::Object>,
}

impl<K: StorageKind, U: PublicUrlSpec<K>> Plan for PublicUrl<K, U> {
    type Output = String;
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        if self.config.is_some() {
            return Ok(Step::Done);
        }
        if let Some(spec) = &self.spec {
            spec.check()?;
        }
        self.expires_at = expires_at(cx.wall, self.spec.as_ref().and_then(U::expires_in))?;
        self.config = Some(cx.config.clone());
        let (mut req, dec) = GetStorage::<K>::default().build(cx.config, cx.target)?.into_parts();
        // Public URL methods read the storage in the `long` tier (client-behaviour §10.2).
        req.timeout = Timeout::Tier(TimeoutTier::Long);
        req.meta.client_method = U::CLIENT_METHOD;
        self.pending = Some(dec);
        Ok(Step::Send(req))
    }
    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        let url = response.url.clone();
        let dec = self.pending.take().ok_or_else(|| Error::invalid_argument("plan: response without a request"))?;
        self.object = Some(dec(response)?.ok_or_else(|| {
            Error::invalid_argument(format!("{} at {url} was not found, so it has no public URL", K::NAME))
        })?);
        Ok(())
    }
    fn finish(self) -> Result<String, Error> {
        let (Some(spec), Some(config), Some(object)) = (self.spec, self.config, self.object) else {
            return Err(Error::invalid_argument("plan: finished before the storage was read"));
        };
        spec.url(&config, &object, self.expires_at)
    }
}

macro_rules! public_url_plan {
    ($spec:ty, $kind:ty) => {
        impl IntoPlan for $spec {
            type Plan = PublicUrl<$kind, Self>;
            fn into_plan(self) -> Self::Plan {
                PublicUrl { spec: Some(self), config: None, expires_at: None, pending: None, object: None }
            }
        }
    };
}

/// `create_items_public_url`: a shareable URL of the dataset's items.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct ItemsPublicUrl {
    pub filters: ItemFilters,
    pub format: Option<ItemFormat>,
    pub expires_in: Option<Duration>,
}

super::dataset::filter_setters!([] ItemsPublicUrl);
setters!([] ItemsPublicUrl {
    /// Output format.
    format: ItemFormat,
    /// How long a signed URL stays valid.
    expires_in: Duration,
});

impl PublicUrlSpec<Datasets> for ItemsPublicUrl {
    const CLIENT_METHOD: &'static str = "DatasetClient.create_items_public_url";
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in
    }
    fn url(self, config: &Config, dataset: &Dataset, exp: Option<u64>) -> Result<String, Error> {
        let mut download = DownloadItems::new();
        download.filters = self.filters;
        download.format = self.format;
        items_public_url(config, dataset, &download, exp)
    }
}
public_url_plan!(ItemsPublicUrl, Datasets);

/// `create_keys_public_url`: a shareable URL of the store's key listing.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct KeysPublicUrl {
    pub limit: Option<u64>,
    pub exclusive_start_key: Option<String>,
    pub collection: Option<String>,
    pub prefix: Option<String>,
    pub expires_in: Option<Duration>,
}

setters!([] KeysPublicUrl {
    /// Page size.
    limit: u64,
    /// Start after this key.
    exclusive_start_key: String,
    /// Only this collection.
    collection: String,
    /// Only keys with this prefix.
    prefix: String,
    /// How long a signed URL stays valid.
    expires_in: Duration,
});

impl PublicUrlSpec<KeyValueStores> for KeysPublicUrl {
    const CLIENT_METHOD: &'static str = "KeyValueStoreClient.create_keys_public_url";
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in
    }
    fn url(self, config: &Config, store: &KeyValueStore, exp: Option<u64>) -> Result<String, Error> {
        let list = ListKeys {
            limit: self.limit,
            exclusive_start_key: self.exclusive_start_key,
            collection: self.collection,
            prefix: self.prefix,
            ..ListKeys::default()
        };
        keys_public_url(config, store, &list, exp)
    }
}
public_url_plan!(KeysPublicUrl, KeyValueStores);

/// `get_record_public_url`: a shareable URL of one record.
#[derive(Debug, Clone)]
pub struct RecordPublicUrl {
    /// Record key.
    pub key: String,
}

impl PublicUrlSpec<KeyValueStores> for RecordPublicUrl {
    const CLIENT_METHOD: &'static str = "KeyValueStoreClient.get_record_public_url";
    fn check(&self) -> Result<(), Error> {
        crate::path::encode_segment("a record key", &self.key).map(drop)
    }
    fn expires_in(&self) -> Option<Duration> {
        None
    }
    fn url(self, config: &Config, store: &KeyValueStore, _: Option<u64>) -> Result<String, Error> {
        record_public_url(config, store, &self.key)
    }
}
public_url_plan!(RecordPublicUrl, KeyValueStores);
