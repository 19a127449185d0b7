//! Incremental splitter of an Actor log into messages (client-behaviour §17).
//!
//! A message starts with an ISO timestamp marker (`2024-01-02T03:04:05.678Z`) at the start
//! of the log or right after a `\n`; it runs until the next such marker, so a message keeps
//! its continuation lines (a stack trace stays one message). Text before the first marker
//! is a message of its own, without a timestamp (the official client drops it).
//!
//! Chunks may split a marker, a line or a UTF-8 character anywhere: the output is the same
//! as splitting the whole log at once. Memory is bounded by the largest message plus the
//! limit (longer messages are cut at the limit and delivered in pieces).

use bytes::{Buf, BytesMut};

/// Length of `YYYY-MM-DDTHH:MM:SS.mmmZ`.
const MARKER_LEN: usize = 24;
/// Default largest message kept whole: 1 MiB.
const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// The level a message is logged at, guessed from the words in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `CRITICAL`, `FATAL` or `ERROR`.
    Error,
    /// `WARN` or `WARNING`.
    Warn,
    /// `INFO`, or no level word at all.
    Info,
    /// `DEBUG`.
    Debug,
}

impl LogLevel {
    /// The first level word found, in the official client's order of precedence
    /// (`CRITICAL`, `FATAL`, `ERROR`, `WARN`, `WARNING`, `INFO`, `DEBUG`); `Info` otherwise.
    pub fn guess(message: &str) -> Self {
        const WORDS: [(&str, LogLevel); 7] = [
            ("CRITICAL", LogLevel::Error),
            ("FATAL", LogLevel::Error),
            ("ERROR", LogLevel::Error),
            ("WARN", LogLevel::Warn),
            ("WARNING", LogLevel::Warn),
            ("INFO", LogLevel::Info),
            ("DEBUG", LogLevel::Debug),
        ];
        WORDS.iter().find(|(w, _)| message.contains(w)).map_or(Self::Info, |(_, l)| *l)
    }
}

/// One log message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    /// Its timestamp marker (`2024-01-02T03:04:05.678Z`), or `None` for text before the
    /// first marker.
    pub timestamp: Option<String>,
    /// The whole message, marker included, without surrounding whitespace.
    pub text: String,
    /// Its guessed level.
    pub level: LogLevel,
}

impl LogMessage {
    fn new(raw: &[u8], marked: bool) -> Option<Self> {
        let text = String::from_utf8_lossy(raw).trim().to_owned();
        if text.is_empty() {
            return None;
        }
        let timestamp = marked.then(|| text[..MARKER_LEN.min(text.len())].to_owned());
        let level = LogLevel::guess(&text);
        Some(Self { timestamp, text, level })
    }
}

fn is_marker(b: &[u8]) -> bool {
    const SHAPE: &[u8; MARKER_LEN] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    b.len() >= MARKER_LEN && SHAPE.iter().zip(b).all(|(s, c)| if *s == b'd' { c.is_ascii_digit() } else { s == c })
}

/// The splitter: [`feed`](Self::feed) chunks, take messages with
/// [`next_message`](Self::next_message), and [`finish`](Self::finish) at the end.
#[derive(Debug)]
pub struct LogSplitter {
    buf: BytesMut,
    // Whether `buf` starts with a marker (a message) or with text before the first marker.
    marked: bool,
    // Bytes of `buf` already scanned for the next marker (no boundary before this).
    scanned: usize,
    started: bool,
    max: usize,
    finished: bool,
}

