//! Incremental structural scanner for one JSON value.
//!
//! The scanner checks the *structure* of a value: brackets are balanced and
//! of matching kind, strings are terminated, object members are
//! `key ':' value` pairs separated by `','`, array elements are separated by
//! `','`. It does not check the contents of scalar tokens (numbers, `true`,
//! `false`, `null`) beyond the set of bytes they may consist of, nor escape
//! sequences, control characters or UTF-8 inside strings: `serde_json` does
//! that when an item is deserialized. Keeping the scanner structural keeps it
//! fast (string contents are skipped with `memchr2`).

use memchr::memchr2;

/// JSON insignificant whitespace (RFC 8259, section 2).
#[inline]
pub(super) const fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Whether `b` can start a JSON value.
#[inline]
pub(super) const fn is_value_start(b: u8) -> bool {
    matches!(b, b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
}

/// Bytes that may continue a scalar token. Deliberately loose (any ASCII
/// alphanumeric, `+`, `-`, `.`): the exact token grammar is `serde_json`'s job.
static SCALAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.';
        i += 1;
    }
    table
};

/// What the grammar allows next while between tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// A value (top level, after `:` or after `,` in an array).
    Value,
    /// A value or `]` (right after `[`).
    ValueOrClose,
    /// A key or `}` (right after `{`).
    KeyOrClose,
    /// A key (after `,` in an object).
    Key,
    /// `:` after a key.
    Colon,
    /// `,` or the closing bracket of the innermost container.
    CommaOrClose,
}

/// Lexical mode; kept across calls so a value may span chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Between tokens.
    Structure,
    /// Inside a string.
    Str,
    /// Right after a backslash inside a string.
    Escape,
    /// Inside a number or literal.
    Scalar,
}

/// Result of one [`ValueScanner::scan`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scan {
    /// The value ends right before this index (exclusive end).
    Complete(usize),
    /// All given bytes were consumed; the value is not complete yet.
    More,
    /// Structural error at this index.
    Error {
        /// Index of the offending byte.
        at: usize,
        /// What was expected there.
        expected: &'static str,
    },
}

/// Resumable scanner for a single JSON value.
#[derive(Debug)]
pub(super) struct ValueScanner {
    /// Open containers, innermost last (`b'['` or `b'{'`). Reused across
    /// values so scanning allocates only when nesting grows.
    stack: Vec<u8>,
    expect: Expect,
    mode: Mode,
    /// Whether the current string is an object key.
    key: bool,
}

impl Default for ValueScanner {
    fn default() -> Self {
        Self { stack: Vec::new(), expect: Expect::Value, mode: Mode::Structure, key: false }
    }
}

impl ValueScanner {
    /// Prepares for a new value.
    pub(super) fn reset(&mut self) {
        self.stack.clear();
        self.expect = Expect::Value;
        self.mode = Mode::Structure;
        self.key = false;
    }

    /// Whether the value would be complete if the input ended here: only a
    /// top-level scalar is terminated by the end of input.
    pub(super) fn complete_at_end(&self) -> bool {
        self.mode == Mode::Scalar && self.stack.is_empty()
    }

