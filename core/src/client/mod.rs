//! The client tree, generic over the HTTP driver and shared by async and blocking use.
//!
//! Resource methods (`client.dataset(id).list_items()`) return builders; an async driver
//! runs them with `.await`, a blocking driver with `.send()`. Nothing here does I/O: the
//! driver ([`HttpClient`] or [`BlockingHttpClient`]) supplies sending, sleeping and the
//! clock, and the core's [`Call`](crate::call::Call) decides retries and waits.

mod body;
mod builder;
pub mod decoding;
mod exec;
mod http;
mod paginator;
mod storage;

use std::sync::Arc;

pub use body::{BodyReader, BodyStream, ItemDecoder, ItemIter, ItemStream, LineStream};
pub use builder::{CallBuilder, StreamCall, StreamOperation, UploadCall};
pub use http::{
    BlockingHttpClient, BlockingHttpRequest, BlockingHttpResponse, BlockingRequestBody, BlockingResponseBody,
    BoxFuture, ByteStream, Environment, HttpClient, HttpRequest, HttpResponse, RequestBody, ResponseBody,
};
pub use paginator::Paginator;
pub use storage::{
    DatasetClient, DatasetCollectionClient, KeyValueStoreClient, KeyValueStoreCollectionClient, RequestQueueClient,
    RequestQueueCollectionClient, StorageCollectionClient,
};

use crate::config::Config;
use crate::ops::storage::{Datasets, KeyValueStores, RequestQueues};
use crate::stats::StatsSnapshot;
use exec::ClientInner;

/// The Apify API client, generic over its HTTP driver `D`.
///
/// Cheap to clone; clones share the driver (and its connection pool) and the statistics.
pub struct ApifyClient<D> {
    inner: Arc<ClientInner<D>>,
}

impl<D> Clone for ApifyClient<D> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<D> std::fmt::Debug for ApifyClient<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApifyClient").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl<D: Environment> ApifyClient<D> {
    /// A client that sends through `http_client`, your own implementation of
    /// [`HttpClient`] or [`BlockingHttpClient`], with exactly this configuration.
    pub fn with_custom_http_client(config: Config, http_client: D) -> Self {
        Self { inner: Arc::new(ClientInner::new(http_client, config)) }
    }

    /// A client with `token` and the driver's defaults; reads `APIFY_IS_AT_HOME` and
    /// `APIFY_WORKFLOW_KEY` through the driver.
    pub fn new(token: impl Into<String>) -> Self
    where
        D: Default,
    {
        Self::from_config(Config::new().with_token(token))
    }

    /// A client with this configuration (plus the environment, as in [`ApifyClient::new`])
    /// and the driver's defaults.
    pub fn from_config(config: Config) -> Self
    where
        D: Default,
    {
        let driver = D::default();
        let config = config.apply_env(|k| driver.env_var(k));
        Self::with_custom_http_client(config, driver)
    }
}

impl<D> ApifyClient<D> {
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Counters of calls, requests, retries and 429s, shared by every sub-client.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The HTTP driver.
    pub fn http_client(&self) -> &D {
        &self.inner.driver
    }

    /// The dataset collection (`/v2/datasets`).
    pub fn datasets(&self) -> DatasetCollectionClient<D> {
        StorageCollectionClient::<D, Datasets>::new(self.inner.clone())
    }

    /// A dataset by ID, `username~name` or `~name`.
    pub fn dataset(&self, id: &str) -> DatasetClient<D> {
        DatasetClient::by_id(self.inner.clone(), id)
    }

    /// The key-value store collection (`/v2/key-value-stores`).
    pub fn key_value_stores(&self) -> KeyValueStoreCollectionClient<D> {
        StorageCollectionClient::<D, KeyValueStores>::new(self.inner.clone())
    }

    /// A key-value store by ID, `username~name` or `~name`.
    pub fn key_value_store(&self, id: &str) -> KeyValueStoreClient<D> {
        KeyValueStoreClient::by_id(self.inner.clone(), id)
    }

    /// The request queue collection (`/v2/request-queues`).
    pub fn request_queues(&self) -> RequestQueueCollectionClient<D> {
        StorageCollectionClient::<D, RequestQueues>::new(self.inner.clone())
    }

    /// A request queue by ID, `username~name` or `~name`.
    pub fn request_queue(&self, id: &str) -> RequestQueueClient<D> {
        RequestQueueClient::by_id(self.inner.clone(), id)
    }
}
