//! Sans-IO protocol core for the Apify API v2.
pub mod call;
pub mod client;
pub mod codec;
pub mod config;
pub mod error;
#[cfg(any(fuzzing, feature = "__fuzz"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod json;
pub mod models;
pub mod ops;
pub mod path;
pub mod request;
pub mod response;
pub mod retry;
pub mod signing;
pub mod stats;
pub mod stream;
pub mod time;

pub use bytes;
pub use http;
