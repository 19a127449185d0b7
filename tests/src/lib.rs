//! apify-tests: shared test support for the Apify client crates.

pub mod conformance;
pub mod emulator;
pub mod python;
pub mod raw;
pub mod server;

pub use emulator::Emulator;
pub use server::{RecordedRequest, Reply, ScriptedServer, run_json};
