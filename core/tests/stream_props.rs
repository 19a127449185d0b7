//! Property tests for the stream decoders: agreement with serde_json on
//! generated documents, independence from chunking, and robustness on
//! arbitrary bytes.

use apify_core::stream::{JsonArrayDecoder, JsonLinesDecoder, LineDecoder, StreamError};
use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

// ---------------------------------------------------------------- helpers

/// Comparable summary of a decoding run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Ok,
    Malformed(u64, &'static str),
    Truncated(u64),
    Other(String),
}

fn end_of(e: &StreamError) -> End {
    match e {
        StreamError::Malformed { offset, expected } => End::Malformed(*offset, expected),
        StreamError::Truncated { offset } => End::Truncated(*offset),
        other => End::Other(other.to_string()),
    }
}

/// Cuts `input` at the given positions (any order, duplicates allowed).
fn cut<'a>(input: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut last = 0;
    for p in points {
        chunks.push(&input[last..p]);
        last = p;
    }
    chunks.push(&input[last..]);
    chunks
}

fn run_array(chunks: &[&[u8]]) -> (Vec<Bytes>, End) {
    let mut d = JsonArrayDecoder::new();
    let mut items = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(r) = d.next_raw() {
            match r {
                Ok(item) => items.push(item),
                Err(e) => return (items, end_of(&e)),
            }
        }
    }
    match d.finish() {
        Ok(()) => (items, End::Ok),
        Err(e) => (items, end_of(&e)),
    }
}

/// Independent recursive-descent check of what `next_raw` promises:
/// balanced, well-nested containers, `key: value` members, `,` separators,
/// terminated strings and scalar tokens made of `[0-9A-Za-z+.-]`.
struct Structure<'a> {
    b: &'a [u8],
    i: usize,
}

impl Structure<'_> {
    fn accepts(b: &[u8]) -> bool {
        let mut p = Structure { b, i: 0 };
        p.value() && p.i == b.len()
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> bool {
        self.ws();
        match self.peek() {
            Some(b'[') => {
                self.i += 1;
                if self.eat(b']') {
                    return true;
                }
                loop {
                    if !self.value() {
                        return false;
                    }
                    if self.eat(b']') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                if self.eat(b'}') {
                    return true;
                }
                loop {
                    self.ws();
                    if !(self.peek() == Some(b'"') && self.string() && self.eat(b':') && self.value()) {
                        return false;
                    }
                    if self.eat(b'}') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || b"+-.".contains(&c)) {
                    self.i += 1;
                }
                true
            }
            _ => false,
        }
    }

    fn string(&mut self) -> bool {
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => return true,
                b'\\' => self.i += 1,
                _ => {}
            }
        }
        false
    }
}

// ---------------------------------------------------------------- strategies

