//! The Apify SDK for Rust: Actor-style access to datasets, key-value stores and request
//! queues, with the names of the Apify SDK for Python.
//!
//! Locally (no `APIFY_IS_AT_HOME`), storages live in `./storage` (or
//! `APIFY_LOCAL_STORAGE_DIR`) in the exact format of the Python SDK and Crawlee, served by
//! the in-process local driver: no token, no network. On the platform, or with
//! [`OpenOptions::force_cloud`], the same calls go to the Apify API through the hyper
//! driver. Both paths use the same API client, so they behave alike.
//!
//! ```no_run
//! use apify::{Actor, OpenOptions};
//! # async fn run() -> Result<(), apify::Error> {
//! let actor = Actor::init().await?;
//! let queue = actor.open_request_queue(OpenOptions::new()).await?;
//! queue.add_request("https://example.com", false).await?;
//! while let Some(request) = queue.fetch_next_request().await? {
//!     actor.push_data(&serde_json::json!({"url": request.url})).await?;
//!     queue.mark_request_as_handled(&request).await?;
//! }
//! actor.exit().await?;
//! # Ok(()) }
//! ```

mod actor;
mod backend;
mod charging;
mod config;
mod dataset;
mod env;
mod error;
mod export;
mod key_value_store;
mod main_run;
mod platform;
mod proxy;
mod request;
mod request_queue;
mod state;

pub use actor::{Actor, OpenOptions};
pub use apify_core::models::{Record, RecordValue, Request};
pub use charging::{ActorPricingInfo, ChargeResult, DEFAULT_DATASET_ITEM_EVENT};
pub use config::{Configuration, parse_bool};
pub use dataset::{Dataset, ExportFormat, GetData};
pub use env::ActorEnv;
pub use error::{Error, Result};
pub use key_value_store::KeyValueStore;
pub use platform::PlatformClient;
pub use proxy::{ProxyConfiguration, ProxyInfo, ProxyOptions};
pub use request::{IntoRequest, RequestSpec};
pub use request_queue::{ProcessedRequest, RequestQueue};
pub use state::{STATE_KEY, State};
