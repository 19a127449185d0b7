//! The names a driver crate re-exports for its users (`pub use apify_core::prelude::*;`),
//! so `apify_hyper::Error` and `apify_isahc::Error` are the same type, listed once.

pub use crate::client::{
    ActorClient, ActorCollectionClient, BodyReader, BodyStream, BuildClient, CallBuilder, DatasetClient,
    DatasetCollectionClient, KeyValueStoreClient, KeyValueStoreCollectionClient, LogClient, Paginator,
    RequestQueueClient, RequestQueueCollectionClient, RunClient, RunCollectionClient, ScheduleClient, TaskClient,
    UserClient, WebhookClient,
};
pub use crate::config::{Config, RequestCompression, Timeout, TimeoutTier, Timeouts};
pub use crate::error::{ApiError, ApiErrorKind, Error, ErrorType, GiveUpReason};
pub use crate::models;
pub use crate::retry::{JitterMode, NonIdempotentRetry, RetryBudget, RetryPolicy};
