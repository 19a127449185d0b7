//! Incremental line splitter.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};
use memchr::{memchr, memchr_iter, memrchr};

use super::StreamError;

/// Default per-line size limit: 16 MiB.
const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// A line with its position, for decoders built on top of [`LineDecoder`].
#[derive(Debug)]
pub(super) struct RawLine {
    /// Absolute stream offset of the first byte of the line.
    pub(super) offset: u64,
    /// 1-based line number.
    pub(super) number: u64,
    /// Line content without its terminator.
    pub(super) bytes: Bytes,
}

/// Incremental decoder that splits a byte stream into lines, e.g. for logs.
///
/// Lines are terminated by `\n`; a `\r\n` terminator is removed entirely (a
/// lone `\r` is kept as content). Lines are decoded as UTF-8 only once they
/// are complete, so a multi-byte character (or a `\r\n` pair) split across
/// chunks is handled correctly.
///
/// # Contract
///
/// Feed chunks with [`feed`](Self::feed) and pull lines with
/// [`next_line`](Self::next_line) until it returns `None`. At the end of the
/// input call [`finish`](Self::finish), which returns the trailing line if
/// the input did not end with a newline. Do not feed after `finish`.
///
/// Errors never stop the decoder: a line that is not valid UTF-8 yields
/// [`StreamError::InvalidUtf8`] and decoding continues with the next line; a
/// line longer than the limit yields [`StreamError::TooLarge`] once, its
/// remaining bytes are discarded (without buffering them) up to the next
/// newline, and decoding continues after it.
///
/// # Example
///
/// ```
/// use apify_core::stream::LineDecoder;
///
/// let mut decoder = LineDecoder::new();
/// let mut lines = Vec::new();
/// // "Ä" is split across chunks, as is the "\r\n" terminator.
/// for chunk in [&b"first\r"[..], b"\nsecond \xC3", b"\x84\nlast"] {
///     decoder.feed(chunk);
///     while let Some(line) = decoder.next_line() {
///         lines.push(line?);
///     }
/// }
/// lines.extend(decoder.finish()?);
/// assert_eq!(lines, ["first", "second Ä", "last"]);
/// # Ok::<(), apify_core::stream::StreamError>(())
/// ```
pub struct LineDecoder {
    /// Unconsumed input; `buf[0]` is always the start of the current line.
    buf: BytesMut,
    /// Bytes of `buf` already searched for `\n` (no rescans when a line
    /// spans chunks).
    scan: usize,
    /// Absolute stream offset of `buf[0]`.
    base: u64,
    max_line_bytes: usize,
    /// Lines whose terminating `\n` has been consumed (for line numbers).
    terminated: u64,
    /// Lines yielded, including those reported as errors.
    yielded: u64,
    /// Skipping the rest of an oversized line up to its `\n`.
    discarding: bool,
}

