//! Cheap variants of the split-point fuzz bodies of `apify_core::fuzzing` (`json_array`,
//! `lines`, `log_messages`). Those feed every input whole, byte by byte and in steered chunks,
//! so one execution parses the input several times per chunk boundary. These bodies make the
//! same assertions, but each execution compares the whole input with one two-chunk split
//! that the input picks, so a campaign reaches many more inputs.
//!
//! The code is the core's, with `splits` replaced: the core keeps its helpers private, and
//! the targets may not change it. The input formats are the core bodies' own, so both kinds of
//! target share a corpus.

use apify_core::bytes::Bytes;
use apify_core::stream::{JsonArrayDecoder, JsonLinesDecoder, LineDecoder, StreamError};
use serde_json::Value;

/// UTF-8 byte order mark, which the stream decoders tolerate at the start.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads control values off the front of an input. Missing bytes read as zero, so every
/// input (the empty one included) is usable.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        b
    }
}

/// JSON insignificant whitespace (RFC 8259); `u8::is_ascii_whitespace` also has form feed.
fn is_json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn first_non_ws(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|&b| !is_json_ws(b))
}

// -------------------------------------------------------------------------------- streams

/// A comparable [`StreamError`] (the real one holds a serde_json error, which is not
/// `PartialEq`; its message is deterministic, so it stands in for it).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fail {
    Malformed(u64, &'static str),
    Truncated(u64),
    TooLarge(usize),
    Utf8(u64),
    Item(u64, String),
    /// A variant added later (`StreamError` is non-exhaustive), compared by its message.
    Other(String),
}

impl Fail {
    fn of(e: &StreamError) -> Self {
        match e {
            StreamError::Malformed { offset, expected } => Self::Malformed(*offset, expected),
            StreamError::Truncated { offset } => Self::Truncated(*offset),
            StreamError::TooLarge { limit } => Self::TooLarge(*limit),
            StreamError::InvalidUtf8 { line } => Self::Utf8(*line),
            StreamError::Item { index, source } => Self::Item(*index, source.to_string()),
            e => Self::Other(e.to_string()),
        }
    }
}

/// Where the input is cut: `u16(a, b) % (len + 1)`, so the fuzzer picks any point, either end
/// included (an empty chunk is fed too).
fn split_point(doc: &[u8], a: u8, b: u8) -> usize {
    usize::from(u16::from_be_bytes([a, b])) % (doc.len() + 1)
}

/// The whole input and the one split of it the control bytes `a` and `b` pick.
fn splits(doc: &[u8], a: u8, b: u8) -> [Vec<&[u8]>; 2] {
    let (head, tail) = doc.split_at(split_point(doc, a, b));
    [vec![doc], vec![head, tail]]
}

type ArrayRun<T> = (Vec<Result<T, Fail>>, Result<(), Fail>);

/// Feeds `chunks`, pulling with `next` after each; returns what was pulled and `finish()`.
fn run_array<T>(
    chunks: &[&[u8]],
    limit: Option<usize>,
    mut next: impl FnMut(&mut JsonArrayDecoder) -> Option<Result<T, StreamError>>,
) -> ArrayRun<T> {
    let mut d = JsonArrayDecoder::new();
    if let Some(limit) = limit {
        d = d.with_max_item_bytes(limit);
    }
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(r) = next(&mut d) {
            out.push(r.map_err(|e| Fail::of(&e)));
        }
    }
    let end = d.finish().map_err(|e| Fail::of(&e));
    // `finish` is repeatable, and every scanned item was handed out before it.
    assert_eq!(d.finish().map_err(|e| Fail::of(&e)), end, "finish changed its answer");
    let items = out.iter().filter(|r| matches!(r, Ok(_) | Err(Fail::Item(..)))).count();
    assert_eq!(d.items_seen(), items as u64, "items_seen");
    (out, end)
}

