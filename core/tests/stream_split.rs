//! The stream decoders must produce the same output however the input is
//! split into chunks: at every byte position, byte by byte, and in three
//! pieces. Also checks that memory stays bounded on a large stream.

use apify_core::stream::{JsonArrayDecoder, JsonLinesDecoder, LineDecoder, StreamError};
use bytes::Bytes;
use serde_json::Value;

/// Comparable summary of a [`StreamError`] (the real type holds a
/// non-`PartialEq` serde_json error).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Err {
    Malformed(u64, &'static str),
    Truncated(u64),
    TooLarge(usize),
    Utf8(u64),
    Item(u64),
}

fn key(e: &StreamError) -> Err {
    match e {
        StreamError::Malformed { offset, expected } => Err::Malformed(*offset, expected),
        StreamError::Truncated { offset } => Err::Truncated(*offset),
        StreamError::TooLarge { limit } => Err::TooLarge(*limit),
        StreamError::InvalidUtf8 { line } => Err::Utf8(*line),
        StreamError::Item { index, .. } => Err::Item(*index),
        other => panic!("unexpected error variant {other:?}"),
    }
}

/// Every way of cutting `input` this suite checks: whole, in two at every
/// position, byte by byte, and in three at every pair of positions (for
/// short inputs, to keep the suite fast).
fn splits(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let n = input.len();
    let mut out = vec![vec![input], input.chunks(1).collect()];
    for i in 0..=n {
        out.push(vec![&input[..i], &input[i..]]);
    }
    if n <= 160 {
        for i in 1..n {
            for j in i + 1..n {
                out.push(vec![&input[..i], &input[i..j], &input[j..]]);
            }
        }
    }
    out
}

// ---------------------------------------------------------------- arrays

/// Items (raw bytes) and the final result of decoding `chunks`; stops at
/// the first error.
fn run_array(chunks: &[&[u8]], limit: Option<usize>) -> (Vec<Bytes>, Result<(), Err>) {
    let mut d = JsonArrayDecoder::new();
    if let Some(limit) = limit {
        d = d.with_max_item_bytes(limit);
    }
    let mut items = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(r) = d.next_raw() {
            match r {
                Ok(item) => items.push(item),
                Err(e) => return (items, Err(key(&e))),
            }
        }
    }
    let end = d.finish().map_err(|e| key(&e));
    if end.is_ok() {
        assert_eq!(d.items_seen(), items.len() as u64);
    }
    (items, end)
}

/// Same through `next_item::<Value>`.
fn run_array_values(chunks: &[&[u8]]) -> Vec<Value> {
    let mut d = JsonArrayDecoder::new();
    let mut items = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(r) = d.next_item::<Value>() {
            items.push(r.expect("valid item"));
        }
    }
    d.finish().expect("complete document");
    items
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn valid_docs() -> Vec<Vec<u8>> {
    let pretty = serde_json::to_vec_pretty(&serde_json::json!([
        {"id": 1, "text": "line\nbreak \"quoted\" ]}", "tags": ["a", "b"], "n": null},
        [1.25, -3, {"deep": [[{"x": "✓"}]]}],
        "😀",
        false
    ]))
    .unwrap();
    let mut docs: Vec<Vec<u8>> = [
        &br#"[{"a":{"b":[1,2,{"c":[]}]},"d":[[[]]]}]"#[..],
        br#"["]", ",", "{", "}", "[", "\"", "\\", "\\\"", "a\\\\\"]\"b", "", ":"]"#,
        "[\"Ä unicode ✓\", \"emoji 😀🎉\", {\"ключ\": \"значение ✓\"}, \"\\u00e9\\ud83d\\ude00\"]".as_bytes(),
        b"[-1.5e+10, 0, -0, 1E5, 3.25, 12345678901234567890, -9223372036854775808, 1e-7, 0.5E-3]",
        b"\xEF\xBB\xBF[1, 2]",
        b" \n\t\r [ \n 1 \n , \r\n\t\"x\" , \n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \n ] \n\t ",
        br#"{"top": "level", "nested": {"arr": [1, "]"]}, "s": "}"}"#,
        b"[]",
        b" [ \n ] \n",
        b"\xEF\xBB\xBF{}",
        b"\xEF\xBB\xBF \r\n{ \"k\" : \"v\" } \n",
        b"[true,false,null,[true],{\"n\":null}]",
        b"[[],{},\"\",[[]],[{}],[[],[]]]",
        b"[\"\\\\\",\"\\\\\\\\\",\"\\\"\\\"\",\"x\\\\\"]",
        b"[1,\"a\",[2],{\"b\":3}]",
    ]
    .iter()
    .map(|d| d.to_vec())
    .collect();
    docs.push(pretty);
    docs
}