impl LineDecoder {
    /// Creates a decoder with the default per-line limit of 16 MiB.
    #[must_use]
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            scan: 0,
            base: 0,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            terminated: 0,
            yielded: 0,
            discarding: false,
        }
    }

    /// Sets the maximum length of a line in bytes, not counting its
    /// terminator; a longer line yields [`StreamError::TooLarge`].
    #[must_use]
    pub fn with_max_line_bytes(mut self, limit: usize) -> Self {
        self.max_line_bytes = limit;
        self
    }

    /// Appends a chunk of input.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Returns the next complete line without its terminator, or `None` if
    /// more input is needed.
    pub fn next_line(&mut self) -> Option<Result<String, StreamError>> {
        Some(self.next_raw_line()?.and_then(|line| into_string(&line)))
    }

    /// Like [`next_line`](Self::next_line), but invalid UTF-8 is replaced by
    /// U+FFFD instead of failing; lines over the size limit are skipped.
    pub fn next_line_lossy(&mut self) -> Option<String> {
        loop {
            if let Ok(line) = self.next_raw_line()? {
                return Some(String::from_utf8_lossy(&line.bytes).into_owned());
            }
        }
    }

    /// Like [`next_line`](Self::next_line), but returns the raw bytes
    /// without UTF-8 validation (no copy).
    pub fn next_line_bytes(&mut self) -> Option<Result<Bytes, StreamError>> {
        Some(self.next_raw_line()?.map(|line| line.bytes))
    }

    /// Signals the end of input and returns the trailing line that was not
    /// terminated by a newline, if it is non-empty.
    ///
    /// Call it after [`next_line`](Self::next_line) returned `None`; complete
    /// lines still buffered are not lost but stay available to `next_line`.
    ///
    /// # Errors
    ///
    /// [`StreamError::InvalidUtf8`] or [`StreamError::TooLarge`] for the
    /// trailing line, as for [`next_line`](Self::next_line).
    pub fn finish(&mut self) -> Result<Option<String>, StreamError> {
        self.finish_raw().map(|r| r.and_then(|line| into_string(&line))).transpose()
    }

    /// Like [`finish`](Self::finish), with lossy UTF-8 decoding; an
    /// oversized trailing line is dropped.
    pub fn finish_lossy(&mut self) -> Option<String> {
        match self.finish_raw()? {
            Ok(line) => Some(String::from_utf8_lossy(&line.bytes).into_owned()),
            Err(_) => None,
        }
    }

    /// Like [`finish`](Self::finish), but returns the raw bytes without
    /// UTF-8 validation.
    ///
    /// # Errors
    ///
    /// [`StreamError::TooLarge`] if the trailing line exceeds the limit.
    pub fn finish_bytes(&mut self) -> Result<Option<Bytes>, StreamError> {
        self.finish_raw().map(|r| r.map(|line| line.bytes)).transpose()
    }

    /// Number of lines yielded so far, including lines reported as errors.
    #[must_use]
    pub fn lines_seen(&self) -> u64 {
        self.yielded
    }

    /// Number of bytes currently buffered.
    #[must_use]
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Capacity of the internal buffer in bytes, to observe memory use.
    #[must_use]
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Next complete line with its position.
    pub(super) fn next_raw_line(&mut self) -> Option<Result<RawLine, StreamError>> {
        loop {
            let Some(k) = memchr(b'\n', &self.buf[self.scan..]) else {
                let len = self.buf.len();
                if self.discarding {
                    self.drop_front(len);
                    return None;
                }
                self.scan = len;
                // Exactly one byte over the limit is fine if it is the `\r`
                // of a `\r\n` whose `\n` has not arrived yet.
                let over = len > self.max_line_bytes && !(len - 1 == self.max_line_bytes && self.buf[len - 1] == b'\r');
                if over {
                    self.yielded += 1;
                    self.discarding = true;
                    self.drop_front(len);
                    return Some(Err(self.too_large()));
                }
                return None;
            };
            let newline = self.scan + k;
            self.terminated += 1;
            if self.discarding {
                self.discarding = false;
                self.drop_front(newline + 1);
                continue;
            }
            let offset = self.base;
            let mut line = self.buf.split_to(newline + 1);
            self.base += (newline + 1) as u64;
            self.scan = 0;
            line.truncate(newline);
            if line.last() == Some(&b'\r') {
                line.truncate(newline - 1);
            }
            self.yielded += 1;
            if line.len() > self.max_line_bytes {
                return Some(Err(self.too_large()));
            }
            return Some(Ok(RawLine { offset, number: self.terminated, bytes: line.freeze() }));
        }
    }

    /// Takes the bytes after the last `\n` as the final line.
    pub(super) fn finish_raw(&mut self) -> Option<Result<RawLine, StreamError>> {
        let (start, newlines) = match memrchr(b'\n', &self.buf) {
            Some(last) => (last + 1, memchr_iter(b'\n', &self.buf[..=last]).count()),
            None => (0, 0),
        };
        if self.discarding && newlines == 0 {
            // The tail belongs to an oversized line already reported.
            self.discarding = false;
            self.drop_front(self.buf.len());
            return None;
        }
        let tail = self.buf.split_off(start);
        self.scan = self.scan.min(self.buf.len());
        if tail.is_empty() {
            return None;
        }
        self.yielded += 1;
        if tail.len() > self.max_line_bytes {
            return Some(Err(self.too_large()));
        }
        Some(Ok(RawLine {
            offset: self.base + start as u64,
            number: self.terminated + newlines as u64 + 1,
            bytes: tail.freeze(),
        }))
    }

    fn drop_front(&mut self, n: usize) {
        self.buf.advance(n);
        self.base += n as u64;
        self.scan = 0;
    }

    fn too_large(&self) -> StreamError {
        StreamError::TooLarge { limit: self.max_line_bytes }
    }
}