/// `JsonArrayDecoder`: the same items and errors for the whole input and the chosen split,
/// and agreement with `serde_json::from_slice::<Vec<Value>>` on the whole input.
///
/// Input (as `apify_core::fuzzing::json_array`): two bytes choosing the split point, one byte
/// of per-item limit (for a second run with a small limit), then the document.
pub fn json_array_split(data: &[u8]) {
    let mut r = Reader(data);
    let (a, b, limit) = (r.byte(), r.byte(), usize::from(r.byte()));
    let doc = r.0;
    let splits = splits(doc, a, b);

    for limit in [None, Some(limit)] {
        let raw = run_array(&splits[0], limit, JsonArrayDecoder::next_raw);
        let items = run_array(&splits[0], limit, JsonArrayDecoder::next_item::<Value>);
        for chunks in &splits[1..] {
            assert_eq!(run_array(chunks, limit, JsonArrayDecoder::next_raw), raw, "raw items depend on the split");
            let split_items = run_array(chunks, limit, JsonArrayDecoder::next_item::<Value>);
            assert_eq!(split_items, items, "items depend on the split");
        }
        check_raw_against_items(doc, &raw, &items);
    }
    let (items, end) = run_array(&splits[0], None, JsonArrayDecoder::next_item::<Value>);
    check_array_against_serde(doc, &items, &end);
}

/// `next_item` is `next_raw` plus serde_json: same events, an item error exactly where the
/// raw item does not parse.
fn check_raw_against_items(doc: &[u8], (raw, raw_end): &ArrayRun<Bytes>, (items, end): &ArrayRun<Value>) {
    assert_eq!(raw_end, end, "finish differs between next_raw and next_item");
    assert_eq!(raw.len(), items.len(), "next_raw and next_item yield different numbers of events");
    for (i, (r, item)) in raw.iter().zip(items).enumerate() {
        match (r, item) {
            (Ok(bytes), item) => {
                // Items are trimmed of surrounding whitespace.
                assert!(!bytes.is_empty() && !is_json_ws(bytes[0]) && !is_json_ws(bytes[bytes.len() - 1]));
                match (serde_json::from_slice::<Value>(bytes), item) {
                    (Ok(v), Ok(item)) => assert_eq!(&v, item),
                    (Err(e), Err(Fail::Item(index, msg))) => assert_eq!((*index, msg), (i as u64, &e.to_string())),
                    (parsed, item) => panic!("raw item {bytes:?} parses as {parsed:?} but next_item gave {item:?}"),
                }
            }
            (Err(f), Err(g)) => assert_eq!(f, g),
            (Err(f), Ok(v)) => panic!("next_raw failed with {f:?} where next_item gave {v}"),
        }
    }
    // Fatal errors poison the decoder: the last event, repeated by `finish`.
    for (i, r) in raw.iter().enumerate() {
        if let Err(f @ (Fail::Malformed(..) | Fail::TooLarge(_))) = r {
            assert_eq!(i + 1, raw.len(), "an event followed the fatal {f:?}");
            assert_eq!(end, &Err(f.clone()), "finish does not repeat the fatal error");
        }
    }
    match end {
        Err(Fail::Truncated(offset)) => assert_eq!(*offset, doc.len() as u64, "truncation offset"),
        Err(Fail::Malformed(offset, _)) => assert!(*offset < doc.len() as u64, "malformed offset past the input"),
        _ => {}
    }
}

fn check_array_against_serde(doc: &[u8], items: &[Result<Value, Fail>], end: &Result<(), Fail>) {
    let values: Option<Vec<&Value>> = items.iter().map(|r| r.as_ref().ok()).collect();
    let accepted = values.filter(|_| end.is_ok());
    // What serde_json accepts as an array, the decoder accepts, item for item.
    if let Ok(expected) = serde_json::from_slice::<Vec<Value>>(doc) {
        let Some(values) = &accepted else { panic!("serde_json accepts the array; decoder gave {items:?} {end:?}") };
        assert!(values.iter().copied().eq(&expected), "items differ from serde_json: {values:?} vs {expected:?}");
    }
    // And the converse, modulo the documented differences: a BOM is tolerated, a top-level
    // object is the single item, and items are parsed alone, one level shallower than in
    // the array, so serde_json's recursion limit may reject only the whole array.
    let Some(values) = accepted else { return };
    let body = doc.strip_prefix(BOM).unwrap_or(doc);
    if first_non_ws(body) == Some(b'{') {
        assert_eq!(values.len(), 1, "a top-level object is one item");
        let whole = serde_json::from_slice::<Value>(body);
        assert_eq!(whole.ok().as_ref(), Some(values[0]), "the top-level object");
        return;
    }
    match serde_json::from_slice::<Vec<Value>>(body) {
        Ok(expected) => assert!(values.iter().copied().eq(&expected), "items differ from serde_json"),
        Err(e) if e.to_string().starts_with("recursion limit exceeded") => {}
        Err(e) => panic!("decoder accepted {} items but serde_json rejects the array: {e}", values.len()),
    }
}

