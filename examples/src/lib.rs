//! Examples of the Apify API client for Rust. The binaries in `src/bin` are runnable; this
//! library holds what they (and the tests) share.

pub mod ureq_driver;
pub mod usage;
