//! Differential tests of `format::pyjson` and `format::timestamp` against the real CPython.
//!
//! Each test generates many inputs with a seeded generator, hands them all to ONE `python3`
//! subprocess, and compares our output with CPython's byte for byte. `python3` must be on `PATH`;
//! without it these tests fail rather than pass silently. Set `FORMAT_DIFF_SEED` to vary the inputs.

use std::io::Write as _;
use std::process::{Command, Stdio};

use apify_local::format::{pyjson, timestamp};
use serde_json::{Map, Number, Value, json};
use time::{Duration, OffsetDateTime, UtcOffset};

// ---------------------------------------------------------------------------------------------------
// Harness

/// Runs `script` in one CPython process with `input` on stdin and returns its stdout.
fn run_python(script: &str, input: &[u8]) -> Vec<u8> {
    let mut child = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!(
            "cannot run `python3` ({e}): these differential tests need CPython 3 on PATH; \
             install it rather than skipping the tests"
        ),
    };
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // Write from another thread so that a large output cannot deadlock against a large input.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("waiting for python3");
    writer.join().expect("stdin writer thread").expect("writing python3 stdin");
    assert!(
        output.status.success(),
        "python3 failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Runs `script`, which must print a JSON array of strings (ASCII-escaped, so the pipe's encoding
/// cannot matter), one per input.
fn python_strings(script: &str, input: &Value, expected_len: usize) -> Vec<String> {
    let stdout = run_python(script, &serde_json::to_vec(input).expect("serialising the input"));
    let strings: Vec<String> = serde_json::from_slice(&stdout)
        .unwrap_or_else(|e| panic!("bad python3 output ({e}): {}", String::from_utf8_lossy(&stdout)));
    assert_eq!(strings.len(), expected_len, "python3 returned a different number of results");
    strings
}

/// Asserts that no case mismatched, listing the first few that did.
fn assert_all_equal(what: &str, seed: u64, mismatches: &[String], total: usize) {
    assert!(
        mismatches.is_empty(),
        "{what}: {} of {total} cases differ from CPython (seed {seed:#x}); first ones:\n{}",
        mismatches.len(),
        mismatches.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// xorshift64*: tiny, seeded and reproducible.
struct Rng(u64);

impl Rng {
    fn new(default_seed: u64) -> (Self, u64) {
        let seed = std::env::var("FORMAT_DIFF_SEED")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map_or(default_seed, |s| s ^ default_seed);
        (Self(seed | 1), seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------------------------------
// Generators

/// Characters that stress the string escaper.
const SPECIAL_CHARS: &[char] = &[
    '"',
    '\\',
    '/',
    '\u{7f}',
    '\u{80}',
    '\u{9f}',
    '\u{a0}',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{fffd}',
    '\u{ffff}',
    '\u{e000}',
    'Ä',
    'ü',
    '✓',
    '𝄞',
    '😀',
    '\u{10ffff}',
    '\u{10000}',
    'u',
    '0',
    ' ',
];

fn gen_char(rng: &mut Rng) -> char {
    match rng.below(10) {
        // Every control character.
        0..=2 => char::from(rng.below(0x20) as u8),
        3..=5 => rng.pick(SPECIAL_CHARS),
        6 | 7 => char::from(rng.range(0x20, 0x7e) as u8),
        // Any scalar value (surrogates excluded by `from_u32`).
        _ => loop {
            if let Some(c) = char::from_u32(rng.below(0x11_0000) as u32) {
                break c;
            }
        },
    }
}

fn gen_string(rng: &mut Rng) -> String {
    let len = rng.below(12);
    (0..len).map(|_| gen_char(rng)).collect()
}

fn gen_int(rng: &mut Rng) -> Value {
    const SPECIAL: &[i128] = &[
        0,
        1,
        -1,
        i64::MIN as i128,
        i64::MAX as i128,
        i64::MAX as i128 + 1,
        u64::MAX as i128,
        1 << 53,
        (1 << 53) + 1,
        -(1 << 53) - 1,
        10_000_000_000_000_000,
    ];
    match rng.below(4) {
        0 => {
            let n = rng.pick(SPECIAL);
            u64::try_from(n).map_or_else(|_| json!(n as i64), |u| json!(u))
        }
        1 => json!(rng.next()),
        2 => json!(rng.next() as i64),
        _ => json!(rng.range(-1000, 1000)),
    }
}

/// Floats around every switch point of repr's layout, at the edges of the range, and common values.
fn special_floats() -> Vec<f64> {
    let mut values = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        0.1,
        0.2,
        0.1 + 0.2,
        1.0 / 3.0,
        2.0 / 3.0,
        100.0,
        123.456,
        1e-4,
        1e-5,
        9.999_999_999_999_999e-5,
        1.5e-5,
        2.5e-7,
        1e15,
        1e16,
        1.5e16,
        9_999_999_999_999_998.0,
        9_007_199_254_740_993.0,
        1.234_567_890_123_456_8e17,
        1e21,
        1e22,
        1e23,
        5e-324,
        -5e-324,
        2.225_073_858_507_201e-308,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        std::f64::consts::PI,
        std::f64::consts::E,
    ];
    // Powers of ten and their neighbours, positive and negative.
    for exp in -330..=310 {
        let p: f64 = format!("1e{exp}").parse().expect("a float literal");
        if p.is_finite() && p != 0.0 {
            for delta in -2i64..=2 {
                let f = f64::from_bits((p.to_bits() as i64 + delta) as u64);
                values.push(f);
                values.push(-f);
            }
        }
    }
    // Powers of two: the asymmetric rounding intervals.
    for exp in -1074..=1023 {
        values.push(2f64.powi(exp));
    }
    values.retain(|f| f.is_finite());
    values
}

/// An arbitrary finite bit pattern, a short binary mantissa, or a short decimal at any magnitude.
fn gen_float(rng: &mut Rng) -> f64 {
    loop {
        let f = match rng.below(4) {
            0 => f64::from_bits(rng.next()),
            // A short odd binary mantissa: the exact decimal value is often halfway between two
            // shortest candidates, where CPython rounds to even.
            1 => {
                let power = f64::from_bits(((rng.range(-1022, 1023) + 1023) as u64) << 52);
                (rng.below(1 << 20) | 1) as f64 * power
            }
            2 => {
                let digits = rng.range(1, 17) as u32;
                let mantissa = rng.below(10u64.pow(digits));
                let exp = rng.range(-340, 320);
                format!("{mantissa}e{exp}").parse().expect("a float literal")
            }
            _ => {
                // Short decimals near the fixed/scientific boundaries.
                let mantissa = rng.range(1, 99_999);
                let exp = rng.pick(&[-9, -8, -7, -6, -5, -4, -3, 10, 11, 12, 13, 14, 15, 16, 17]);
                format!("{mantissa}e{exp}").parse().expect("a float literal")
            }
        };
        if f.is_finite() {
            return if rng.percent(50) { f } else { -f };
        }
    }
}

fn gen_value(rng: &mut Rng, depth: u32) -> Value {
    let kinds = if depth >= 4 { 5 } else { 8 };
    match rng.below(kinds) {
        0 => match rng.below(3) {
            0 => Value::Null,
            n => Value::Bool(n == 1),
        },
        1 => gen_int(rng),
        2 => Value::Number(Number::from_f64(gen_float(rng)).expect("finite")),
        3 | 4 => Value::String(gen_string(rng)),
        5 => Value::Array((0..rng.below(5)).map(|_| gen_value(rng, depth + 1)).collect()),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(5) {
                map.insert(gen_string(rng), gen_value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// JSON writer

const DUMPS_SCRIPT: &str = r#"
import json, sys
values = json.loads(sys.stdin.buffer.read().decode("utf-8"))
sys.stdout.write(json.dumps([json.dumps(v, ensure_ascii=False, indent=2) for v in values]))
"#;

fn compare_dumps(what: &str, seed: u64, values: &[Value]) {
    let expected = python_strings(DUMPS_SCRIPT, &Value::Array(values.to_vec()), values.len());
    let mut buf = Vec::new();
    let mut mismatches = Vec::new();
    for (value, python) in values.iter().zip(&expected) {
        let ours = pyjson::to_string_pretty(value);
        buf.clear();
        pyjson::write_pretty(&mut buf, value);
        if ours != *python || buf != python.as_bytes() {
            mismatches.push(format!("value {value}\n  python: {python:?}\n  ours:   {ours:?}"));
        }
    }
    assert_all_equal(what, seed, &mismatches, values.len());
}

#[test]
fn json_values_match_cpython() {
    let (mut rng, seed) = Rng::new(0x5EED_0001);
    let mut values: Vec<Value> = (0..3000).map(|_| gen_value(&mut rng, 0)).collect();
    values.extend([
        json!({}),
        json!([]),
        json!({"a": {}, "b": [], "c": [{}], "d": [[[]]]}),
        json!({"url": "https://a.example", "title": "Ä unicode ✓", "n": 1}),
        json!((0u8..0x20).map(char::from).collect::<String>()),
        json!("\"\\/\u{7f}\u{2028}\u{2029}𝄞"),
        json!([u64::MAX, i64::MIN, 0, -0.0, 1.0, 1e16, 1e-5]),
    ]);
    compare_dumps("json.dumps(indent=2)", seed, &values);
}

#[test]
fn deep_and_wide_values_match_cpython() {
    let mut deep = json!("leaf");
    for i in 0..60 {
        deep = if i % 2 == 0 { json!([deep, i]) } else { json!({"k": deep, "e": {}}) };
    }
    let wide_array = Value::Array((0..2000).map(|i| json!(i)).collect());
    let wide_object = Value::Object((0..2000).map(|i| (format!("k{}", 2000 - i), json!(f64::from(i) / 7.0))).collect());
    compare_dumps("deep/wide values", 0, &[deep, wide_array, wide_object]);
}

#[test]
fn spec_example_values_match_cpython() {
    // The §11 values, so that the verbatim unit tests are also confirmed by CPython itself.
    let values = [
        json!({"url": "https://b.example", "n": 2, "nested": {"x": [1, 2]}}),
        json!({"n": 3, "extra": null}),
        json!({"a": 1, "b": [1, 2], "u": "ü"}),
        json!({"key": "weird key/with spaces?&#", "content_type": "text/plain; charset=utf-8", "size": 1}),
        json!({
            "unique_key": "POST|60d83e70|6ae0f660|https://example.com/post",
            "url": "https://example.com/post",
            "method": "POST",
            "payload": "{\"q\":1}",
            "headers": {"content-type": "application/json"},
            "user_data": {"label": "DETAIL", "foo": "bar"},
            "retry_count": 0,
            "no_retry": false,
            "loaded_url": null,
            "handled_at": null
        }),
    ];
    compare_dumps("spec examples", 0, &values);
}

// ---------------------------------------------------------------------------------------------------
// Float repr

const REPR_SCRIPT: &str = r#"
import json, struct, sys
bits = json.loads(sys.stdin.buffer.read())
floats = [struct.unpack("<d", struct.pack("<Q", b))[0] for b in bits]
assert all(repr(f) == json.dumps(f) for f in floats)
sys.stdout.write(json.dumps([json.dumps(f, indent=2) for f in floats]))
"#;

#[test]
fn floats_match_cpython_repr() {
    let (mut rng, seed) = Rng::new(0x5EED_0002);
    let mut floats = special_floats();
    while floats.len() < 20_000 {
        floats.push(gen_float(&mut rng));
    }
    // Bit patterns, so that Python sees exactly our doubles whatever any float parser does.
    let bits = Value::Array(floats.iter().map(|f| json!(f.to_bits())).collect());
    let expected = python_strings(REPR_SCRIPT, &bits, floats.len());
    let mut mismatches = Vec::new();
    for (f, python) in floats.iter().zip(&expected) {
        let ours = pyjson::to_string_pretty(&json!(f));
        if ours != *python {
            mismatches.push(format!("{f:e} (bits {:#018x}): python {python}, ours {ours}", f.to_bits()));
        }
    }
    assert_all_equal("float repr", seed, &mismatches, floats.len());
}

// ---------------------------------------------------------------------------------------------------
// Tolerant reader

/// Generates JSON-ish text: usually a well-formed document whose numbers may be `NaN`/`Infinity`,
/// sometimes a random soup of tokens.
fn gen_text(rng: &mut Rng, out: &mut String, depth: u32) {
    const SCALARS: &[&str] = &[
        "NaN",
        "Infinity",
        "-Infinity",
        "null",
        "true",
        "false",
        "0",
        "-7",
        "3.5",
        "-0.25",
        "1e5",
        "2.5E-3",
        "18446744073709551615",
        "\"NaN\"",
        "\"-Infinity\"",
        "\"a\\\"NaN\\\\\"",
        "\"\\\\\"",
        "\"x\"",
        "\"\\u00e9 é\"",
    ];
    match rng.below(if depth >= 3 { 1 } else { 3 }) {
        0 => out.push_str(rng.pick(SCALARS)),
        1 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push_str(", ");
                }
                gen_text(rng, out, depth + 1);
            }
            out.push(']');
        }
        _ => {
            out.push_str("{\n");
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push_str(",\n");
                }
                // Distinct keys: CPython keeps the first position of a duplicate key, so avoid them.
                out.push_str(&format!("  \"{}{i}\": ", rng.pick(&["k", "NaN", "Infinity", "\\\""])));
                gen_text(rng, out, depth + 1);
            }
            out.push_str("\n}");
        }
    }
}

fn gen_soup(rng: &mut Rng) -> String {
    const TOKENS: &[&str] = &[
        "NaN",
        "Infinity",
        "-Infinity",
        "null",
        "true",
        "1",
        "-2",
        "3.5",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "\"a\"",
        "\"NaN\"",
        "\"\\\"\"",
        " ",
        "\"",
        "\\",
        "-",
        "N",
        "Na",
        "Inf",
        "Infinit",
        "x",
        "\n",
    ];
    let len = rng.range(1, 10);
    (0..len).map(|_| rng.pick(TOKENS)).collect()
}

const LOADS_SCRIPT: &str = r#"
import json, sys
texts = json.loads(sys.stdin.buffer.read().decode("utf-8"))
results = []
for text in texts:
    seen = []
    def constant(name):
        seen.append(name)
        return None
    try:
        value = json.loads(text, parse_constant=constant)
    except ValueError:
        results.append("error")
        continue
    results.append(json.dumps([value, bool(seen)]))
sys.stdout.write(json.dumps(results))
"#;

#[test]
fn tolerant_reader_matches_cpython() {
    let (mut rng, seed) = Rng::new(0x5EED_0003);
    let mut texts: Vec<String> = Vec::new();
    for _ in 0..3000 {
        let mut text = String::new();
        gen_text(&mut rng, &mut text, 0);
        texts.push(text);
    }
    texts.extend((0..3000).map(|_| gen_soup(&mut rng)));
    let input = Value::Array(texts.iter().map(|t| json!(t)).collect());
    let expected = python_strings(LOADS_SCRIPT, &input, texts.len());
    let mut mismatches = Vec::new();
    let mut replaced_count = 0;
    for (text, python) in texts.iter().zip(&expected) {
        let ours = pyjson::parse_tolerant(text.as_bytes()).ok();
        let theirs: Option<(Value, bool)> = (python != "error").then(|| serde_json::from_str(python).expect("python"));
        replaced_count += usize::from(ours.as_ref().is_some_and(|(_, replaced)| *replaced));
        if ours != theirs {
            mismatches.push(format!("text {text:?}\n  python: {theirs:?}\n  ours:   {ours:?}"));
        }
    }
    assert_all_equal("tolerant reader", seed, &mismatches, texts.len());
    assert!(replaced_count > 500, "the generator should produce many NaN/Infinity documents");
}

#[test]
fn tolerant_reader_reads_cpython_files_back_identically() {
    // CPython writes NaN/Infinity raw (D16); we read `null` and write it as CPython writes `None`.
    // Floats here have short forms: serde_json parses long ones best-effort unless its
    // `float_roundtrip` feature is enabled.
    let script = r#"
import json, sys
values = [
    {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5, "NaN"], "c": {"Infinity": None}},
    [1e-05, 1e+16, 0.1, -0.0, 100.0, 18446744073709551615, -9223372036854775808],
    {"s": "\u2028\x7f\x01\"\\ \U0001d11e", "t": True},
]
sys.stdout.write(json.dumps([json.dumps(v, ensure_ascii=False, indent=2) for v in values]))
"#;
    let texts = python_strings(script, &json!([]), 3);
    let (first, replaced) = pyjson::parse_tolerant(texts[0].as_bytes()).expect("first");
    assert!(replaced);
    assert_eq!(first, json!({"a": null, "b": [null, null, 1.5, "NaN"], "c": {"Infinity": null}}));
    for text in &texts[1..] {
        let (value, replaced) = pyjson::parse_tolerant(text.as_bytes()).expect("valid JSON");
        assert!(!replaced);
        assert_eq!(pyjson::to_string_pretty(&value), *text);
    }
}

#[test]
fn tolerant_reader_never_panics() {
    let (mut rng, seed) = Rng::new(0x5EED_0004);
    const ALPHABET: &[u8] = b"NaNInfinity-Infinity\"\\[]{},: 0123456789.eE+-truefalsenull\n\t";
    for case in 0..20_000 {
        let bytes: Vec<u8> = match case % 4 {
            0 => (0..rng.below(40)).map(|_| rng.next() as u8).collect(),
            1 => (0..rng.below(40)).map(|_| rng.pick(ALPHABET)).collect(),
            2 => gen_soup(&mut rng).into_bytes(),
            _ => {
                // A truncated or corrupted document.
                let mut text = String::new();
                gen_text(&mut rng, &mut text, 0);
                let mut bytes = text.into_bytes();
                if !bytes.is_empty() {
                    let at = rng.below(bytes.len() as u64) as usize;
                    if rng.percent(50) {
                        bytes.truncate(at);
                    } else {
                        bytes[at] = rng.next() as u8;
                    }
                }
                bytes
            }
        };
        let strict = serde_json::from_slice::<Value>(&bytes);
        match pyjson::parse_tolerant(&bytes) {
            Ok((value, false)) => {
                assert_eq!(strict.ok(), Some(value), "seed {seed:#x}, input {bytes:?}");
            }
            Ok((_, true)) => assert!(strict.is_err(), "seed {seed:#x}, input {bytes:?}"),
            Err(_) => assert!(strict.is_err(), "seed {seed:#x}, input {bytes:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Timestamps

const TIMESTAMP_SCRIPT: &str = r#"
import json, sys
from datetime import datetime, timedelta, timezone
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
cases = json.loads(sys.stdin.buffer.read())
out = []
for seconds, micros, offset_seconds in cases:
    dt = EPOCH + timedelta(seconds=seconds, microseconds=micros)
    local = dt.astimezone(timezone(timedelta(seconds=offset_seconds)))
    out.append(json.dumps([
        str(dt),
        local.isoformat(),
        local.isoformat(sep=" ", timespec="milliseconds"),
        dt.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        dt.isoformat(timespec="seconds"),
    ]))
sys.stdout.write(json.dumps(out))
"#;

#[test]
fn timestamps_match_cpython() {
    let (mut rng, seed) = Rng::new(0x5EED_0005);
    // Year 1 to year 9999, keeping a day of margin so that any offset stays in Python's range.
    let (min, max) = (-62_135_596_800 + 86_400, 253_402_300_799 - 86_400);
    let mut cases: Vec<(i64, i64, i32, i64)> = vec![
        (-62_135_596_800, 0, 0, 0),
        (253_402_300_799, 999_999, 0, 999),
        (0, 0, 0, 0),
        (1_700_000_000, 1, 0, 0),
        (1_700_000_000, 999_999, 3600, 999),
        (951_782_400, 500_000, -18_000, 0),
    ];
    while cases.len() < 5000 {
        let seconds = match rng.below(3) {
            0 => rng.range(min, max),
            _ => rng.range(0, 4_102_444_800),
        };
        let micros = if rng.percent(25) { 0 } else { rng.range(0, 999_999) };
        let offset = match rng.below(4) {
            0 => 0,
            1 => rng.range(-23, 23) as i32 * 3600,
            2 => rng.range(-1439, 1439) as i32 * 60,
            _ => rng.range(-86_399, 86_399) as i32,
        };
        let sub_micro_nanos = if rng.percent(50) { 0 } else { rng.range(0, 999) };
        cases.push((seconds, micros, offset, sub_micro_nanos));
    }
    let input = Value::Array(cases.iter().map(|&(s, us, off, _)| json!([s, us, off])).collect());
    let expected = python_strings(TIMESTAMP_SCRIPT, &input, cases.len());

    let mut mismatches = Vec::new();
    for (&(seconds, micros, offset, nanos), python) in cases.iter().zip(&expected) {
        let [py_str, py_iso, py_millis, py_api, py_seconds]: [String; 5] =
            serde_json::from_str(python).expect("five strings");
        let utc = OffsetDateTime::from_unix_timestamp(seconds).expect("in range") + Duration::microseconds(micros);
        let offset = UtcOffset::from_whole_seconds(offset).expect("valid offset");
        // The instant we format carries extra nanoseconds and a non-UTC offset, both of which
        // format_python must drop.
        let ts = (utc + Duration::nanoseconds(nanos)).to_offset(offset);
        let truncated_to_millis = utc.replace_microsecond(u32::from(utc.millisecond()) * 1000).expect("valid");
        let checks = [
            ("format_python", Some(timestamp::format_python(ts)), Some(py_str.clone())),
            ("format_api", Some(timestamp::format_api(ts)), Some(py_api)),
            ("parse_any(str)", timestamp::parse_any(&py_str).map(timestamp::format_python), Some(py_str.clone())),
            ("parse_any(isoformat)", timestamp::parse_any(&py_iso).map(timestamp::format_python), Some(py_str)),
            (
                "parse_any(isoformat ms)",
                timestamp::parse_any(&py_millis).map(timestamp::format_python),
                Some(timestamp::format_python(truncated_to_millis)),
            ),
            (
                "parse_any(isoformat s)",
                timestamp::parse_any(&py_seconds).map(|t| t.unix_timestamp().to_string()),
                Some(seconds.to_string()),
            ),
        ];
        for (name, ours, theirs) in checks {
            if ours != theirs {
                mismatches.push(format!("{name} of ({seconds}, {micros}, {offset}): python {theirs:?}, ours {ours:?}"));
            }
        }
        if timestamp::parse_any(&py_iso) != Some(utc) {
            mismatches.push(format!("parse_any({py_iso:?}) != {utc}"));
        }
    }
    assert_all_equal("timestamps", seed, &mismatches, cases.len());
}