/// What serde_json makes of a whole valid document (BOM stripped, a
/// top-level object wrapped as a one-element list).
fn expected_items(doc: &[u8]) -> Vec<Value> {
    let doc = doc.strip_prefix(BOM).unwrap_or(doc);
    match serde_json::from_slice::<Value>(doc).unwrap() {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        other => panic!("not a valid test document: {other}"),
    }
}

#[test]
fn array_items_match_serde_at_every_split() {
    for doc in valid_docs() {
        let expected = expected_items(&doc);
        let (whole_raw, end) = run_array(&[&doc], None);
        assert_eq!(end, Ok(()), "{}", String::from_utf8_lossy(&doc));
        let parsed: Vec<Value> = whole_raw.iter().map(|b| serde_json::from_slice(b).unwrap()).collect();
        assert_eq!(parsed, expected, "{}", String::from_utf8_lossy(&doc));
        for raw in &whole_raw {
            // Trimmed: no surrounding whitespace.
            assert!(!raw.first().unwrap().is_ascii_whitespace());
            assert!(!raw.last().unwrap().is_ascii_whitespace());
        }
        for chunks in splits(&doc) {
            let (raw, end) = run_array(&chunks, None);
            assert_eq!(end, Ok(()), "chunks {chunks:?}");
            assert_eq!(raw, whole_raw, "chunks {chunks:?}");
        }
        for i in 0..=doc.len() {
            assert_eq!(run_array_values(&[&doc[..i], &doc[i..]]), expected);
        }
    }
}

#[test]
fn every_prefix_is_truncated_or_complete() {
    for doc in valid_docs() {
        let expected = expected_items(&doc);
        let (_, full_end) = run_array(&[&doc], None);
        assert_eq!(full_end, Ok(()));
        // Where the document proper ends: everything after is whitespace.
        let trimmed_len = doc.len() - doc.iter().rev().take_while(|b| b.is_ascii_whitespace()).count();
        for len in 0..doc.len() {
            let prefix = &doc[..len];
            let (raw, end) = run_array(&[prefix], None);
            let parsed: Vec<Value> = raw.iter().map(|b| serde_json::from_slice(b).unwrap()).collect();
            assert_eq!(parsed[..], expected[..parsed.len()], "prefix {len}");
            if len >= trimmed_len {
                assert_eq!(end, Ok(()), "prefix {len}");
            } else {
                assert_eq!(end, Err(Err::Truncated(len as u64)), "prefix {len} of {}", String::from_utf8_lossy(&doc));
            }
        }
    }
}

