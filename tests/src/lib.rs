//! apify-tests: shared test support for the Apify client crates.

pub mod server;

pub use server::{RecordedRequest, Reply, ScriptedServer};
