//! Incremental decoder for JSON Lines.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::StreamError;
use super::lines::{LineDecoder, RawLine};
use super::scan::{Scan, ValueScanner, is_ws};

/// UTF-8 byte order mark, tolerated at the very start of the stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Default per-line size limit: 64 MiB, like [`super::JsonArrayDecoder`].
const DEFAULT_MAX_ITEM_BYTES: usize = 64 * 1024 * 1024;

/// Incremental decoder for JSON Lines: one JSON value per line, built on
/// [`LineDecoder`].
///
/// Lines may end with `\n` or `\r\n`; blank (whitespace-only) lines are
/// skipped, and a UTF-8 byte order mark at the start of the stream is
/// ignored.
///
/// # Contract
///
/// Feed chunks with [`feed`](Self::feed) and pull values with
/// [`next_raw`](Self::next_raw) or [`next_item`](Self::next_item) until they
/// return `None`. At the end of the input call [`finish`](Self::finish): it
/// makes a last line without a trailing newline available, so keep pulling
/// with `next_*` until `None` after calling it. Do not feed after `finish`.
///
/// # Validation and errors
///
/// Each value is checked with the same structural scanner as
/// [`JsonArrayDecoder`](super::JsonArrayDecoder): a line that is not exactly
/// one structurally well-formed value yields [`StreamError::Malformed`] with
/// the absolute offset of the offending byte (or of the end of the line, if
/// the value is cut short). Scalars and string contents are validated only by
/// `next_item`, which reports them as [`StreamError::Item`]. A line over the
/// size limit yields [`StreamError::TooLarge`]. No error is fatal: lines are
/// independent, so decoding continues with the next line. Every non-blank
/// line (including erroneous ones) counts as one item, so `Item { index }`
/// is the 0-based position among non-blank lines.
///
/// # Example
///
/// ```
/// use apify_core::stream::JsonLinesDecoder;
///
/// let mut decoder = JsonLinesDecoder::new();
/// let mut ids = Vec::new();
/// for chunk in [&b"{\"id\":1}\n\n{\"i"[..], b"d\":2}\r\n{\"id\":3}"] {
///     decoder.feed(chunk);
///     while let Some(item) = decoder.next_item::<serde_json::Value>() {
///         ids.push(item?["id"].as_u64().unwrap());
///     }
/// }
/// decoder.finish();
/// while let Some(item) = decoder.next_item::<serde_json::Value>() {
///     ids.push(item?["id"].as_u64().unwrap());
/// }
/// assert_eq!(ids, [1, 2, 3]);
/// # Ok::<(), apify_core::stream::StreamError>(())
/// ```
pub struct JsonLinesDecoder {
    lines: LineDecoder,
    scanner: ValueScanner,
    /// The last, unterminated line, queued by `finish` behind any complete
    /// lines still buffered.
    trailing: Option<Result<RawLine, StreamError>>,
    items: u64,
}

impl JsonLinesDecoder {
    /// Creates a decoder with the default per-line limit of 64 MiB.
    #[must_use]
    pub fn new() -> Self {
        Self {
            lines: LineDecoder::new().with_max_line_bytes(DEFAULT_MAX_ITEM_BYTES),
            scanner: ValueScanner::default(),
            trailing: None,
            items: 0,
        }
    }

    /// Sets the maximum length of a line in bytes (not counting its
    /// terminator); a longer line yields [`StreamError::TooLarge`].
    #[must_use]
    pub fn with_max_item_bytes(mut self, limit: usize) -> Self {
        self.lines = self.lines.with_max_line_bytes(limit);
        self
    }