#[test]
fn malformed_errors_are_split_independent() {
    let cases: &[(&[u8], Err)] = &[
        (b"]", Err::Malformed(0, "expected '[' or '{'")),
        (b"\"str\"", Err::Malformed(0, "expected '[' or '{'")),
        (b"  42", Err::Malformed(2, "expected '[' or '{'")),
        (b"[1 2]", Err::Malformed(3, "expected ',' or ']'")),
        (b"[1,]", Err::Malformed(3, "expected JSON value")),
        (b"[,1]", Err::Malformed(1, "expected JSON value or ']'")),
        (b"[1,,2]", Err::Malformed(3, "expected JSON value")),
        (b"[1]]", Err::Malformed(3, "expected end of input")),
        (b"[1] [2]", Err::Malformed(4, "expected end of input")),
        (b"{} x", Err::Malformed(3, "expected end of input")),
        (b"[1}", Err::Malformed(2, "expected ',' or ']'")),
        (b"[{]", Err::Malformed(2, "expected string key or '}'")),
        (b"[{\"a\":1]]", Err::Malformed(7, "expected ',' or '}'")),
        (b"[\"abc\" \"d\"]", Err::Malformed(7, "expected ',' or ']'")),
        (b"[{\"a\" 1}]", Err::Malformed(6, "expected ':'")),
        (b"[{\"a\":1,}]", Err::Malformed(8, "expected string key")),
        (b"[{1:2}]", Err::Malformed(2, "expected string key or '}'")),
        (b"[\"a\":1]", Err::Malformed(4, "expected ',' or ']'")),
        (b"[\"x \\\"]\" ]]", Err::Malformed(10, "expected end of input")),
        (b"[[[[]]]]]", Err::Malformed(8, "expected end of input")),
        (b"[1, @]", Err::Malformed(4, "expected JSON value")),
        (b"\xEF\xBB[]", Err::Malformed(2, "expected UTF-8 byte order mark")),
        (b"\xEF[]", Err::Malformed(1, "expected UTF-8 byte order mark")),
        (b" \xEF\xBB\xBF[]", Err::Malformed(1, "expected '[' or '{'")),
        (b"\xEF\xBB\xBF\xEF\xBB\xBF[]", Err::Malformed(3, "expected '[' or '{'")),
        (b"[\"unterminated]", Err::Truncated(15)),
        (b"[[1,2]", Err::Truncated(6)),
        (b"{\"a\":[1,2]", Err::Truncated(10)),
        (b"", Err::Truncated(0)),
        (b" \n ", Err::Truncated(3)),
    ];
    for (input, expected) in cases {
        let (whole_items, whole) = run_array(&[input], None);
        assert_eq!(whole, Err(expected.clone()), "{}", String::from_utf8_lossy(input));
        for chunks in splits(input) {
            let (items, end) = run_array(&chunks, None);
            assert_eq!(end, Err(expected.clone()), "chunks {chunks:?}");
            assert_eq!(items, whole_items, "chunks {chunks:?}");
        }
    }
}

#[test]
fn too_large_is_split_independent() {
    let doc = br#"[ "1234567", {"a":[1,2]}, "12345678", 1 ]"#;
    // Items: 9, 11, 10 bytes. A limit of 10 stops at the object.
    for (limit, expected_items, expected_end) in
        [(11, 4, Ok(())), (10, 1, Err(Err::TooLarge(10))), (9, 1, Err(Err::TooLarge(9))), (8, 0, Err(Err::TooLarge(8)))]
    {
        for chunks in splits(doc) {
            let (items, end) = run_array(&chunks, Some(limit));
            assert_eq!((items.len(), &end), (expected_items, &expected_end), "limit {limit} {chunks:?}");
        }
    }
    // A syntax error beyond the limit inside an oversized item is never
    // reached: the item is rejected as too large as soon as it exceeds the
    // limit, so the outcome does not depend on how much input is buffered.
    let doc = b"[[1,2,3,4,5,,6]]";
    for chunks in splits(doc) {
        assert_eq!(run_array(&chunks, Some(8)), (vec![], Err(Err::TooLarge(8))), "{chunks:?}");
        assert_eq!(
            run_array(&chunks, Some(13)),
            (vec![], Err(Err::Malformed(12, "expected JSON value"))),
            "{chunks:?}"
        );
    }
}

// ---------------------------------------------------------------- lines

/// Reference splitter: split the whole input on `\n`, strip one `\r`
/// before it, keep a non-empty unterminated tail.
fn reference_lines(input: &[u8]) -> Vec<Result<String, Err>> {
    let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let tail = parts.pop().unwrap();
    let mut out = Vec::new();
    for (n, line) in parts.into_iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.push(String::from_utf8(line.to_vec()).map_err(|_| Err::Utf8(n as u64 + 1)));
    }
    if !tail.is_empty() {
        let n = out.len() as u64 + 1;
        out.push(String::from_utf8(tail.to_vec()).map_err(|_| Err::Utf8(n)));
    }
    out
}

fn run_lines(chunks: &[&[u8]], limit: Option<usize>) -> Vec<Result<String, Err>> {
    let mut d = LineDecoder::new();
    if let Some(limit) = limit {
        d = d.with_max_line_bytes(limit);
    }
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(r) = d.next_line() {
            out.push(r.map_err(|e| key(&e)));
        }
    }
    if let Some(r) = d.finish().transpose() {
        out.push(r.map_err(|e| key(&e)));
    }
    assert_eq!(d.lines_seen(), out.len() as u64);
    out
}

