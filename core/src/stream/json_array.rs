//! Incremental decoder for a streamed JSON array.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use serde::de::DeserializeOwned;

use super::StreamError;
use super::scan::{Scan, ValueScanner, is_value_start, is_ws};

/// UTF-8 byte order mark, tolerated at the very start of the stream.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Default per-item size limit: 64 MiB.
const DEFAULT_MAX_ITEM_BYTES: usize = 64 * 1024 * 1024;

/// Where the decoder is in the top-level document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before the top-level `[` or `{` (a BOM and whitespace may come first).
    Start,
    /// Right after `[`: an item or `]`.
    ArrayFirst,
    /// After `,`: an item.
    ArrayNext,
    /// After an item: `,` or `]`.
    AfterItem,
    /// Inside an item, which starts at `buf[0]`.
    Item,
    /// The document is complete; only whitespace may follow.
    Done,
}

/// A fatal, sticky error. Copyable so the decoder can remember it (the
/// public error type holds a non-`Clone` `serde_json::Error`).
#[derive(Clone, Copy, Debug)]
enum Fault {
    Malformed { offset: u64, expected: &'static str },
    TooLarge { limit: usize },
}

impl From<Fault> for StreamError {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Malformed { offset, expected } => Self::Malformed { offset, expected },
            Fault::TooLarge { limit } => Self::TooLarge { limit },
        }
    }
}

/// Incremental decoder for a JSON array arriving in arbitrary byte chunks,
/// such as the body of `GET /v2/datasets/{id}/items`.
///
/// Items are yielded one by one as soon as they are complete, so memory is
/// bounded by about the size of the chunk being processed plus the size of
/// the largest single item, never the whole array.
///
/// Accepted input: an optional UTF-8 byte order mark, then a JSON array of
/// values of any type (`[]` included), with any JSON whitespace between
/// tokens, followed only by whitespace. Following the Apify API rule "a
/// top-level object is treated as a one-element list", a top-level object is
/// yielded as the single item. Any other top-level value is rejected.
///
/// # Validation
///
/// The decoder runs its own incremental *structural* scanner: brackets must
/// be balanced and of matching kind, strings terminated, array elements
/// separated by `,` and object members shaped `"key": value`. Errors are
/// reported as [`StreamError::Malformed`] at the exact absolute offset,
/// independently of how the input was chunked. Scalar tokens are only
/// checked to consist of plausible bytes (so `tru` or `1.2.3` pass the
/// scanner), and string contents (escapes, control characters, UTF-8) are
/// not checked at all; [`next_raw`](Self::next_raw) therefore guarantees
/// structural well-formedness only, while [`next_item`](Self::next_item)
/// additionally parses with `serde_json` and reports such problems as
/// [`StreamError::Item`].
///
/// # Errors and poisoning
///
/// `Malformed` and `TooLarge` are fatal: `next_raw`/`next_item` return the
/// error once, then `None`; [`finish`](Self::finish) keeps returning it, and
/// further input is ignored. `Item` errors are not fatal: the offending item
/// is skipped and decoding continues with the next one.
///
/// # Example
///
/// ```
/// use apify_core::stream::JsonArrayDecoder;
///
/// let mut decoder = JsonArrayDecoder::new();
/// let mut names = Vec::new();
/// for chunk in [&b"[{\"name\":\"a\"},{\"na"[..], b"me\":\"b\"}]"] {
///     decoder.feed(chunk);
///     while let Some(item) = decoder.next_item::<serde_json::Value>() {
///         names.push(item?["name"].as_str().unwrap().to_owned());
///     }
/// }
/// decoder.finish()?;
/// assert_eq!(names, ["a", "b"]);
/// # Ok::<(), apify_core::stream::StreamError>(())
/// ```
pub struct JsonArrayDecoder {
    /// Unconsumed input. Consumed bytes are split off the front, so the
    /// buffer holds at most the current partial item plus unscanned input.
    buf: BytesMut,
    /// Absolute stream offset of `buf[0]`.
    base: u64,
    /// Bytes of the current item already scanned (only in `Phase::Item`).
    scan: usize,
    phase: Phase,
    /// The current item is a top-level object (the whole document).
    top_object: bool,
    /// How many BOM bytes have been matched at the start of the stream.
    bom: u8,
    scanner: ValueScanner,
    max_item_bytes: usize,
    items: u64,
    fault: Option<Fault>,
}