/// A line as the contract of [`LineDecoder`] defines it.
struct ModelLine<'a> {
    /// Absolute offset of its first byte.
    offset: u64,
    /// Content without the terminator.
    bytes: &'a [u8],
}

/// The lines of `doc`: split at every `\n`; a terminated line loses one `\r` before its
/// `\n`; the unterminated tail is kept as it is (a trailing `\r` included) if non-empty.
fn model_lines(doc: &[u8]) -> Vec<ModelLine<'_>> {
    let mut lines = Vec::new();
    let mut offset = 0;
    let mut parts = doc.split(|&b| b == b'\n').peekable();
    while let Some(part) = parts.next() {
        let terminated = parts.peek().is_some();
        if terminated {
            lines.push(ModelLine { offset, bytes: part.strip_suffix(b"\r").unwrap_or(part) });
        } else if !part.is_empty() {
            lines.push(ModelLine { offset, bytes: part });
        }
        offset += part.len() as u64 + 1;
    }
    lines
}

/// `doc` with every `\r\n` replaced by `\n` (exactly the `\r` right before each `\n` goes).
fn crlf_to_lf(doc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(doc.len());
    for (i, &b) in doc.iter().enumerate() {
        if !(b == b'\r' && doc.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

/// Feeds `chunks` to a line decoder, pulling with `next` and ending with `finish`.
fn run_lines<T>(
    chunks: &[&[u8]],
    limit: Option<usize>,
    mut next: impl FnMut(&mut LineDecoder) -> Option<T>,
    finish: impl FnOnce(&mut LineDecoder) -> Option<T>,
) -> Vec<T> {
    let mut d = LineDecoder::new();
    if let Some(limit) = limit {
        d = d.with_max_line_bytes(limit);
    }
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        out.extend(std::iter::from_fn(|| next(&mut d)));
    }
    out.extend(finish(&mut d));
    // Nothing is left once finished.
    assert!(next(&mut d).is_none() && d.finish().is_ok_and(|l| l.is_none()), "lines left after finish");
    out
}

fn run_jsonl<T>(
    chunks: &[&[u8]],
    limit: Option<usize>,
    mut next: impl FnMut(&mut JsonLinesDecoder) -> Option<Result<T, StreamError>>,
) -> Vec<Result<T, Fail>> {
    let mut d = JsonLinesDecoder::new();
    if let Some(limit) = limit {
        d = d.with_max_item_bytes(limit);
    }
    let mut out = Vec::new();
    let mut drain = |d: &mut JsonLinesDecoder| {
        while let Some(r) = next(d) {
            out.push(r.map_err(|e| Fail::of(&e)));
        }
    };
    for chunk in chunks {
        d.feed(chunk);
        drain(&mut d);
    }
    d.finish();
    drain(&mut d);
    assert_eq!(d.items_seen(), out.len() as u64, "items_seen");
    out
}

/// `LineDecoder` and `JsonLinesDecoder`: results equal the line model of the contract for
/// the whole input and the chosen split, and joining the lines gives the input back.
///
/// Input (as `apify_core::fuzzing::lines`): two bytes choosing the split point, one byte of
/// line limit (for a second run), then the text.
pub fn lines_split(data: &[u8]) {
    let mut r = Reader(data);
    let (a, b, limit) = (r.byte(), r.byte(), usize::from(r.byte()));
    let doc = r.0;
    let splits = splits(doc, a, b);
    let model = model_lines(doc);

    // Joined with "\n", the lines are the input with "\r\n" turned into "\n" and one final
    // "\n" dropped; their number (one per "\n", plus a non-empty unterminated tail) removes
    // the ambiguity of the empty last line.
    for chunks in &splits {
        let lines = run_lines(chunks, None, LineDecoder::next_line_bytes, |d| d.finish_bytes().transpose());
        let lines: Vec<Bytes> = lines.into_iter().collect::<Result<_, _>>().expect("no line error without a limit");
        let mut expected = crlf_to_lf(doc);
        if expected.last() == Some(&b'\n') {
            expected.pop();
        }
        assert_eq!(lines.join(&b"\n"[..]), expected, "joined lines");
        let newlines = doc.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(lines.len(), newlines + usize::from(doc.last().is_some_and(|&b| b != b'\n')), "line count");
    }

    for limit in [16 * 1024 * 1024, limit] {
        // Per line: too long (content without terminator), not UTF-8 (1-based number), or text.
        let expected: Vec<Result<String, Fail>> = (model.iter().enumerate())
            .map(|(i, line)| {
                if line.bytes.len() > limit {
                    return Err(Fail::TooLarge(limit));
                }
                String::from_utf8(line.bytes.to_vec()).map_err(|_| Fail::Utf8(i as u64 + 1))
            })
            .collect();
        let lossy: Vec<String> = (model.iter().filter(|l| l.bytes.len() <= limit))
            .map(|l| String::from_utf8_lossy(l.bytes).into_owned())
            .collect();
        for chunks in &splits {
            let got = run_lines(chunks, Some(limit), LineDecoder::next_line, |d| d.finish().transpose());
            let got: Vec<Result<String, Fail>> = got.into_iter().map(|r| r.map_err(|e| Fail::of(&e))).collect();
            assert_eq!(got, expected, "lines with limit {limit}");
            assert_eq!(run_lines(chunks, Some(limit), LineDecoder::next_line_lossy, LineDecoder::finish_lossy), lossy);
        }

        let raw = run_jsonl(&splits[0], Some(limit), JsonLinesDecoder::next_raw);
        let items = run_jsonl(&splits[0], Some(limit), JsonLinesDecoder::next_item::<Value>);
        for chunks in &splits[1..] {
            assert_eq!(run_jsonl(chunks, Some(limit), JsonLinesDecoder::next_raw), raw, "JSONL split");
            assert_eq!(run_jsonl(chunks, Some(limit), JsonLinesDecoder::next_item::<Value>), items, "JSONL split");
        }
        check_jsonl(&model, limit, &raw, &items);
    }
}

/// JSON Lines against the line model: blank lines skipped, a BOM ignored at the start, each
/// other line one value, errors counted as items and never stopping the decoder.
fn check_jsonl(model: &[ModelLine<'_>], limit: usize, raw: &[Result<Bytes, Fail>], items: &[Result<Value, Fail>]) {
    assert_eq!(raw.len(), items.len(), "next_raw and next_item yield different numbers of events");
    let mut k = 0;
    for line in model {
        if line.bytes.len() > limit {
            assert_eq!(raw.get(k), Some(&Err(Fail::TooLarge(limit))), "line at {} is too long", line.offset);
            assert_eq!(items[k], Err(Fail::TooLarge(limit)));
            k += 1;
            continue;
        }
        let mut start = 0;
        if line.offset == 0 && line.bytes.starts_with(BOM) {
            start = BOM.len();
        }
        while start < line.bytes.len() && is_json_ws(line.bytes[start]) {
            start += 1;
        }
        let mut end = line.bytes.len();
        while end > start && is_json_ws(line.bytes[end - 1]) {
            end -= 1;
        }
        if start == end {
            continue;
        }
        let value = &line.bytes[start..end];
        let (Some(r), Some(item)) = (raw.get(k), items.get(k)) else {
            panic!("line at {} was not yielded", line.offset)
        };
        match (serde_json::from_slice::<Value>(value), r) {
            // What serde_json accepts, the decoder yields as it is.
            (Ok(v), r) => {
                assert!(matches!(r, Ok(b) if b == value), "line {value:?} gave {r:?}");
                assert_eq!(item, &Ok(v));
            }
            // Scalars and strings are checked by serde_json in `next_item` only.
            (Err(e), Ok(b)) => {
                assert!(b == value, "raw value {b:?} is not the trimmed line {value:?}");
                assert_eq!(item, &Err(Fail::Item(k as u64, e.to_string())));
            }
            // Structural errors point into the line, or at its end when it is cut short.
            (Err(_), Err(Fail::Malformed(offset, _))) => {
                let range = line.offset + start as u64..=line.offset + line.bytes.len() as u64;
                assert!(range.contains(offset), "offset {offset} outside {range:?}");
                assert_eq!(item.as_ref().err(), r.as_ref().err());
            }
            (Err(_), r) => panic!("line {value:?} gave {r:?}"),
        }
        k += 1;
    }
    assert_eq!(k, raw.len(), "more JSONL events than non-blank lines");
}
/// The log splitter: the chosen split of the input gives the messages of the whole; every
/// message is trimmed and non-empty; it has a timestamp exactly when it starts with a marker
/// at a line start; and there is one marked message per marker at a line start.
///
/// Input (as `apify_core::fuzzing::log_messages`): two bytes choosing the split point, then
/// the log.
pub fn log_messages_split(data: &[u8]) {
    use apify_core::stream::log::{LogSplitter, split_log};
    let mut r = Reader(data);
    let (a, b) = (r.byte(), r.byte());
    let doc = r.0;
    let whole = split_log(doc);
    for chunks in splits(doc, a, b) {
        let mut s = LogSplitter::new();
        let mut got = Vec::new();
        for c in chunks {
            s.feed(c);
            got.extend(std::iter::from_fn(|| s.next_message()));
        }
        s.finish();
        got.extend(std::iter::from_fn(|| s.next_message()));
        assert_eq!(got, whole, "messages depend on the split");
    }
    let is_marker = |b: &[u8]| {
        let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
        b.len() >= 24 && shape.iter().zip(b).all(|(s, c)| if *s == b'd' { c.is_ascii_digit() } else { s == c })
    };
    let markers = (0..doc.len()).filter(|&i| (i == 0 || doc[i - 1] == b'\n') && is_marker(&doc[i..])).count();
    assert_eq!(whole.iter().filter(|m| m.timestamp.is_some()).count(), markers, "one message per marker");
    for m in &whole {
        assert!(!m.text.is_empty() && m.text.trim() == m.text, "untrimmed message {:?}", m.text);
        if let Some(ts) = &m.timestamp {
            assert!(m.text.starts_with(ts.as_str()) && is_marker(ts.as_bytes()), "timestamp {ts:?} of {:?}", m.text);
        }
    }
}

/// On stable (`cargo test -p apify-fuzz`): every committed seed, cut at every point.
#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Runs `body` on each `seed-*` of `fuzz/corpus/<target>/` once per split point. Only the
    /// seeds: a local campaign leaves thousands of files there, too many to sweep this way.
    fn every_split(target: &str, head: usize, body: fn(&[u8])) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
        let mut seeds = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("corpus entry").path();
            if !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("seed-")) {
                continue;
            }
            let mut data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            data.resize(data.len().max(head), 0);
            seeds += 1;
            for at in 0..=data.len() - head {
                // The first two bytes pick the split point; `at` is below 65536, so they pick `at`.
                let [a, b] = u16::try_from(at).expect("a small seed").to_be_bytes();
                data[..2].copy_from_slice(&[a, b]);
                if std::panic::catch_unwind(|| body(&data)).is_err() {
                    panic!("{target} failed on {} cut at {at}: b\"{}\"", path.display(), data.escape_ascii());
                }
            }
        }
        assert!(seeds >= 10, "{} holds {seeds} seeds", dir.display());
    }

    #[test]
    fn json_array_split_seeds() {
        every_split("json_array", 3, super::json_array_split);
    }

    #[test]
    fn lines_split_seeds() {
        every_split("lines", 3, super::lines_split);
    }

    #[test]
    fn log_messages_split_seeds() {
        every_split("log_messages", 2, super::log_messages_split);
    }
}