fn into_string(line: &RawLine) -> Result<String, StreamError> {
    match std::str::from_utf8(&line.bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Err(StreamError::InvalidUtf8 { line: line.number }),
    }
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for LineDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not derived: the buffer may be megabytes of payload.
        f.debug_struct("LineDecoder")
            .field("offset", &self.base)
            .field("buffered", &self.buf.len())
            .field("lines", &self.yielded)
            .field("max_line_bytes", &self.max_line_bytes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `chunks`, returning each line or error kind as a string.
    fn run(mut d: LineDecoder, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |r: Result<String, StreamError>| {
            out.push(match r {
                Ok(s) => s,
                Err(StreamError::InvalidUtf8 { line }) => format!("<utf8 {line}>"),
                Err(StreamError::TooLarge { limit }) => format!("<large {limit}>"),
                Err(e) => format!("<{e}>"),
            });
        };
        for chunk in chunks {
            d.feed(chunk);
            while let Some(r) = d.next_line() {
                push(r);
            }
        }
        if let Some(r) = d.finish().transpose() {
            push(r);
        }
        out
    }

    #[test]
    fn terminators() {
        let out = run(LineDecoder::new(), &[b"a\r\n\nb\rc\n\r\nlast\r"]);
        assert_eq!(out, ["a", "", "b\rc", "", "last\r"]);
        assert!(run(LineDecoder::new(), &[b""]).is_empty());
        assert_eq!(run(LineDecoder::new(), &[b"x\n"]), ["x"]);
    }

    #[test]
    fn invalid_utf8_is_per_line() {
        let out = run(LineDecoder::new(), &[b"ok\n\xFF\nstill ok\n\xC3"]);
        assert_eq!(out, ["ok", "<utf8 2>", "still ok", "<utf8 4>"]);
        let mut d = LineDecoder::new();
        d.feed(b"a\xFFb\n\xE2\x9C");
        assert_eq!(d.next_line_lossy().unwrap(), "a\u{FFFD}b");
        assert!(d.next_line_lossy().is_none());
        assert_eq!(d.finish_lossy().unwrap(), "\u{FFFD}");
        assert_eq!(d.lines_seen(), 2);
    }

    #[test]
    fn oversized_lines_are_skipped_once() {
        let input = b"abc\nabcdef\nab\r\nabcdefgh";
        let whole = run(LineDecoder::new().with_max_line_bytes(3), &[input]);
        assert_eq!(whole, ["abc", "<large 3>", "ab", "<large 3>"]);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(run(LineDecoder::new().with_max_line_bytes(3), &bytes), whole);
    }

    #[test]
    fn limit_excludes_crlf_split_after_cr() {
        let d = LineDecoder::new().with_max_line_bytes(3);
        assert_eq!(run(d, &[b"abc\r", b"\nxyz\r", b"\n"]), ["abc", "xyz"]);
        let d = LineDecoder::new().with_max_line_bytes(3);
        assert_eq!(run(d, &[b"abc\r", b"d\n"]), ["<large 3>"]);
    }

    #[test]
    fn oversized_line_is_not_buffered() {
        let mut d = LineDecoder::new().with_max_line_bytes(10);
        d.feed(&[b'x'; 11]);
        assert!(matches!(d.next_line(), Some(Err(StreamError::TooLarge { limit: 10 }))));
        for _ in 0..100 {
            d.feed(&[b'x'; 100]);
            assert!(d.next_line().is_none());
            assert_eq!(d.buffered_len(), 0);
        }
        d.feed(b"\nnext\n");
        assert_eq!(d.next_line().unwrap().unwrap(), "next");
        assert_eq!(d.lines_seen(), 2);
    }

    #[test]
    fn finish_keeps_undrained_lines() {
        let mut d = LineDecoder::new();
        d.feed(b"one\ntwo\n\xFF");
        assert!(matches!(d.finish(), Err(StreamError::InvalidUtf8 { line: 3 })));
        assert_eq!(d.next_line().unwrap().unwrap(), "one");
        assert_eq!(d.next_line().unwrap().unwrap(), "two");
        assert!(d.next_line().is_none());
        assert!(d.finish().unwrap().is_none());
    }

    #[test]
    fn line_offsets_and_numbers() {
        let mut d = LineDecoder::new();
        d.feed(b"ab\r\n\ncd\nef");
        let l = d.next_raw_line().unwrap().unwrap();
        assert_eq!((l.offset, l.number, &l.bytes[..]), (0, 1, &b"ab"[..]));
        let l = d.next_raw_line().unwrap().unwrap();
        assert_eq!((l.offset, l.number, &l.bytes[..]), (4, 2, &b""[..]));
        let l = d.next_raw_line().unwrap().unwrap();
        assert_eq!((l.offset, l.number, &l.bytes[..]), (5, 3, &b"cd"[..]));
        assert!(d.next_raw_line().is_none());
        let l = d.finish_raw().unwrap().unwrap();
        assert_eq!((l.offset, l.number, &l.bytes[..]), (8, 4, &b"ef"[..]));
    }
}
