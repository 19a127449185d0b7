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

/// A call of one or more requests, sent one after another.
pub trait Plan: Send + 'static {
    /// The call's result.
    type Output: Send + 'static;
    /// The next request, or `None` when the call is complete. `wall` is the wall clock,
    /// when the driver has one (for URL expiry).
    fn next_request(
        &mut self,
        config: &Config,
        target: &ResourcePath,
        wall: Option<SystemTime>,
    ) -> Result<Option<ApiRequest>, Error>;
    /// Takes the final response of the request last returned.
    fn on_response(&mut self, response: Response) -> Result<(), Error>;
    /// The result, once `next_request` returned `None`.
    fn finish(self) -> Result<Self::Output, Error>;
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
    fn next_request(
        &mut self,
        config: &Config,
        target: &ResourcePath,
        _: Option<SystemTime>,
    ) -> Result<Option<ApiRequest>, Error> {
        let Some(op) = self.op.take() else { return Ok(None) };
        let (request, decoder) = op.build(config, target)?.into_parts();
        self.decoder = Some(decoder);
        Ok(Some(request))
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
    fn next_request(
        &mut self,
        config: &Config,
        target: &ResourcePath,
        _: Option<SystemTime>,
    ) -> Result<Option<ApiRequest>, Error> {
        let Some(body) = self.chunks.pop_front() else { return Ok(None) };
        let (req, dec) = PushItems::raw_json(body).build(config, target)?.into_parts();
        self.pending = Some(dec);
        Ok(Some(req))
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

/// Batch add split into calls of at most 25 requests; results are merged.
pub struct BatchAdd {
    chunks: VecDeque<Bytes>,
    forefront: bool,
    pending: Option<Decoder<BatchAddResult>>,
    result: BatchAddResult,
}

impl BatchAdd {
    /// Bodies from [`super::request_queue::chunk_requests`].
    pub fn new(chunks: Vec<Bytes>, forefront: bool) -> Self {
        Self { chunks: chunks.into(), forefront, pending: None, result: BatchAddResult::default() }
    }

    /// Puts the requests at the head of the queue.
    pub fn forefront(mut self, forefront: bool) -> Self {
        self.forefront = forefront;
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
    fn next_request(
        &mut self,
        config: &Config,
        target: &ResourcePath,
        _: Option<SystemTime>,
    ) -> Result<Option<ApiRequest>, Error> {
        let Some(body) = self.chunks.pop_front() else { return Ok(None) };
        let (req, dec) = BatchAddRequests { body, forefront: self.forefront }.build(config, target)?.into_parts();
        self.pending = Some(dec);
        Ok(Some(req))
    }
    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        if let Some(dec) = self.pending.take() {
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
    fn next_request(
        &mut self,
        config: &Config,
        target: &ResourcePath,
        _: Option<SystemTime>,
    ) -> Result<Option<ApiRequest>, Error> {
        let Some(requests) = self.chunks.pop_front() else { return Ok(None) };
        let (req, dec) = BatchDeleteRequests { requests }.build(config, target)?.into_parts();
        self.pending = Some(dec);
        Ok(Some(req))
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
    fn next_request(
        &mut self,
        config: &Config,
        target: &ResourcePath,
        wall: Option<SystemTime>,
    ) -> Result<Option<ApiRequest>, Error> {
        if self.config.is_some() {
            return Ok(None);
        }
        if let Some(spec) = &self.spec {
            spec.check()?;
        }
        self.expires_at = expires_at(wall, self.spec.as_ref().and_then(U::expires_in))?;
        self.config = Some(config.clone());
        let (mut req, dec) = GetStorage::<K>::default().build(config, target)?.into_parts();
        // Public URL methods read the storage in the `long` tier (client-behaviour §10.2).
        req.timeout = Timeout::Tier(TimeoutTier::Long);
        req.meta.client_method = U::CLIENT_METHOD;
        self.pending = Some(dec);
        Ok(Some(req))
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
        let download = DownloadItems { filters: self.filters, format: self.format, ..Default::default() };
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