impl Default for LogSplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl LogSplitter {
    /// A splitter with the default message limit (1 MiB).
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            marked: false,
            scanned: 0,
            started: false,
            max: DEFAULT_MAX_MESSAGE_BYTES,
            finished: false,
        }
    }

    /// Cuts messages longer than `limit` bytes into pieces.
    pub fn with_max_message_bytes(mut self, limit: usize) -> Self {
        self.max = limit.max(MARKER_LEN + 1);
        self
    }

    /// Adds a chunk of the log.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete message, or `None` until more input (or `finish`).
    pub fn next_message(&mut self) -> Option<LogMessage> {
        loop {
            if !self.started {
                // Decide whether the log starts with a marker.
                if self.buf.len() < MARKER_LEN && !self.finished {
                    return None;
                }
                self.started = true;
                self.marked = is_marker(&self.buf);
                self.scanned = if self.marked { MARKER_LEN } else { 0 };
            }
            // Find the next `\n` followed by a marker, after what is known not to hold one.
            let mut from = self.scanned;
            let mut boundary = None;
            let mut undecided = None;
            while let Some(i) = memchr::memchr(b'\n', &self.buf[from..]) {
                let nl = from + i;
                let rest = &self.buf[nl + 1..];
                if rest.len() < MARKER_LEN {
                    if self.finished {
                        from = nl + 1;
                        continue;
                    }
                    // Not enough bytes yet to tell: look here again later.
                    undecided = Some(nl);
                    break;
                }
                if is_marker(rest) {
                    boundary = Some(nl + 1);
                    break;
                }
                from = nl + 1;
            }
            // An overlong message is cut at the limit (on a character boundary), whether or
            // not its end is already known, so pieces do not depend on the chunking; but not
            // while a `\n` below the limit may still turn out to start a marker.
            let cut = || {
                let mut at = self.max;
                while at > 0 && self.buf.get(at).is_some_and(|b| b & 0xC0 == 0x80) {
                    at -= 1;
                }
                if at == 0 { self.max } else { at }
            };
            let undecided_below = undecided.is_some_and(|nl| nl < self.max);
            let end = match boundary {
                Some(b) if b > self.max && self.buf.len() > self.max => cut(),
                Some(b) => b,
                None if self.finished && self.buf.len() > self.max => cut(),
                None if self.finished && !self.buf.is_empty() => self.buf.len(),
                None if self.buf.len() > self.max && !undecided_below => cut(),
                None => {
                    // Next time, look again only from the last `\n` on (it may precede a
                    // marker that has not fully arrived).
                    self.scanned = undecided.unwrap_or(self.buf.len());
                    return None;
                }
            };
            let raw = self.buf.split_to(end);
            let marked = self.marked;
            // After a boundary a marked message follows; after a cut, the rest of an
            // overlong message (without a marker of its own).
            self.marked = boundary == Some(end);
            self.scanned = if self.marked { MARKER_LEN } else { 0 };
            if let Some(m) = LogMessage::new(&raw, marked) {
                return Some(m);
            }
            if self.buf.is_empty() {
                return None;
            }
        }
    }

    /// Marks the end of the log: the last message becomes complete.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Bytes held, waiting for the rest of a message.
    pub fn buffered(&self) -> usize {
        self.buf.remaining()
    }
}

