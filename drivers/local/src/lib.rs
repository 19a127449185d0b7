//! Local Apify storages in the exact on-disk format of the Apify SDK for Python / Crawlee.
//!
//! - [`storage`]: the engine (datasets, key-value stores, request queues on disk).
//! - [`api`]: the storage part of the Apify API v2 answered from it.
//! - [`LocalClient`]: a driver that runs the `ApifyClient` against it in process.
//! - `server` (feature `server`): the same API over HTTP, the `apify-local` emulator, and
//!   `platform`: local Actors run as programs behind the run side of the API.
pub mod api;
mod driver;
pub mod error;
pub mod format;
pub mod fsio;
#[cfg(feature = "server")]
pub mod platform;
#[cfg(feature = "server")]
pub mod server;
pub mod storage;
pub mod unique_key;

pub use driver::LocalClient;