    /// Appends a chunk of input.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.lines.feed(chunk);
    }

    /// Returns the bytes of the next value, trimmed of surrounding
    /// whitespace, or `None` if more input is needed (or, after
    /// [`finish`](Self::finish), if the input is exhausted).
    pub fn next_raw(&mut self) -> Option<Result<Bytes, StreamError>> {
        loop {
            let line = match self.lines.next_raw_line() {
                Some(line) => line,
                None => self.trailing.take()?,
            };
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    self.items += 1;
                    return Some(Err(e));
                }
            };
            let bytes = &line.bytes;
            let mut start = 0;
            if line.offset == 0 && bytes.starts_with(BOM) {
                start = BOM.len();
            }
            while start < bytes.len() && is_ws(bytes[start]) {
                start += 1;
            }
            if start == bytes.len() {
                continue;
            }
            let mut end = bytes.len();
            while is_ws(bytes[end - 1]) {
                end -= 1;
            }
            self.items += 1;
            let value = &bytes[start..end];
            let malformed =
                |at: usize, expected| StreamError::Malformed { offset: line.offset + (start + at) as u64, expected };
            self.scanner.reset();
            let error = match self.scanner.scan(value, 0) {
                Scan::Complete(n) => {
                    value[n..].iter().position(|&b| !is_ws(b)).map(|p| malformed(n + p, "expected end of line"))
                }
                Scan::More if self.scanner.complete_at_end() => None,
                // Cut short: report the end of the line.
                Scan::More => Some(malformed(bytes.len() - start, self.scanner.expected())),
                Scan::Error { at, expected } => Some(malformed(at, expected)),
            };
            return Some(match error {
                Some(e) => Err(e),
                None => Ok(line.bytes.slice(start..end)),
            });
        }
    }

    /// Like [`next_raw`](Self::next_raw), but deserializes the value with
    /// `serde_json`; a failure is reported as [`StreamError::Item`].
    pub fn next_item<T: DeserializeOwned>(&mut self) -> Option<Result<T, StreamError>> {
        let raw = match self.next_raw()? {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        let index = self.items - 1;
        Some(serde_json::from_slice(&raw).map_err(|source| StreamError::Item { index, source }))
    }

    /// Signals the end of input: a last line without a trailing newline
    /// becomes available to `next_raw`/`next_item` (after any complete lines
    /// still buffered). Nothing can be truncated in JSON Lines, so this
    /// cannot fail; problems with the last line are reported by `next_*`.
    pub fn finish(&mut self) {
        if let Some(line) = self.lines.finish_raw() {
            self.trailing = Some(line);
        }
    }

    /// Number of non-blank lines seen so far (including erroneous ones).
    #[must_use]
    pub fn items_seen(&self) -> u64 {
        self.items
    }

    /// Number of bytes currently buffered.
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.lines.buffered_len() + self.trailing.as_ref().map_or(0, |t| t.as_ref().map_or(0, |l| l.bytes.len()))
    }

    /// Capacity of the internal line buffer in bytes, to observe memory use.
    #[must_use]
    pub fn buffer_capacity(&self) -> usize {
        self.lines.buffer_capacity()
    }
}

impl Default for JsonLinesDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for JsonLinesDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLinesDecoder")
            .field("lines", &self.lines)
            .field("items", &self.items)
            .field("finished_line_pending", &self.trailing.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn decode(input: &[u8]) -> Vec<Result<Value, String>> {
        let mut d = JsonLinesDecoder::new();
        d.feed(input);
        let mut out = Vec::new();
        let mut drain = |d: &mut JsonLinesDecoder| {
            while let Some(r) = d.next_item::<Value>() {
                out.push(r.map_err(|e| match e {
                    StreamError::Malformed { offset, expected } => format!("{offset}: {expected}"),
                    StreamError::Item { index, .. } => format!("item {index}"),
                    other => other.to_string(),
                }));
            }
        };
        drain(&mut d);
        d.finish();
        drain(&mut d);
        out
    }

    #[test]
    fn values_blank_lines_and_trailing_line() {
        let out = decode(b"\xEF\xBB\xBF{\"a\":1}\n\n  \r\n [1, 2] \r\n\"s\"\n3");
        assert_eq!(out, [Ok(json!({"a": 1})), Ok(json!([1, 2])), Ok(json!("s")), Ok(json!(3))]);
    }

    #[test]
    fn errors_do_not_stop_decoding() {
        let out = decode(b"{\"a\":1} {}\n[1,\ntru\n{\"a\" 1}\n\"x\"");
        assert_eq!(
            out,
            [
                Err("8: expected end of line".to_owned()),
                Err("14: expected JSON value".to_owned()),
                Err("item 2".to_owned()),
                Err("24: expected ':'".to_owned()),
                Ok(json!("x")),
            ]
        );
    }

    #[test]
    fn cut_value_reports_end_of_line() {
        let out = decode(b"{\"a\":\"x  \r\n");
        assert_eq!(out, [Err("9: expected '\"'".to_owned())]);
    }

    #[test]
    fn raw_bytes_are_trimmed() {
        let mut d = JsonLinesDecoder::new();
        d.feed(b"  {\"k\": \"v\"}\t\r\n");
        assert_eq!(&d.next_raw().unwrap().unwrap()[..], b"{\"k\": \"v\"}");
        assert!(d.next_raw().is_none());
        d.finish();
        assert!(d.next_raw().is_none());
        assert_eq!(d.items_seen(), 1);
    }

    #[test]
    fn finish_queues_trailing_line_behind_buffered_lines() {
        let mut d = JsonLinesDecoder::new();
        d.feed(b"1\n2\n3");
        d.finish();
        let got: Vec<u8> = std::iter::from_fn(|| d.next_item::<u8>()).map(Result::unwrap).collect();
        assert_eq!(got, [1, 2, 3]);
    }

    #[test]
    fn oversized_line_counts_as_item() {
        let mut d = JsonLinesDecoder::new().with_max_item_bytes(4);
        d.feed(b"[1]\n[1,2,3]\n\"ok\"\n");
        assert_eq!(d.next_item::<Vec<u8>>().unwrap().unwrap(), [1]);
        assert!(matches!(d.next_raw(), Some(Err(StreamError::TooLarge { limit: 4 }))));
        assert!(matches!(d.next_item::<u8>(), Some(Err(StreamError::Item { index: 2, .. }))));
    }
}
