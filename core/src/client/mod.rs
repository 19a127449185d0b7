//! The client tree, generic over the HTTP driver and shared by async and blocking use.
//!
//! Resource methods (`client.dataset(id).list_items()`) return builders; an async driver
//! runs them with `.await`, a blocking driver with `.send()`. Nothing here does I/O: the
//! driver ([`HttpClient`] or [`BlockingHttpClient`]) supplies sending, sleeping and the
//! clock, and the core's [`Call`](crate::call::Call) decides retries and waits.

mod actor;
mod base;
mod body;
mod build;
mod builder;
pub mod decoding;
mod exec;
mod http;
mod log;
#[cfg(any(test, feature = "test-util"))]
pub mod mock;
mod paginator;
mod plan_stream;
mod raw;
mod redirect;
mod run;
mod run_sync;
mod schedule;
mod storage;
mod task;
mod user;
mod webhook;

use std::sync::Arc;

pub use actor::{
    ActorClient, ActorCollectionClient, ActorEnvVarClient, ActorEnvVarCollectionClient, ActorVersionClient,
    ActorVersionCollectionClient, DefaultBuildCall,
};
pub use body::{BodyReader, BodyStream, ItemDecoder, ItemIter, ItemStream, LineIter, LineStream, StreamBody};
pub use build::{BuildClient, BuildCollectionClient};
pub use builder::{CallBuilder, StreamCall, StreamOperation, UploadCall};
pub use http::{
    BlockingHttpClient, BlockingHttpRequest, BlockingHttpResponse, BlockingRequestBody, BlockingResponseBody,
    BoxFuture, ByteStream, Environment, HttpClient, HttpRequest, HttpResponse, RequestBody, ResponseBody,
};
pub use log::{LogClient, StreamLog};
pub use paginator::Paginator;
pub use plan_stream::PlanStream;
pub use raw::{RawCall, RawRequest, RawStreamCall};
pub use redirect::{StatusMessageWatcher, StreamedLog, log_to_tracing};
pub use run::{RunClient, RunCollectionClient};
pub use run_sync::RunSyncItems;
pub use schedule::{ScheduleClient, ScheduleCollectionClient};
pub use storage::{
    DatasetClient, DatasetCollectionClient, KeyValueStoreClient, KeyValueStoreCollectionClient, RequestQueueClient,
    RequestQueueCollectionClient, StorageCollectionClient,
};
pub use task::{TaskClient, TaskCollectionClient};
pub use user::{StoreCollectionClient, ToolsClient, UserClient};
pub use webhook::{WebhookClient, WebhookCollectionClient, WebhookDispatchClient, WebhookDispatchCollectionClient};

use crate::config::Config;
use crate::ops::storage::{Datasets, KeyValueStores, RequestQueues};
use crate::stats::StatsSnapshot;
use base::Base;
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

    /// The Actor collection (`/v2/actors`).
    pub fn actors(&self) -> ActorCollectionClient<D> {
        ActorCollectionClient::new(Base::collection(self.inner.clone(), "actors"))
    }

    /// An Actor by ID or `username/name`.
    pub fn actor(&self, id: &str) -> ActorClient<D> {
        ActorClient::new(Base::resource(self.inner.clone(), "actors", id))
    }

    /// Every build of the account (`/v2/actor-builds`).
    pub fn builds(&self) -> BuildCollectionClient<D> {
        BuildCollectionClient::new(Base::collection(self.inner.clone(), "actor-builds"), build::BuildScope::Global)
    }

    /// A build by ID.
    pub fn build(&self, id: &str) -> BuildClient<D> {
        BuildClient::new(Base::resource(self.inner.clone(), "actor-builds", id), build::BuildScope::Global)
    }

    /// Every run of the account (`/v2/actor-runs`).
    pub fn runs(&self) -> RunCollectionClient<D> {
        RunCollectionClient::new(Base::collection(self.inner.clone(), "actor-runs"), run::RunScope::Global)
    }

    /// A run by ID.
    pub fn run(&self, id: &str) -> RunClient<D> {
        RunClient::new(Base::resource(self.inner.clone(), "actor-runs", id), run::RunScope::Global)
    }

    /// The task collection (`/v2/actor-tasks`).
    pub fn tasks(&self) -> TaskCollectionClient<D> {
        TaskCollectionClient::new(Base::collection(self.inner.clone(), "actor-tasks"))
    }

    /// A task by ID or `username/name`.
    pub fn task(&self, id: &str) -> TaskClient<D> {
        TaskClient::new(Base::resource(self.inner.clone(), "actor-tasks", id))
    }

    /// The schedule collection (`/v2/schedules`).
    pub fn schedules(&self) -> ScheduleCollectionClient<D> {
        ScheduleCollectionClient::new(Base::collection(self.inner.clone(), "schedules"))
    }

    /// A schedule by ID.
    pub fn schedule(&self, id: &str) -> ScheduleClient<D> {
        ScheduleClient::new(Base::resource(self.inner.clone(), "schedules", id))
    }

    /// The webhook collection (`/v2/webhooks`).
    pub fn webhooks(&self) -> WebhookCollectionClient<D> {
        WebhookCollectionClient::new(Base::collection(self.inner.clone(), "webhooks"), webhook::WebhookScope::Global)
    }

    /// A webhook by ID.
    pub fn webhook(&self, id: &str) -> WebhookClient<D> {
        WebhookClient::new(Base::resource(self.inner.clone(), "webhooks", id))
    }

    /// Every webhook dispatch (`/v2/webhook-dispatches`).
    pub fn webhook_dispatches(&self) -> WebhookDispatchCollectionClient<D> {
        WebhookDispatchCollectionClient::new(Base::collection(self.inner.clone(), "webhook-dispatches"), false)
    }

    /// A webhook dispatch by ID.
    pub fn webhook_dispatch(&self, id: &str) -> WebhookDispatchClient<D> {
        WebhookDispatchClient::new(Base::resource(self.inner.clone(), "webhook-dispatches", id))
    }

    /// The log of a run or a build, by its ID.
    pub fn log(&self, build_or_run_id: &str) -> LogClient<D> {
        LogClient::new(Base::resource(self.inner.clone(), "logs", build_or_run_id), log::LogScope::ById)
    }

    /// A user: `None` (or `"me"`) is the token's own account.
    pub fn user<'a>(&self, id: impl Into<Option<&'a str>>) -> UserClient<D> {
        UserClient::new(Base::resource(self.inner.clone(), "users", id.into().unwrap_or("me")))
    }

    /// Apify Store (`/v2/store`).
    pub fn store(&self) -> StoreCollectionClient<D> {
        StoreCollectionClient::new(Base::collection(self.inner.clone(), "store"))
    }

    /// The API's tools (`browser-info`, `encode-and-sign`, `decode-and-verify`).
    pub fn tools(&self) -> ToolsClient<D> {
        ToolsClient::new(Base::new(self.inner.clone(), Ok(crate::path::ResourcePath::root())))
    }

    /// A request of your own: any method and path below `/v2`, through the same retries,
    /// authentication, compression and decoding as every method.
    pub fn raw(&self, method: ::http::Method, path: &str) -> RawCall<D> {
        RawCall::new_raw(self.inner.clone(), method, path)
    }

    /// A call of any operation of yours ([`Operation`](crate::ops::Operation), or any
    /// [`IntoPlan`](crate::ops::plan::IntoPlan)) at `target`, run like the typed methods.
    pub fn call<O>(&self, target: crate::path::ResourcePath, op: O) -> CallBuilder<D, O> {
        CallBuilder::new(self.inner.clone(), Ok((target, op)))
    }
}