impl JsonArrayDecoder {
    /// Creates a decoder with the default per-item limit of 64 MiB.
    #[must_use]
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            base: 0,
            scan: 0,
            phase: Phase::Start,
            top_object: false,
            bom: 0,
            scanner: ValueScanner::default(),
            max_item_bytes: DEFAULT_MAX_ITEM_BYTES,
            items: 0,
            fault: None,
        }
    }

    /// Sets the maximum size of a single item in bytes; a larger item
    /// yields [`StreamError::TooLarge`].
    #[must_use]
    pub fn with_max_item_bytes(mut self, limit: usize) -> Self {
        self.max_item_bytes = limit;
        self
    }

    /// Appends a chunk of input. Input fed after a fatal error is dropped.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.fault.is_none() {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// Returns the exact bytes of the next complete item, trimmed of
    /// surrounding whitespace, or `None` if more input is needed, the array
    /// is finished, or a fatal error was already returned.
    ///
    /// The returned item is structurally well-formed (see the type-level
    /// docs for what is and is not validated). It shares the allocation of
    /// the input buffer instead of being copied, so an item kept for a long
    /// time keeps its input chunk alive; copy it if that matters.
    pub fn next_raw(&mut self) -> Option<Result<Bytes, StreamError>> {
        if self.fault.is_some() {
            return None;
        }
        match self.step() {
            Ok(item) => item.map(Ok),
            Err(fault) => {
                self.fault = Some(fault);
                Some(Err(fault.into()))
            }
        }
    }

    /// Like [`next_raw`](Self::next_raw), but deserializes the item with
    /// `serde_json`; a failure is reported as [`StreamError::Item`] and does
    /// not stop the decoder.
    pub fn next_item<T: DeserializeOwned>(&mut self) -> Option<Result<T, StreamError>> {
        let raw = match self.next_raw()? {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        let index = self.items - 1;
        Some(serde_json::from_slice(&raw).map_err(|source| StreamError::Item { index, source }))
    }

    /// Signals the end of input and checks that the document was complete.
    ///
    /// Items not yet taken with `next_*` are validated and discarded, so
    /// drain them before calling this.
    ///
    /// # Errors
    ///
    /// Returns `Ok(())` only if a complete document was seen and nothing but
    /// whitespace follows it. Otherwise returns [`StreamError::Truncated`]
    /// if the input ended in the middle of the document (including empty
    /// input), [`StreamError::Malformed`] for trailing garbage, or the fatal
    /// error that already stopped decoding.
    pub fn finish(&mut self) -> Result<(), StreamError> {
        while let Some(result) = self.next_raw() {
            result?;
        }
        if let Some(fault) = self.fault {
            return Err(fault.into());
        }
        if self.phase == Phase::Done {
            Ok(())
        } else {
            Err(StreamError::Truncated { offset: self.base + self.buf.len() as u64 })
        }
    }

    /// Number of complete items scanned so far (returned by `next_*` or
    /// discarded by `finish`), including items that failed to deserialize.
    #[must_use]
    pub fn items_seen(&self) -> u64 {
        self.items
    }

    /// Number of bytes currently buffered (partial item plus unscanned input).
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Capacity of the internal buffer in bytes, to observe memory use.
    #[must_use]
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Advances the state machine over buffered input until an item is
    /// complete, more input is needed, or a fatal error occurs.
    fn step(&mut self) -> Result<Option<Bytes>, Fault> {
        loop {
            if self.phase == Phase::Item {
                return self.scan_item();
            }
            // Between items: skip whitespace and separators. These bytes are
            // discarded right away, so `buf` never holds consumed input.
            let mut i = 0;
            let start = loop {
                let Some(&b) = self.buf.get(i) else {
                    self.base += self.buf.len() as u64;
                    self.buf.clear();
                    return Ok(None);
                };
                let offset = self.base + i as u64;
                let malformed = |expected| Fault::Malformed { offset, expected };
                match self.phase {
                    Phase::Start => {
                        if offset < 3 && offset == u64::from(self.bom) && b == BOM[usize::from(self.bom)] {
                            self.bom += 1;
                        } else if self.bom == 1 || self.bom == 2 {
                            return Err(malformed("expected UTF-8 byte order mark"));
                        } else if b == b'[' {
                            self.phase = Phase::ArrayFirst;
                        } else if b == b'{' {
                            self.top_object = true;
                            break i;
                        } else if !is_ws(b) {
                            return Err(malformed("expected '[' or '{'"));
                        }
                    }
                    _ if is_ws(b) => {}
                    Phase::ArrayFirst => {
                        if b == b']' {
                            self.phase = Phase::Done;
                        } else if is_value_start(b) {
                            break i;
                        } else {
                            return Err(malformed("expected JSON value or ']'"));
                        }
                    }
                    Phase::ArrayNext => {
                        if is_value_start(b) {
                            break i;
                        }
                        return Err(malformed("expected JSON value"));
                    }
                    Phase::AfterItem => match b {
                        b',' => self.phase = Phase::ArrayNext,
                        b']' => self.phase = Phase::Done,
                        _ => return Err(malformed("expected ',' or ']'")),
                    },
                    // `Item` is handled above and cannot occur here; it is
                    // folded into `Done` rather than panicking.
                    Phase::Done | Phase::Item => {
                        return Err(malformed("expected end of input"));
                    }
                }
                i += 1;
            };
            self.buf.advance(start);
            self.base += start as u64;
            self.scan = 0;
            self.scanner.reset();
            self.phase = Phase::Item;
        }
    }

    /// Continues scanning the item at `buf[0]`.
    fn scan_item(&mut self) -> Result<Option<Bytes>, Fault> {
        // Never look further than one byte past the limit: the outcome (an
        // item, `TooLarge` or `Malformed`) then only depends on the input,
        // not on how it was chunked, and the buffer cannot grow unbounded.
        let window = self.buf.len().min(self.max_item_bytes.saturating_add(1));
        match self.scanner.scan(&self.buf[..window], self.scan) {
            Scan::Complete(len) => {
                if len > self.max_item_bytes {
                    return Err(Fault::TooLarge { limit: self.max_item_bytes });
                }
                let item = self.buf.split_to(len).freeze();
                self.base += len as u64;
                self.scan = 0;
                self.items += 1;
                self.phase = if self.top_object { Phase::Done } else { Phase::AfterItem };
                Ok(Some(item))
            }
            Scan::More => {
                self.scan = window;
                if window > self.max_item_bytes {
                    return Err(Fault::TooLarge { limit: self.max_item_bytes });
                }
                Ok(None)
            }
            Scan::Error { at, expected } => Err(Fault::Malformed { offset: self.base + at as u64, expected }),
        }
    }
}