fn line_docs() -> Vec<&'static [u8]> {
    vec![
        "Ä unicode ✓\r\nemoji 😀🎉\n\n\r\nlast line ✓".as_bytes(),
        "2024-01-01T00:00:00.000Z ACTOR: Starting ✓\r\n2024-01-01T00:00:01.000Z Ünïcödé 🦀\r\n".as_bytes(),
        b"bad \xFF byte\ncut \xE2\x9C\nok\r\n\xF0\x9F\x98",
        b"lone\rcr\r\r\n\r\r\n\rend\r",
        b"\n\n\n",
        b"",
        b"no newline at all \xC3\x84",
    ]
}

#[test]
fn lines_match_reference_at_every_split() {
    for doc in line_docs() {
        let expected = reference_lines(doc);
        assert_eq!(run_lines(&[doc], None), expected, "{}", String::from_utf8_lossy(doc));
        for chunks in splits(doc) {
            assert_eq!(run_lines(&chunks, None), expected, "chunks {chunks:?}");
        }
    }
}

#[test]
fn crlf_split_between_cr_and_lf() {
    let out = run_lines(&[b"one\r", b"\ntwo\r", b"\n\r", b"\n"], None);
    assert_eq!(out, [Ok("one".to_owned()), Ok("two".to_owned()), Ok(String::new())]);
}

#[test]
fn every_multibyte_char_split_at_every_byte() {
    for ch in ['Ä', '✓', '😀', '€', 'ж'] {
        let doc = format!("a{ch}b\n{ch}\n{ch}{ch}");
        let bytes = doc.as_bytes();
        for chunks in splits(bytes) {
            let out = run_lines(&chunks, None);
            let expected = [format!("a{ch}b"), ch.to_string(), format!("{ch}{ch}")];
            assert_eq!(out, expected.map(Ok), "chunks {chunks:?}");
        }
    }
}

#[test]
fn line_limit_is_split_independent() {
    // "wxyz\r\n" is exactly at the limit once its terminator is removed,
    // even when a chunk ends right after the '\r'.
    let doc = "abcd\nabcde\nab\r\nabc\r\nwxyz\r\n✓✓\nabcdef".as_bytes();
    let expected = run_lines(&[doc], Some(4));
    assert_eq!(
        expected,
        [
            Ok("abcd".to_owned()),
            Err(Err::TooLarge(4)),
            Ok("ab".to_owned()),
            Ok("abc".to_owned()),
            Ok("wxyz".to_owned()),
            Err(Err::TooLarge(4)),
            Err(Err::TooLarge(4)),
        ]
    );
    for chunks in splits(doc) {
        assert_eq!(run_lines(&chunks, Some(4)), expected, "chunks {chunks:?}");
    }
}

// ---------------------------------------------------------------- JSONL

fn run_jsonl(chunks: &[&[u8]]) -> Vec<Result<Bytes, Err>> {
    let mut d = JsonLinesDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(r) = d.next_raw() {
            out.push(r.map_err(|e| key(&e)));
        }
    }
    d.finish();
    while let Some(r) = d.next_raw() {
        out.push(r.map_err(|e| key(&e)));
    }
    assert_eq!(d.items_seen(), out.len() as u64);
    out
}

#[test]
fn jsonl_is_split_independent() {
    let doc =
        "\u{FEFF}{\"a\":\"Ä ✓ 😀\"}\r\n\n  \n[1,\"]\\\"\"]\n\"x\" 2\n{\"open\":[\n-1.5e+10\r\n{\"k\":{}}".as_bytes();
    let expected = vec![
        Ok(Bytes::from("{\"a\":\"Ä ✓ 😀\"}")),
        Ok(Bytes::from_static(b"[1,\"]\\\"\"]")),
        Err(Err::Malformed(42, "expected end of line")),
        Err(Err::Malformed(53, "expected JSON value or ']'")),
        Ok(Bytes::from_static(b"-1.5e+10")),
        Ok(Bytes::from_static(b"{\"k\":{}}")),
    ];
    assert_eq!(run_jsonl(&[doc]), expected);
    for chunks in splits(doc) {
        assert_eq!(run_jsonl(&chunks), expected, "chunks {chunks:?}");
    }
    // Values agree with serde_json line by line.
    let values: Vec<Value> =
        expected.iter().filter_map(|r| r.as_ref().ok()).map(|b| serde_json::from_slice(b).unwrap()).collect();
    assert_eq!(values[3], serde_json::json!({"k": {}}));
}