    /// What the scanner needs next; used to describe a value cut short.
    pub(super) fn expected(&self) -> &'static str {
        match self.mode {
            Mode::Str | Mode::Escape => "expected '\"'",
            Mode::Scalar => self.expected_after_value(),
            Mode::Structure => self.expected_token(),
        }
    }

    fn expected_after_value(&self) -> &'static str {
        match self.stack.last() {
            Some(b'{') => "expected ',' or '}'",
            Some(_) => "expected ',' or ']'",
            None => "expected end of value",
        }
    }

    fn expected_token(&self) -> &'static str {
        match self.expect {
            Expect::Value => "expected JSON value",
            Expect::ValueOrClose => "expected JSON value or ']'",
            Expect::KeyOrClose => "expected string key or '}'",
            Expect::Key => "expected string key",
            Expect::Colon => "expected ':'",
            Expect::CommaOrClose => self.expected_after_value(),
        }
    }

    /// Continues scanning `bytes`, where `bytes[0]` is the first byte of the
    /// value and `bytes[..from]` was already scanned by earlier calls (its
    /// state is carried in `self`, so nothing is scanned twice).
    pub(super) fn scan(&mut self, bytes: &[u8], from: usize) -> Scan {
        let len = bytes.len();
        let mut i = from;
        while i < len {
            match self.mode {
                Mode::Str => match memchr2(b'"', b'\\', &bytes[i..]) {
                    None => return Scan::More,
                    Some(k) => {
                        let j = i + k;
                        i = j + 1;
                        if bytes[j] == b'\\' {
                            self.mode = Mode::Escape;
                        } else {
                            self.mode = Mode::Structure;
                            if self.stack.is_empty() {
                                return Scan::Complete(i);
                            }
                            self.expect = if self.key { Expect::Colon } else { Expect::CommaOrClose };
                        }
                    }
                },
                Mode::Escape => {
                    // The escaped byte can never end the string; `\uXXXX`
                    // hex digits contain no quote or backslash anyway.
                    self.mode = Mode::Str;
                    i += 1;
                }
                Mode::Scalar => {
                    while i < len && SCALAR[usize::from(bytes[i])] {
                        i += 1;
                    }
                    if i == len {
                        return Scan::More;
                    }
                    self.mode = Mode::Structure;
                    if self.stack.is_empty() {
                        // The delimiter is not part of the value.
                        return Scan::Complete(i);
                    }
                    self.expect = Expect::CommaOrClose;
                }
                Mode::Structure => {
                    if let Some(result) = self.structure(bytes, &mut i) {
                        return result;
                    }
                }
            }
        }
        Scan::More
    }

    /// Processes structural bytes starting at `*i` until a mode change, the
    /// end of `bytes` or a result.
    #[inline]
    fn structure(&mut self, bytes: &[u8], i: &mut usize) -> Option<Scan> {
        while let Some(&b) = bytes.get(*i) {
            let at = *i;
            *i += 1;
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    match self.expect {
                        Expect::Value | Expect::ValueOrClose => self.key = false,
                        Expect::Key | Expect::KeyOrClose => self.key = true,
                        _ => return Some(self.error(at)),
                    }
                    self.mode = Mode::Str;
                    return None;
                }
                b'{' | b'[' => {
                    if !matches!(self.expect, Expect::Value | Expect::ValueOrClose) {
                        return Some(self.error(at));
                    }
                    self.stack.push(b);
                    self.expect = if b == b'{' { Expect::KeyOrClose } else { Expect::ValueOrClose };
                }
                b'}' | b']' => {
                    let open = if b == b'}' { b'{' } else { b'[' };
                    let ok = match self.expect {
                        Expect::CommaOrClose => self.stack.last() == Some(&open),
                        Expect::KeyOrClose => b == b'}',
                        Expect::ValueOrClose => b == b']',
                        _ => false,
                    };
                    if !ok {
                        return Some(self.error(at));
                    }
                    self.stack.pop();
                    if self.stack.is_empty() {
                        return Some(Scan::Complete(at + 1));
                    }
                    self.expect = Expect::CommaOrClose;
                }
                b',' => {
                    if self.expect != Expect::CommaOrClose {
                        return Some(self.error(at));
                    }
                    self.expect = if self.stack.last() == Some(&b'{') { Expect::Key } else { Expect::Value };
                }
                b':' => {
                    if self.expect != Expect::Colon {
                        return Some(self.error(at));
                    }
                    self.expect = Expect::Value;
                }
                b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                    if !matches!(self.expect, Expect::Value | Expect::ValueOrClose) {
                        return Some(self.error(at));
                    }
                    self.mode = Mode::Scalar;
                    return None;
                }
                _ => return Some(self.error(at)),
            }
        }
        None
    }

    fn error(&self, at: usize) -> Scan {
        Scan::Error { at, expected: self.expected_token() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(input: &[u8]) -> (Scan, bool) {
        let mut s = ValueScanner::default();
        let r = s.scan(input, 0);
        (r, s.complete_at_end())
    }

    #[test]
    fn complete_values() {
        assert_eq!(scan_all(b"{}").0, Scan::Complete(2));
        assert_eq!(scan_all(b"[1,[2],{\"a\":[]}] x").0, Scan::Complete(16));
        assert_eq!(scan_all(br#""a\"]\\" ,"#).0, Scan::Complete(8));
        assert_eq!(scan_all(b"-1.5e+10,").0, Scan::Complete(8));
        assert_eq!(scan_all(b"true]").0, Scan::Complete(4));
    }

    #[test]
    fn scalar_needs_delimiter_or_end() {
        let (r, at_end) = scan_all(b"123");
        assert_eq!(r, Scan::More);
        assert!(at_end);
        let (r, at_end) = scan_all(b"[123");
        assert_eq!(r, Scan::More);
        assert!(!at_end);
    }

    #[test]
    fn structural_errors() {
        let cases: &[(&[u8], usize, &str)] = &[
            (b"[1 2]", 3, "expected ',' or ']'"),
            (b"[1,]", 3, "expected JSON value"),
            (b"[,1]", 1, "expected JSON value or ']'"),
            (b"{\"a\" 1}", 5, "expected ':'"),
            (b"{\"a\":1,}", 7, "expected string key"),
            (b"{1:2}", 1, "expected string key or '}'"),
            (b"[}", 1, "expected JSON value or ']'"),
            (b"{\"a\":[1}", 7, "expected ',' or ']'"),
        ];
        for &(input, at, expected) in cases {
            let mut s = ValueScanner::default();
            // Scan the first byte alone, then the rest, to exercise resumption.
            let first = s.scan(&input[..1], 0);
            let r = if first == Scan::More { s.scan(input, 1) } else { first };
            assert_eq!(r, Scan::Error { at, expected }, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn resumes_inside_escape() {
        let input = br#"["\\\"",1]"#;
        for split in 1..input.len() {
            let mut s = ValueScanner::default();
            assert_eq!(s.scan(&input[..split], 0), Scan::More, "split {split}");
            assert_eq!(s.scan(input, split), Scan::Complete(input.len()), "split {split}");
        }
    }

    #[test]
    fn expected_describes_cut_value() {
        let mut s = ValueScanner::default();
        assert_eq!(s.scan(b"{\"a\":\"x", 0), Scan::More);
        assert_eq!(s.expected(), "expected '\"'");
        s.reset();
        assert_eq!(s.scan(b"{\"a\":1", 0), Scan::More);
        assert_eq!(s.expected(), "expected ',' or '}'");
        s.reset();
        assert_eq!(s.scan(b"[", 0), Scan::More);
        assert_eq!(s.expected(), "expected JSON value or ']'");
    }
}