impl Default for JsonArrayDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for JsonArrayDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not derived: the buffer may be megabytes of payload.
        f.debug_struct("JsonArrayDecoder")
            .field("offset", &self.base)
            .field("buffered", &self.buf.len())
            .field("phase", &self.phase)
            .field("items", &self.items)
            .field("max_item_bytes", &self.max_item_bytes)
            .field("fault", &self.fault)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Feeds `input` in one chunk and collects items until the first error.
    fn decode(input: &[u8]) -> (Vec<Bytes>, Result<(), StreamError>) {
        decode_with(JsonArrayDecoder::new(), input)
    }

    fn decode_with(mut d: JsonArrayDecoder, input: &[u8]) -> (Vec<Bytes>, Result<(), StreamError>) {
        d.feed(input);
        let mut items = Vec::new();
        while let Some(r) = d.next_raw() {
            match r {
                Ok(b) => items.push(b),
                Err(e) => return (items, Err(e)),
            }
        }
        (items, d.finish())
    }

    fn malformed_at(input: &[u8]) -> (u64, &'static str) {
        match decode(input).1 {
            Err(StreamError::Malformed { offset, expected }) => (offset, expected),
            other => panic!("expected Malformed for {:?}, got {other:?}", String::from_utf8_lossy(input)),
        }
    }

    #[test]
    fn raw_items_are_exact_and_trimmed() {
        let (items, end) = decode(b" [ 1 ,\n\"a,]\" , {\"k\" : [ ] } ,null]  \n");
        end.unwrap();
        let items: Vec<&[u8]> = items.iter().map(|b| &b[..]).collect();
        assert_eq!(items, [&b"1"[..], b"\"a,]\"", b"{\"k\" : [ ] }", b"null"]);
    }

    #[test]
    fn empty_array_and_top_level_object() {
        let (items, end) = decode(b"[]");
        assert!(items.is_empty());
        end.unwrap();
        let (items, end) = decode(b"\xEF\xBB\xBF {\"a\":[1]} ");
        end.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(&items[0][..], b"{\"a\":[1]}");
    }

    #[test]
    fn malformed_offsets() {
        assert_eq!(malformed_at(b"]"), (0, "expected '[' or '{'"));
        assert_eq!(malformed_at(b"  1"), (2, "expected '[' or '{'"));
        assert_eq!(malformed_at(b"[1 2]"), (3, "expected ',' or ']'"));
        assert_eq!(malformed_at(b"[1,]"), (3, "expected JSON value"));
        assert_eq!(malformed_at(b"[,1]"), (1, "expected JSON value or ']'"));
        assert_eq!(malformed_at(b"[1]x"), (3, "expected end of input"));
        assert_eq!(malformed_at(b"{} {}"), (3, "expected end of input"));
        assert_eq!(malformed_at(b"[[1}]"), (3, "expected ',' or ']'"));
        assert_eq!(malformed_at(b"\xEF\xBB["), (2, "expected UTF-8 byte order mark"));
        assert_eq!(malformed_at(b" \xEF\xBB\xBF[]"), (1, "expected '[' or '{'"));
    }

    #[test]
    fn truncated_reports_end_offset() {
        for input in [&b""[..], b"  ", b"\xEF\xBB\xBF", b"[", b"[1", b"[1,", b"[{\"a\":\"x", b"{\"a\":1"] {
            match decode(input).1 {
                Err(StreamError::Truncated { offset }) => assert_eq!(offset, input.len() as u64),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
            }
        }
    }

    #[test]
    fn poisoned_after_fatal_error() {
        let mut d = JsonArrayDecoder::new();
        d.feed(b"[1,,2]");
        assert_eq!(&d.next_raw().unwrap().unwrap()[..], b"1");
        assert!(matches!(d.next_raw(), Some(Err(StreamError::Malformed { offset: 3, .. }))));
        assert!(d.next_raw().is_none());
        d.feed(b"[3]");
        assert!(d.next_raw().is_none());
        assert!(matches!(d.finish(), Err(StreamError::Malformed { offset: 3, .. })));
        assert!(matches!(d.finish(), Err(StreamError::Malformed { offset: 3, .. })));
    }

    #[test]
    fn item_errors_are_not_fatal() {
        let mut d = JsonArrayDecoder::new();
        d.feed(b"[1, tru, \"x\", 2]");
        assert_eq!(d.next_item::<u32>().unwrap().unwrap(), 1);
        assert!(matches!(d.next_item::<u32>(), Some(Err(StreamError::Item { index: 1, .. }))));
        assert!(matches!(d.next_item::<u32>(), Some(Err(StreamError::Item { index: 2, .. }))));
        assert_eq!(d.next_item::<u32>().unwrap().unwrap(), 2);
        assert!(d.next_item::<u32>().is_none());
        d.finish().unwrap();
        assert_eq!(d.items_seen(), 4);
    }

    #[test]
    fn too_large_limit_is_exact() {
        // Items of exactly the limit pass; one byte more fails, whether the
        // item is complete in the buffer or still arriving.
        let (items, end) = decode_with(JsonArrayDecoder::new().with_max_item_bytes(5), b"[12345,\"abc\"]");
        end.unwrap();
        assert_eq!(items.len(), 2);
        let (items, end) = decode_with(JsonArrayDecoder::new().with_max_item_bytes(5), b"[1,123456]");
        assert_eq!(items.len(), 1);
        assert!(matches!(end, Err(StreamError::TooLarge { limit: 5 })));
        let mut d = JsonArrayDecoder::new().with_max_item_bytes(5);
        d.feed(b"[\"abcdef");
        assert!(matches!(d.next_raw(), Some(Err(StreamError::TooLarge { limit: 5 }))));
        // The buffer is not kept growing after the failure.
        d.feed(&[b'x'; 1000]);
        assert!(d.buffered_len() < 100);
    }

    #[test]
    fn does_not_rescan_a_spanning_item() {
        let mut d = JsonArrayDecoder::new();
        d.feed(b"[{\"a\":\"");
        assert!(d.next_raw().is_none());
        for _ in 0..100 {
            d.feed(b"xxxxxxxxxx");
            assert!(d.next_raw().is_none());
        }
        assert_eq!(d.scan, d.buffered_len());
        d.feed(b"\"}]");
        let item: Value = d.next_item().unwrap().unwrap();
        assert_eq!(item, json!({ "a": "x".repeat(1000) }));
        d.finish().unwrap();
    }

    #[test]
    fn consumed_input_is_released() {
        let mut d = JsonArrayDecoder::new();
        d.feed(b"[");
        for i in 0..1000 {
            d.feed(format!("{{\"i\":{i}}},  ").as_bytes());
            assert_eq!(d.next_item::<Value>().unwrap().unwrap(), json!({ "i": i }));
            // Only the trailing separator bytes may remain.
            assert!(d.buffered_len() <= 3, "{}", d.buffered_len());
        }
        d.feed(b"0]");
        assert_eq!(d.next_item::<u8>().unwrap().unwrap(), 0);
        d.finish().unwrap();
        assert_eq!(d.items_seen(), 1001);
    }
}