/// Strings heavy in JSON-special characters, plus arbitrary unicode.
fn json_string() -> impl Strategy<Value = String> {
    let special = prop_oneof![
        Just('"'),
        Just('\\'),
        Just(']'),
        Just('['),
        Just('{'),
        Just('}'),
        Just(','),
        Just(':'),
        Just('\n'),
        Just('\r'),
        Just('\u{0}'),
        Just('\u{1f}'),
        Just('\u{7f}'),
        Just('Ä'),
        Just('✓'),
        Just('😀'),
        Just('\u{FEFF}'),
        any::<char>(),
    ];
    prop_oneof![any::<String>(), proptest::collection::vec(special, 0..16).prop_map(|v| v.into_iter().collect()),]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        json_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((json_string(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Bytes biased towards JSON syntax, so arbitrary input often gets deep into
/// the state machine instead of failing at the first byte.
fn jsonish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => proptest::sample::select(b"[]{}\",:\\ \n\t\r0123456789-+.eEtrufalsn".to_vec()),
        1 => any::<u8>(),
    ];
    (any::<bool>(), proptest::collection::vec(byte, 0..200)).prop_map(|(open, mut bytes)| {
        if open {
            bytes.insert(0, b'[');
        }
        bytes
    })
}

fn cuts() -> impl Strategy<Value = Vec<Index>> {
    proptest::collection::vec(any::<Index>(), 0..12)
}

// ---------------------------------------------------------------- arrays

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Generated arrays, compact or pretty, decode to exactly serde_json's
    /// items however they are chunked.
    #[test]
    fn array_matches_serde(
        items in proptest::collection::vec(json_value(), 0..12),
        pretty in any::<bool>(),
        bom in any::<bool>(),
        cuts in cuts(),
        byte_by_byte in proptest::bool::weighted(0.1),
    ) {
        let array = Value::Array(items.clone());
        let body = if pretty { serde_json::to_vec_pretty(&array) } else { serde_json::to_vec(&array) }.unwrap();
        let expected: Vec<Value> = serde_json::from_slice(&body).unwrap();
        let mut doc = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
        doc.extend_from_slice(&body);
        let chunks = if byte_by_byte { doc.chunks(1).collect() } else { cut(&doc, &cuts) };

        let (raw, end) = run_array(&chunks);
        prop_assert_eq!(end, End::Ok);
        let parsed: Vec<Value> = raw.iter().map(|b| serde_json::from_slice(b).unwrap()).collect();
        prop_assert_eq!(&parsed, &expected);
        if !pretty {
            // Compact items are exactly serde_json's serialization of each element.
            for (raw, item) in raw.iter().zip(&items) {
                prop_assert_eq!(&raw[..], &serde_json::to_vec(item).unwrap()[..]);
            }
        }

        // Typed path.
        let mut d = JsonArrayDecoder::new();
        let mut typed = Vec::new();
        for chunk in &chunks {
            d.feed(chunk);
            while let Some(item) = d.next_item::<Value>() {
                typed.push(item.unwrap());
            }
        }
        d.finish().unwrap();
        prop_assert_eq!(d.items_seen(), expected.len() as u64);
        prop_assert_eq!(typed, expected);
    }

    /// A top-level object is a one-element list.
    #[test]
    fn top_level_object_is_one_item(
        members in proptest::collection::vec((json_string(), json_value()), 0..6),
        pretty in any::<bool>(),
        cuts in cuts(),
    ) {
        let object = Value::Object(members.into_iter().collect());
        let doc = if pretty { serde_json::to_vec_pretty(&object) } else { serde_json::to_vec(&object) }.unwrap();
        let (raw, end) = run_array(&cut(&doc, &cuts));
        prop_assert_eq!(end, End::Ok);
        prop_assert_eq!(raw.len(), 1);
        prop_assert_eq!(&raw[0][..], &doc[..]);
    }

    /// Arbitrary input never panics, is chunking-independent, and every item
    /// `next_raw` returns is structurally well-formed.
    #[test]
    fn arbitrary_input_is_handled(input in jsonish_bytes(), cuts in cuts()) {
        let (whole_raw, whole_end) = run_array(&[&input]);
        let (raw, end) = run_array(&cut(&input, &cuts));
        prop_assert_eq!(&raw, &whole_raw);
        prop_assert_eq!(&end, &whole_end);
        for item in &raw {
            prop_assert!(Structure::accepts(item), "not structural: {:?}", String::from_utf8_lossy(item));
        }
        match end {
            End::Malformed(offset, _) => prop_assert!(offset < input.len() as u64),
            End::Truncated(offset) => prop_assert_eq!(offset, input.len() as u64),
            End::Ok | End::Other(_) => {}
        }
    }

    /// On near-valid documents (one byte changed, inserted or removed) the
    /// decoder accepts exactly what serde_json accepts as an array or object.
    #[test]
    fn agrees_with_serde_on_mutations(
        items in proptest::collection::vec(json_value(), 0..6),
        pretty in any::<bool>(),
        at in any::<Index>(),
        op in 0..3u8,
        byte in proptest::sample::select(b"[]{}\",:\\ 0-.etx\xFF".to_vec()),
        cuts in cuts(),
    ) {
        let array = Value::Array(items);
        let mut doc = if pretty { serde_json::to_vec_pretty(&array) } else { serde_json::to_vec(&array) }.unwrap();
        let i = at.index(doc.len());
        match op {
            0 => doc[i] = byte,
            1 => doc.insert(i, byte),
            _ => { doc.remove(i); }
        }
        let serde_items = match serde_json::from_slice::<Value>(&doc) {
            Ok(Value::Array(items)) => Some(items),
            Ok(object @ Value::Object(_)) => Some(vec![object]),
            _ => None,
        };
        let mut d = JsonArrayDecoder::new();
        let mut ours = Some(Vec::new());
        for chunk in cut(&doc, &cuts) {
            d.feed(chunk);
            while let Some(item) = d.next_item::<Value>() {
                match (item, ours.as_mut()) {
                    (Ok(v), Some(list)) => list.push(v),
                    _ => ours = None,
                }
            }
        }
        if d.finish().is_err() {
            ours = None;
        }
        prop_assert_eq!(ours, serde_items, "{}", String::from_utf8_lossy(&doc));
    }
}

// ---------------------------------------------------------------- lines

fn reference_lines(input: &[u8]) -> Vec<Result<String, u64>> {
    let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let tail = parts.pop().unwrap_or_default();
    let mut out = Vec::new();
    for (n, line) in parts.into_iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.push(String::from_utf8(line.to_vec()).map_err(|_| n as u64 + 1));
    }
    if !tail.is_empty() {
        let n = out.len() as u64 + 1;
        out.push(String::from_utf8(tail.to_vec()).map_err(|_| n));
    }
    out
}

fn run_lines(chunks: &[&[u8]]) -> Vec<Result<String, u64>> {
    let mut d = LineDecoder::new();
    let mut out = Vec::new();
    let line_no = |e: StreamError| match e {
        StreamError::InvalidUtf8 { line } => line,
        other => panic!("unexpected {other:?}"),
    };
    for chunk in chunks {
        d.feed(chunk);
        while let Some(r) = d.next_line() {
            out.push(r.map_err(line_no));
        }
    }
    if let Some(r) = d.finish().transpose() {
        out.push(r.map_err(line_no));
    }
    out
}

