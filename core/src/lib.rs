//! The sans-IO protocol core of the Apify API v2 client.
//!
//! **In scope:** building every storage request as a value ([`ops`], convertible to an
//! `http::Request<Bytes>`), decoding responses and errors ([`response`], [`error`],
//! [`models`]), deciding retries, waits, timeouts and redirects ([`retry`], [`call`]),
//! pagination ([`ops::paginate`]), incremental decoding of item and line streams
//! ([`stream`]), body codings ([`codec`]), public-URL signatures ([`signing`]),
//! statistics ([`stats`]), and the client tree that runs all of this through any driver
//! ([`client`]).
//!
//! **Out of scope:** sockets, TLS, timers, the clock, the file system, randomness and the
//! environment. Those belong to drivers, which pass time (`now`), the wall clock and random
//! seeds in; nothing here reads them. CI checks the dependency tree and clippy forbids the
//! calls (`core/clippy.toml`).
//!
//! A driver is a small trait ([`client::HttpClient`] or [`client::BlockingHttpClient`]):
//! send one attempt, return the decoded response. The loop that runs a [`call::Call`]
//! against it is the whole executor:
//!
//! ```text
//! let mut call = Call::new(request, &config, stats, now());
//! loop {
//!     match call.poll_action(now(), &mut jitter) {
//!         Action::Send(attempt) => match http.send(attempt.request, attempt.timeout) {
//!             Ok(response) => call.handle_response(now(), wall(), response),
//!             Err(e)       => call.handle_transport_error(now(), e),
//!         },
//!         Action::WaitUntil(t) => sleep_until(t),
//!         Action::Done(result) => break result,
//!     }
//! }
//! ```
#![warn(missing_docs)]

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
pub mod net;
pub mod ops;
pub mod path;
pub mod prelude;
pub mod request;
pub mod response;
pub mod retry;
pub mod signing;
pub mod stats;
pub mod stream;
pub mod time;

pub use bytes;
pub use http;
