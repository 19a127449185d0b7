//! SDK errors: the client's errors, local storage errors, and misuse.

/// What can go wrong in the SDK.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An API call failed (also local calls, which go through the same client).
    #[error(transparent)]
    Client(#[from] apify_core::error::Error),
    /// The local storage failed.
    #[error(transparent)]
    Storage(#[from] apify_local::error::StorageError),
    /// The environment is not a valid configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A caller-supplied value was refused.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// What only a run on the platform (or the local platform of `apify-local`) can do,
    /// asked of an Actor running locally.
    #[error("{0} is available only when the Actor runs on the platform (APIFY_IS_AT_HOME=1 with ACTOR_RUN_ID)")]
    NotOnPlatform(String),
    /// A storage could not be opened.
    #[error("{0}")]
    NotFound(String),
    /// A value could not be (de)serialised.
    #[error("{what}: {source}")]
    Json {
        /// What was being converted.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Reading a local input file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being read.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Result of SDK operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