/// Splits a whole log at once.
pub fn split_log(log: &[u8]) -> Vec<LogMessage> {
    let mut s = LogSplitter::new();
    s.feed(log);
    s.finish();
    std::iter::from_fn(|| s.next_message()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2024-01-02T03:04:05.678Z ACTOR: Pulling container image\n\
        2024-01-02T03:04:06.000Z INFO  Starting the crawl\n\
        2024-01-02T03:04:07.001Z ERROR Request failed\n    at main.js:10\n  \n\
        2024-01-02T03:04:08.002Z WARN  Retrying in 2024-01-02T03:04:09.000Z\n\
        2024-01-02T03:04:09.003Z DEBUG done – ünïcode\n";

    #[test]
    fn messages_keep_their_continuation_lines_and_levels() {
        let m = split_log(LOG.as_bytes());
        let texts: Vec<_> = m.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts.len(), 5, "{texts:#?}");
        assert_eq!(texts[2], "2024-01-02T03:04:07.001Z ERROR Request failed\n    at main.js:10");
        assert_eq!(m[2].level, LogLevel::Error);
        assert_eq!(m[3].level, LogLevel::Warn);
        assert_eq!(m[4].level, LogLevel::Debug);
        assert_eq!(m[0].level, LogLevel::Info);
        assert_eq!(m[1].timestamp.as_deref(), Some("2024-01-02T03:04:06.000Z"));
        // A marker inside a line does not split it.
        assert!(texts[3].ends_with("Retrying in 2024-01-02T03:04:09.000Z"));
    }

    #[test]
    fn every_split_point_gives_the_same_messages() {
        let whole = split_log(LOG.as_bytes());
        let bytes = LOG.as_bytes();
        for cut in 0..=bytes.len() {
            for cut2 in [cut, (cut + 7).min(bytes.len()), bytes.len()] {
                let mut s = LogSplitter::new();
                let mut got = Vec::new();
                for part in [&bytes[..cut], &bytes[cut..cut2], &bytes[cut2..]] {
                    s.feed(part);
                    got.extend(std::iter::from_fn(|| s.next_message()));
                }
                s.finish();
                got.extend(std::iter::from_fn(|| s.next_message()));
                assert_eq!(got, whole, "cut at {cut}/{cut2}");
            }
        }
        // Byte by byte.
        let mut s = LogSplitter::new();
        let mut got = Vec::new();
        for b in bytes {
            s.feed(std::slice::from_ref(b));
            got.extend(std::iter::from_fn(|| s.next_message()));
        }
        s.finish();
        got.extend(std::iter::from_fn(|| s.next_message()));
        assert_eq!(got, whole);
    }

    #[test]
    fn text_before_the_first_marker_and_odd_input() {
        let m = split_log(b"no marker here\nstill none\n2024-01-02T03:04:05.678Z then one");
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].timestamp.as_deref(), m[0].text.as_str()), (None, "no marker here\nstill none"));
        assert!(split_log(b"").is_empty());
        assert!(split_log(b"\n\n  \n").is_empty());
        assert_eq!(split_log(b"2024-01-02T03:04:05.678Z").len(), 1);
        // Invalid UTF-8 is replaced, not fatal.
        assert_eq!(split_log(b"2024-01-02T03:04:05.678Z \xff").len(), 1);
        // A nearly-marker is not one.
        assert_eq!(split_log(b"2024-01-02T03:04:05.678Z a\n2024-01-02T03:04:05,678Z b").len(), 1);
    }

    #[test]
    fn overlong_messages_are_cut_and_memory_stays_bounded() {
        let mut s = LogSplitter::new().with_max_message_bytes(100);
        let mut n = 0;
        // Cut pieces are the same however the input arrives, and never split a character
        // or a marker.
        let long = format!("2024-01-02T03:04:05.678Z {}\n2024-01-02T03:04:06.000Z next", "é".repeat(120));
        let whole = {
            let mut w = LogSplitter::new().with_max_message_bytes(100);
            w.feed(long.as_bytes());
            w.finish();
            std::iter::from_fn(|| w.next_message()).collect::<Vec<_>>()
        };
        assert!(whole.len() >= 3 && whole.last().unwrap().timestamp.as_deref() == Some("2024-01-02T03:04:06.000Z"));
        assert!(whole.iter().all(|m| !m.text.contains('\u{FFFD}')), "{whole:?}");
        for step in [1, 7, 33] {
            let mut p = LogSplitter::new().with_max_message_bytes(100);
            let mut got = Vec::new();
            for c in long.as_bytes().chunks(step) {
                p.feed(c);
                got.extend(std::iter::from_fn(|| p.next_message()));
            }
            p.finish();
            got.extend(std::iter::from_fn(|| p.next_message()));
            assert_eq!(got, whole, "chunks of {step}");
        }
        s.feed(b"2024-01-02T03:04:05.678Z ");
        for _ in 0..100 {
            s.feed(&[b'x'; 50]);
            while s.next_message().is_some() {
                n += 1;
            }
            assert!(s.buffered() <= 160, "{}", s.buffered());
        }
        s.finish();
        n += std::iter::from_fn(|| s.next_message()).count();
        assert!(n >= 40, "{n}");
    }
}