// ---------------------------------------------------------------- memory

/// Size of each chunk fed, like a network read.
const CHUNK: usize = 64 * 1024;
/// Generous bound on the decoder's buffer: a couple of chunks.
const MAX_BUFFER: usize = 4 * CHUNK;

fn stream_target() -> usize {
    if cfg!(debug_assertions) { 10 << 20 } else { 50 << 20 }
}

#[derive(serde::Deserialize)]
struct Row {
    id: u64,
    name: String,
}

/// Writes the JSON for row `id` (no allocation per row beyond `out`).
fn write_row(out: &mut Vec<u8>, id: u64) {
    use std::io::Write;
    write!(out, r#"{{"id":{id},"name":"row \"{id}\" ✓","tags":["a","]"],"ok":true}}"#).unwrap();
}

#[test]
fn array_memory_is_bounded() {
    let target = stream_target();
    let mut d = JsonArrayDecoder::new();
    let mut pending = b"\xEF\xBB\xBF[\n".to_vec();
    let (mut produced, mut decoded, mut fed) = (0u64, 0u64, 0usize);
    let mut max_capacity = 0;
    let mut check = |d: &mut JsonArrayDecoder, decoded: &mut u64| {
        while let Some(row) = d.next_item::<Row>() {
            let row = row.unwrap();
            assert_eq!(row.id, *decoded);
            if row.id % 1000 == 0 {
                assert_eq!(row.name, format!("row \"{}\" ✓", row.id));
            }
            *decoded += 1;
        }
        // Nothing but (part of) one row stays buffered.
        assert!(d.buffered_len() < 100, "{}", d.buffered_len());
        max_capacity = max_capacity.max(d.buffer_capacity());
    };
    while fed < target {
        while pending.len() < CHUNK {
            if produced > 0 {
                pending.extend_from_slice(b",\n  ");
            }
            write_row(&mut pending, produced);
            produced += 1;
        }
        // Fixed-size chunks, so rows straddle chunk boundaries.
        d.feed(&pending[..CHUNK]);
        pending.drain(..CHUNK);
        fed += CHUNK;
        check(&mut d, &mut decoded);
    }
    pending.extend_from_slice(b"\n]\n");
    d.feed(&pending);
    check(&mut d, &mut decoded);
    d.finish().unwrap();
    assert_eq!(decoded, produced);
    assert_eq!(d.items_seen(), produced);
    assert!(max_capacity <= MAX_BUFFER, "buffer grew to {max_capacity} bytes");
}

#[test]
fn jsonl_memory_is_bounded() {
    let target = stream_target() / 2;
    let mut d = JsonLinesDecoder::new();
    let mut pending = Vec::new();
    let (mut produced, mut decoded, mut fed) = (0u64, 0u64, 0usize);
    let mut max_capacity = 0;
    while fed < target {
        while pending.len() < CHUNK {
            write_row(&mut pending, produced);
            pending.extend_from_slice(b"\r\n");
            produced += 1;
        }
        d.feed(&pending[..CHUNK]);
        pending.drain(..CHUNK);
        fed += CHUNK;
        while let Some(row) = d.next_item::<Row>() {
            assert_eq!(row.unwrap().id, decoded);
            decoded += 1;
        }
        assert!(d.buffered_len() < 100, "{}", d.buffered_len());
        max_capacity = max_capacity.max(d.buffer_capacity());
    }
    // The last row without its line terminator.
    pending.truncate(pending.len() - 2);
    d.feed(&pending);
    d.finish();
    while let Some(row) = d.next_item::<Row>() {
        assert_eq!(row.unwrap().id, decoded);
        decoded += 1;
    }
    assert_eq!(decoded, produced);
    assert!(max_capacity <= MAX_BUFFER, "buffer grew to {max_capacity} bytes");
}