/// Bytes biased towards line terminators and (possibly broken) UTF-8.
fn textish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => proptest::sample::select(vec![&b"\n"[..], b"\r", b"\r\n", b"a", b" ", "Ä".as_bytes(), "✓".as_bytes(), "😀".as_bytes()])
            .prop_map(<[u8]>::to_vec),
        1 => any::<u8>().prop_map(|b| vec![b]),
        1 => any::<String>().prop_map(String::into_bytes),
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes split arbitrarily give the same lines as the whole
    /// input split once.
    #[test]
    fn lines_are_split_independent(input in textish_bytes(), cuts in cuts()) {
        let expected = reference_lines(&input);
        prop_assert_eq!(run_lines(&[&input]), expected.clone());
        prop_assert_eq!(run_lines(&cut(&input, &cuts)), expected);
    }

    /// Lossy decoding agrees with `String::from_utf8_lossy` per line.
    #[test]
    fn lossy_lines_are_split_independent(input in textish_bytes(), cuts in cuts()) {
        let mut d = LineDecoder::new();
        let mut out = Vec::new();
        for chunk in cut(&input, &cuts) {
            d.feed(chunk);
            while let Some(line) = d.next_line_lossy() {
                out.push(line);
            }
        }
        out.extend(d.finish_lossy());
        let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let tail = parts.pop().unwrap_or_default();
        let mut expected: Vec<String> = parts
            .into_iter()
            .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
            .collect();
        if !tail.is_empty() {
            expected.push(String::from_utf8_lossy(tail).into_owned());
        }
        prop_assert_eq!(out, expected);
    }

    /// A line limit gives the same outcome however the input is chunked.
    #[test]
    fn line_limit_is_split_independent(input in textish_bytes(), limit in 0usize..12, cuts in cuts()) {
        let run = |chunks: &[&[u8]]| {
            let mut d = LineDecoder::new().with_max_line_bytes(limit);
            let mut out = Vec::new();
            for chunk in chunks {
                d.feed(chunk);
                while let Some(r) = d.next_line_bytes() {
                    out.push(r.map_err(|e| e.to_string()));
                }
                prop_assert!(d.buffered_len() <= limit + 1 + chunk.len());
            }
            out.extend(d.finish_bytes().map_err(|e| e.to_string()).transpose());
            Ok(out)
        };
        let whole = run(&[&input])?;
        prop_assert_eq!(run(&cut(&input, &cuts))?, whole.clone());
        // Compare with the unlimited reference: short lines pass, long ones fail.
        let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let tail = parts.pop().unwrap_or_default();
        let mut lines: Vec<&[u8]> = parts.into_iter().map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
        if !tail.is_empty() {
            lines.push(tail);
        }
        prop_assert_eq!(whole.len(), lines.len());
        for (got, line) in whole.iter().zip(lines) {
            match got {
                Ok(bytes) => prop_assert_eq!(&bytes[..], line),
                Err(_) => prop_assert!(line.len() > limit),
            }
        }
    }
}

// ---------------------------------------------------------------- JSONL

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Generated JSON Lines (with `\r\n`, blank lines and an optional final
    /// newline) decode to exactly the generated values.
    #[test]
    fn jsonl_matches_serde(
        lines in proptest::collection::vec((json_value(), any::<bool>(), 0..3usize), 0..10),
        final_newline in any::<bool>(),
        cuts in cuts(),
    ) {
        let mut doc = Vec::new();
        for (value, crlf, blanks) in &lines {
            doc.extend_from_slice(&serde_json::to_vec(value).unwrap());
            doc.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
            for _ in 0..*blanks {
                doc.extend_from_slice(b"  \n");
            }
        }
        if !final_newline {
            while doc.last().is_some_and(u8::is_ascii_whitespace) {
                doc.pop();
            }
        }
        let mut d = JsonLinesDecoder::new();
        let mut got = Vec::new();
        for chunk in cut(&doc, &cuts) {
            d.feed(chunk);
            while let Some(item) = d.next_item::<Value>() {
                got.push(item.unwrap());
            }
        }
        d.finish();
        while let Some(item) = d.next_item::<Value>() {
            got.push(item.unwrap());
        }
        let expected: Vec<Value> = lines
            .iter()
            .map(|(v, _, _)| serde_json::from_slice(&serde_json::to_vec(v).unwrap()).unwrap())
            .collect();
        prop_assert_eq!(got, expected);
    }

    /// Arbitrary input never panics and is chunking-independent.
    #[test]
    fn jsonl_arbitrary_input(input in jsonish_bytes(), cuts in cuts()) {
        let run = |chunks: &[&[u8]]| {
            let mut d = JsonLinesDecoder::new();
            let mut out = Vec::new();
            for chunk in chunks {
                d.feed(chunk);
                while let Some(r) = d.next_raw() {
                    out.push(r.map_err(|e| end_of(&e)));
                }
            }
            d.finish();
            while let Some(r) = d.next_raw() {
                out.push(r.map_err(|e| end_of(&e)));
            }
            out
        };
        let whole = run(&[&input]);
        for item in whole.iter().flatten() {
            prop_assert!(Structure::accepts(item));
        }
        prop_assert_eq!(run(&cut(&input, &cuts)), whole);
    }
}
