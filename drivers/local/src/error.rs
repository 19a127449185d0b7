//! Typed errors of the local storages; the API layer maps each to the platform's status
//! and error type.

use std::io;
use std::path::PathBuf;

/// What went wrong with a local storage operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The storage does not exist.
    #[error("{kind} with {what} was not found")]
    NotFound {
        /// `Dataset`, `Key-value store` or `Request queue`.
        kind: &'static str,
        /// How it was looked for, e.g. `ID "abc"`.
        what: String,
    },
    /// A record or request does not exist.
    #[error("{0}")]
    ItemNotFound(String),
    /// A name, alias, key or ID is not acceptable.
    #[error("{0}")]
    InvalidName(String),
    /// A caller-supplied value is not acceptable (e.g. an item that is not an object).
    #[error("{0}")]
    InvalidArgument(String),
    /// A request-queue lock is held by someone else.
    #[error("{0}")]
    Locked(String),
    /// Two unique keys share a request file name (60-bit hash collision).
    #[error("request file {file} already holds unique key {existing:?}, not {new:?}")]
    Collision {
        /// The file name.
        file: String,
        /// The key in the file.
        existing: String,
        /// The key being added.
        new: String,
    },
    /// More than one input file (`INPUT`, `INPUT.json`, ...).
    #[error("only one input file is allowed; found: {0:?}")]
    InputConflict(Vec<String>),
    /// A file exists but cannot be read as what it should be.
    #[error("{path} is corrupt: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The storage is open in another process.
    #[error("{0}")]
    InUse(String),
    /// An I/O failure, with the file involved.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl StorageError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

/// Result of storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
