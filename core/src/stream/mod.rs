//! Incremental (push-style) decoders for streamed response bodies.
//!
//! All decoders in this module are *sans-IO*: the caller feeds byte chunks as
//! they arrive from the network with `feed`, pulls decoded items with
//! `next_*` until it returns `None` ("need more input"), and signals the end
//! of the body with `finish`. Chunk boundaries may fall anywhere — in the
//! middle of a JSON string, an escape sequence, a multi-byte UTF-8 character
//! or a `\r\n` pair — and the decoded output is identical to decoding the
//! whole body at once.
//!
//! Memory stays bounded by roughly the size of the chunk being processed plus
//! the size of the largest single item, so multi-gigabyte bodies can be
//! streamed. Each decoder has a configurable per-item size limit that turns
//! pathological input into [`StreamError::TooLarge`] instead of unbounded
//! buffering.
//!
//! - [`JsonArrayDecoder`]: a JSON array (e.g. the body of
//!   `GET /v2/datasets/{id}/items`), yielding one element at a time.
//! - [`LineDecoder`]: newline-delimited text (logs), yielding one line at a
//!   time.
//! - [`JsonLinesDecoder`]: JSON Lines (one JSON value per line), built on
//!   [`LineDecoder`].

pub mod json_array;
pub mod jsonl;
pub mod lines;
pub mod log;
mod scan;

pub use json_array::JsonArrayDecoder;
pub use jsonl::JsonLinesDecoder;
pub use lines::LineDecoder;
pub use log::{LogLevel, LogMessage, LogSplitter};

/// Error produced by the stream decoders.
///
/// Decoders never panic on any input; every problem is reported through this
/// type. Offsets are absolute byte offsets from the start of the stream
/// (counting a leading byte order mark, if any), so they do not depend on how
/// the input was split into chunks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// Malformed input at byte `offset` (absolute offset from the start of
    /// the stream).
    #[error("malformed input at byte {offset}: {expected}")]
    Malformed {
        /// Absolute offset of the offending byte (or of the end of the line
        /// for a JSON Lines value that ends prematurely).
        offset: u64,
        /// Short description of what was expected, e.g. `"expected ',' or ']'"`.
        expected: &'static str,
    },
    /// The stream ended in the middle of the document (`finish()` was called
    /// before the document was complete).
    #[error("stream ended in the middle of the document at byte {offset}")]
    Truncated {
        /// Absolute offset of the end of the input (total bytes fed).
        offset: u64,
    },
    /// One item or line exceeded the configured maximum size in bytes.
    #[error("item exceeds the maximum size of {limit} bytes")]
    TooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// A line was not valid UTF-8.
    #[error("line {line} is not valid UTF-8")]
    InvalidUtf8 {
        /// 1-based line number.
        line: u64,
    },
    /// An item was structurally valid JSON but could not be deserialized
    /// into the requested type (or contained an invalid scalar, such as
    /// `tru`, that the structural scanner does not check).
    #[error("item {index} could not be deserialized")]
    Item {
        /// 0-based index of the item in the stream.
        index: u64,
        /// The underlying `serde_json` error.
        #[source]
        source: serde_json::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoders are driven from async tasks, possibly moved across threads.
    #[test]
    fn types_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<JsonArrayDecoder>();
        check::<LineDecoder>();
        check::<JsonLinesDecoder>();
        check::<StreamError>();
    }

    #[test]
    fn errors_display_and_keep_source() {
        use std::error::Error as _;
        let e = StreamError::Malformed { offset: 7, expected: "expected ',' or ']'" };
        assert_eq!(e.to_string(), "malformed input at byte 7: expected ',' or ']'");
        let source = serde_json::from_str::<u8>("x").unwrap_err();
        let e = StreamError::Item { index: 3, source };
        assert_eq!(e.to_string(), "item 3 could not be deserialized");
        assert!(e.source().is_some());
    }
}
