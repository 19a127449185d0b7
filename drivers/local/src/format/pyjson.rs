//! Byte-exact CPython `json.dumps(value, ensure_ascii=False, indent=2)`, and a reader that tolerates
//! the non-standard `NaN` / `Infinity` / `-Infinity` tokens CPython writes (spec §2, D16, W15).
//!
//! The writers are infallible: a [`Value`] cannot hold NaN or ±Infinity, so everything it can hold has
//! a valid JSON form.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// Formats `value` exactly as CPython's `json.dumps(value, ensure_ascii=False, indent=2)` does.
///
/// Object keys keep their insertion order and the text has no trailing newline.
pub fn to_string_pretty(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(&mut out, value, 0);
    out
}

/// Appends the [`to_string_pretty`] form of `value` to `out`.
///
/// Writes straight into `out` with no other heap allocation, so a caller can reuse one buffer for
/// many files.
pub fn write_pretty(out: &mut Vec<u8>, value: &Value) {
    write_value(out, value, 0);
}

/// Parses JSON written by CPython, which may contain the invalid tokens `NaN`, `Infinity` and
/// `-Infinity`; each of them becomes `null`.
///
/// Returns the value and whether any token was replaced, so that the caller can log a warning.
/// Valid JSON takes the plain `serde_json` path; only when that fails are the tokens rewritten
/// (outside string literals) and the text parsed again. If there is nothing to rewrite, the first
/// error is returned; otherwise the error of the second attempt, which has the same line numbers.
/// Never panics, whatever the input.
pub fn parse_tolerant(bytes: &[u8]) -> Result<(Value, bool), serde_json::Error> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok((value, false)),
        Err(first) => match replace_non_finite(bytes) {
            Some(rewritten) => serde_json::from_slice(&rewritten).map(|value| (value, true)),
            None => Err(first),
        },
    }
}

/// Rewrites `NaN`, `Infinity` and `-Infinity` outside string literals to `null`, or returns `None`
/// when there is none.
fn replace_non_finite(bytes: &[u8]) -> Option<Vec<u8>> {
    const TOKENS: [&[u8]; 3] = [b"NaN", b"Infinity", b"-Infinity"];
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut replaced = false;
    let mut in_string = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if in_string {
            match b {
                // Copy the escaped byte too, so an escaped quote does not end the string.
                b'\\' => {
                    out.push(b);
                    if let Some(&next) = bytes.get(i + 1) {
                        out.push(next);
                        i += 1;
                    }
                }
                b'"' => {
                    out.push(b);
                    in_string = false;
                }
                _ => out.push(b),
            }
            i += 1;
            continue;
        }
        let rest = bytes.get(i..).unwrap_or_default();
        if let Some(token) = TOKENS.iter().find(|token| rest.starts_with(token)) {
            out.extend_from_slice(b"null");
            i += token.len();
            replaced = true;
            continue;
        }
        in_string = b == b'"';
        out.push(b);
        i += 1;
    }
    replaced.then_some(out)
}

/// An output buffer: `String` for [`to_string_pretty`] (no UTF-8 re-validation), `Vec<u8>` for
/// [`write_pretty`].
trait Sink {
    fn push_byte(&mut self, b: u8);
    fn push_str(&mut self, s: &str);
    fn push_spaces(&mut self, n: usize);
}

impl Sink for Vec<u8> {
    fn push_byte(&mut self, b: u8) {
        self.push(b);
    }
    fn push_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn push_spaces(&mut self, n: usize) {
        self.resize(self.len() + n, b' ');
    }
}

impl Sink for String {
    fn push_byte(&mut self, b: u8) {
        // Only ASCII bytes are pushed one by one; anything else would be a bug in this module.
        debug_assert!(b.is_ascii());
        self.push(char::from(b));
    }
    fn push_str(&mut self, s: &str) {
        Self::push_str(self, s);
    }
    fn push_spaces(&mut self, n: usize) {
        self.extend(std::iter::repeat_n(' ', n));
    }
}

fn write_value<S: Sink>(out: &mut S, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => write_array(out, items, depth),
        Value::Object(map) => write_object(out, map, depth),
    }
}

fn newline_indent<S: Sink>(out: &mut S, depth: usize) {
    out.push_byte(b'\n');
    out.push_spaces(2 * depth);
}

fn write_array<S: Sink>(out: &mut S, items: &[Value], depth: usize) {
    if items.is_empty() {
        out.push_str("[]");
        return;
    }
    out.push_byte(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_byte(b',');
        }
        newline_indent(out, depth + 1);
        write_value(out, item, depth + 1);
    }
    newline_indent(out, depth);
    out.push_byte(b']');
}

fn write_object<S: Sink>(out: &mut S, map: &Map<String, Value>, depth: usize) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_byte(b'{');
    for (i, (key, item)) in map.iter().enumerate() {
        if i > 0 {
            out.push_byte(b',');
        }
        newline_indent(out, depth + 1);
        write_string(out, key);
        out.push_str(": ");
        write_value(out, item, depth + 1);
    }
    newline_indent(out, depth);
    out.push_byte(b'}');
}

/// Per byte: 0 = copy as is, `u` = `\u00XX`, anything else = a backslash and that byte.
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// CPython's `\u` escapes use lower-case hex.
const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_string<S: Sink>(out: &mut S, s: &str) {
    out.push_byte(b'"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escape = ESCAPES[usize::from(b)];
        if escape == 0 {
            continue;
        }
        // Escaped bytes are ASCII, so `start` and `i` are always char boundaries.
        out.push_str(s.get(start..i).unwrap_or_default());
        out.push_byte(b'\\');
        if escape == b'u' {
            out.push_str("u00");
            out.push_byte(HEX[usize::from(b >> 4)]);
            out.push_byte(HEX[usize::from(b & 0xF)]);
        } else {
            out.push_byte(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push_byte(b'"');
}

fn write_number<S: Sink>(out: &mut S, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_u64(out, u);
    } else if let Some(i) = n.as_i64() {
        out.push_byte(b'-');
        write_u64(out, i.unsigned_abs());
    } else if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.is_finite()) {
        write_float(out, f);
    } else {
        // Unreachable without serde_json's `arbitrary_precision`; with it, this keeps an integer
        // beyond 64 bits exact, as CPython does.
        let _ = write!(FmtSink(out), "{n}");
    }
}

/// Lets `core::fmt` write straight into a [`Sink`].
struct FmtSink<'a, S>(&'a mut S);

impl<S: Sink> std::fmt::Write for FmtSink<'_, S> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.push_str(s);
        Ok(())
    }
}

fn write_u64<S: Sink>(out: &mut S, mut u: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    for &d in &digits[start..] {
        out.push_byte(d);
    }
}

/// Writes a finite `f` like CPython's `float.__repr__`.
fn write_float<S: Sink>(out: &mut S, f: f64) {
    let Some(mut decimal) = Decimal::shortest(f) else {
        out.push_str("null"); // Unreachable for a finite float.
        return;
    };
    decimal.break_tie_to_even(f);
    decimal.write(out);
}

/// The sign, significant digits and decimal exponent of a float.
struct Decimal {
    negative: bool,
    /// ASCII digits; `{:e}` of an `f64` never has more than 17.
    digits: [u8; 24],
    len: usize,
    /// The decimal exponent of the first digit.
    exponent: i32,
}

impl Decimal {
    /// Rust's `{:e}`: the shortest digits that round-trip and, among those, the nearest to `f`, as
    /// repr chooses them.
    fn shortest(f: f64) -> Option<Self> {
        let mut buf = StackBuf::new();
        write!(buf, "{f:e}").ok()?;
        let text = buf.as_str().as_bytes();
        let (negative, text) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let e_pos = text.iter().position(|&b| b == b'e')?;
        let (mantissa, exponent) = (text.get(..e_pos)?, text.get(e_pos + 1..)?);
        let mut decimal = Self { negative, digits: [0; 24], len: 0, exponent: parse_exponent(exponent) };
        for &b in mantissa.iter().filter(|b| b.is_ascii_digit()) {
            *decimal.digits.get_mut(decimal.len)? = b;
            decimal.len += 1;
        }
        Some(decimal)
    }

    fn digits(&self) -> &[u8] {
        &self.digits[..self.len]
    }

    /// When two shortest candidates are equally near `f`, CPython (David Gay's dtoa) takes the one
    /// with the even last digit while Rust rounds up: 2^-25 is `2.9802322387695312e-08` in Python,
    /// `2.9802322387695313e-8` in Rust. Detects that case with exact integer arithmetic (`f` lies
    /// exactly halfway) and moves to the even neighbour when it round-trips too.
    fn break_tie_to_even(&mut self, f: f64) {
        // Two candidates one unit in the last place apart only both round-trip from about 16 digits
        // (and a float never needs more than 17, which keeps `units` far from overflowing).
        let Some(&last) = self.digits().last() else { return };
        if !(15..=17).contains(&self.len) || last % 2 == 0 {
            return;
        }
        let units = self.digits().iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        let scale = self.exponent - (self.len as i32 - 1); // f ≈ units × 10^scale
        let halfway_below = units * 10 - 5;
        let neighbour = if exactly_equals(f.abs(), halfway_below, scale - 1) {
            last - 1
        } else if last != b'9' && exactly_equals(f.abs(), units * 10 + 5, scale - 1) {
            last + 1
        } else {
            return;
        };
        let original = last;
        self.digits[self.len - 1] = neighbour;
        if !self.round_trips(f) {
            self.digits[self.len - 1] = original;
        }
    }

    /// Whether these digits parse back to exactly `f`.
    fn round_trips(&self, f: f64) -> bool {
        let Ok(digits) = std::str::from_utf8(self.digits()) else { return false };
        let sign = if self.negative { "-" } else { "" };
        let exponent = self.exponent - (self.len as i32 - 1);
        let mut buf = StackBuf::new();
        write!(buf, "{sign}{digits}e{exponent}").is_ok()
            && buf.as_str().parse::<f64>().is_ok_and(|parsed| parsed.to_bits() == f.to_bits())
    }

    /// Lays the digits out as repr does.
    fn write<S: Sink>(&self, out: &mut S) {
        let (digits, exponent) = (self.digits(), self.exponent);
        if self.negative {
            out.push_byte(b'-');
        }
        if (-4..16).contains(&exponent) {
            // Fixed notation, with at least one digit after the point.
            if exponent < 0 {
                out.push_str("0.");
                push_zeros(out, exponent.unsigned_abs() as usize - 1);
                push_digits(out, digits);
            } else {
                let int_len = exponent as usize + 1;
                match digits.split_at_checked(int_len) {
                    Some((int, frac)) if !frac.is_empty() => {
                        push_digits(out, int);
                        out.push_byte(b'.');
                        push_digits(out, frac);
                    }
                    _ => {
                        push_digits(out, digits);
                        push_zeros(out, int_len - digits.len());
                        out.push_str(".0");
                    }
                }
            }
        } else {
            // Scientific notation: a point only if there are several digits; a signed exponent of at
            // least two digits.
            if let Some((first, rest)) = digits.split_first() {
                out.push_byte(*first);
                if !rest.is_empty() {
                    out.push_byte(b'.');
                    push_digits(out, rest);
                }
            }
            out.push_byte(b'e');
            out.push_byte(if exponent < 0 { b'-' } else { b'+' });
            if exponent.unsigned_abs() < 10 {
                out.push_byte(b'0');
            }
            write_u64(out, u64::from(exponent.unsigned_abs()));
        }
    }
}

/// Whether the finite, non-negative `f` is exactly `units × 10^scale`, by comparing the odd parts
/// and powers of two of both sides.
fn exactly_equals(f: f64, units: u64, scale: i32) -> bool {
    if f == 0.0 || units == 0 {
        return false;
    }
    let bits = f.to_bits();
    let (biased_exponent, fraction) = ((bits >> 52) as i32, bits & ((1 << 52) - 1));
    let (mantissa, mut power) =
        if biased_exponent == 0 { (fraction, -1074) } else { (fraction | (1 << 52), biased_exponent - 1075) };
    let float_odd = mantissa >> mantissa.trailing_zeros();
    power += mantissa.trailing_zeros() as i32;

    // units × 10^scale = units × 5^scale × 2^scale.
    let mut odd = u128::from(units >> units.trailing_zeros());
    let decimal_power = units.trailing_zeros() as i32 + scale;
    if scale >= 0 {
        match 5u128.checked_pow(scale.unsigned_abs()).and_then(|p| odd.checked_mul(p)) {
            Some(product) => odd = product,
            None => return false,
        }
    } else {
        for _ in 0..scale.unsigned_abs() {
            if odd % 5 != 0 {
                return false; // Not a dyadic rational, so not a float.
            }
            odd /= 5;
        }
    }
    odd == u128::from(float_odd) && decimal_power == power
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .filter(|d| d.is_ascii_digit())
        .fold(0i32, |acc, &d| acc.saturating_mul(10).saturating_add(i32::from(d - b'0')));
    if negative { -magnitude } else { magnitude }
}

fn push_digits<S: Sink>(out: &mut S, digits: &[u8]) {
    for &d in digits {
        out.push_byte(d);
    }
}

fn push_zeros<S: Sink>(out: &mut S, n: usize) {
    for _ in 0..n {
        out.push_byte(b'0');
    }
}

/// A fixed stack buffer for `core::fmt` output, so formatting a number needs no heap allocation.
struct StackBuf {
    bytes: [u8; 64],
    len: usize,
}

impl StackBuf {
    const fn new() -> Self {
        Self { bytes: [0; 64], len: 0 }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are appended, so this never fails.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dumps(value: &Value) -> String {
        let text = to_string_pretty(value);
        let mut bytes = Vec::new();
        write_pretty(&mut bytes, value);
        assert_eq!(bytes, text.as_bytes(), "the two writers disagree");
        text
    }

    fn float(f: f64) -> String {
        dumps(&json!(f))
    }

    #[test]
    fn literals_and_empty_containers() {
        assert_eq!(dumps(&json!(null)), "null");
        assert_eq!(dumps(&json!(true)), "true");
        assert_eq!(dumps(&json!(false)), "false");
        assert_eq!(dumps(&json!({})), "{}");
        assert_eq!(dumps(&json!([])), "[]");
        assert_eq!(dumps(&json!([{}, []])), "[\n  {},\n  []\n]");
        assert_eq!(dumps(&json!({"a": {}, "b": []})), "{\n  \"a\": {},\n  \"b\": []\n}");
    }

    #[test]
    fn nesting_and_key_order() {
        let value = json!({"z": 1, "a": [1, {"y": [[]], "b": null}], "m": "x"});
        let expected = r#"{
  "z": 1,
  "a": [
    1,
    {
      "y": [
        []
      ],
      "b": null
    }
  ],
  "m": "x"
}"#;
        assert_eq!(dumps(&value), expected);
    }

    #[test]
    fn appends_to_existing_buffer() {
        let mut out = b"prefix:".to_vec();
        write_pretty(&mut out, &json!([1]));
        assert_eq!(out, b"prefix:[\n  1\n]");
    }

    #[test]
    fn string_escapes() {
        assert_eq!(dumps(&json!("a\"b\\c/d")), r#""a\"b\\c/d""#);
        assert_eq!(dumps(&json!("\u{8}\t\n\u{c}\r")), r#""\b\t\n\f\r""#);
        assert_eq!(dumps(&json!("\u{0}\u{1}\u{b}\u{e}\u{1f}")), r#""\u0000\u0001\u000b\u000e\u001f""#);
        // Raw: DEL, C1 controls, line/paragraph separators, BOM, astral characters.
        let raw = "\u{7f}\u{80}\u{9f}\u{2028}\u{2029}\u{feff}𝄞😀\u{10ffff}Äü✓";
        assert_eq!(dumps(&json!(raw)), format!("\"{raw}\""));
        assert_eq!(dumps(&json!("")), "\"\"");
        // Keys are escaped the same way.
        assert_eq!(dumps(&json!({"k\"\n\u{1}": 1})), "{\n  \"k\\\"\\n\\u0001\": 1\n}");
    }

    #[test]
    fn every_control_character() {
        for c in 0u8..0x20 {
            let expected = match c {
                0x08 => "\"\\b\"".to_owned(),
                0x09 => "\"\\t\"".to_owned(),
                0x0A => "\"\\n\"".to_owned(),
                0x0C => "\"\\f\"".to_owned(),
                0x0D => "\"\\r\"".to_owned(),
                _ => format!("\"\\u{c:04x}\""),
            };
            assert_eq!(dumps(&json!(char::from(c).to_string())), expected, "control {c:#x}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(dumps(&json!(0)), "0");
        assert_eq!(dumps(&json!(-1)), "-1");
        assert_eq!(dumps(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(dumps(&json!(i64::MIN)), "-9223372036854775808");
        assert_eq!(dumps(&json!(i64::MAX)), "9223372036854775807");
    }

    #[test]
    fn parsed_numbers_keep_their_kind() {
        let value: Value = serde_json::from_str("[1, 1.0, -2, 100.0, 1e2, 1E-5, 0.5]").unwrap();
        assert_eq!(dumps(&value), "[\n  1,\n  1.0,\n  -2,\n  100.0,\n  100.0,\n  1e-05,\n  0.5\n]");
    }

    #[test]
    fn floats_fixed_notation() {
        assert_eq!(float(0.0), "0.0");
        assert_eq!(float(-0.0), "-0.0");
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(-1.0), "-1.0");
        assert_eq!(float(100.0), "100.0");
        assert_eq!(float(0.5), "0.5");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(0.00012345), "0.00012345");
        assert_eq!(float(1e15), "1000000000000000.0");
        assert_eq!(float(9_999_999_999_999_998.0), "9999999999999998.0");
        assert_eq!(float(1.5e15), "1500000000000000.0");
        assert_eq!(float(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float(123.456), "123.456");
        assert_eq!(float(1.0 / 3.0), "0.3333333333333333");
    }

    #[test]
    fn floats_scientific_notation() {
        assert_eq!(float(1e-5), "1e-05");
        assert_eq!(float(9.999_999_999_999_999e-5), "9.999999999999999e-05");
        assert_eq!(float(2.5e-7), "2.5e-07");
        assert_eq!(float(1e16), "1e+16");
        assert_eq!(float(1.5e16), "1.5e+16");
        assert_eq!(float(-1.5e16), "-1.5e+16");
        assert_eq!(float(1.2345678901234568e17), "1.2345678901234568e+17");
        assert_eq!(float(1e100), "1e+100");
        assert_eq!(float(5e-324), "5e-324");
        assert_eq!(float(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(float(f64::MIN_POSITIVE), "2.2250738585072014e-308");
    }

    #[test]
    fn floats_break_ties_to_even_like_cpython() {
        // The exact values end in 5 just past the 17th digit; both neighbours round-trip.
        assert_eq!(float(2f64.powi(-25)), "2.9802322387695312e-08");
        assert_eq!(float(1e15 + 0.25), "1000000000000000.2");
        assert_eq!(float(-(200_059_461_439_326.0 + 0.125)), "-200059461439326.12");
        assert_eq!(float(2.5), "2.5");
    }

    #[test]
    fn non_finite_floats_cannot_reach_the_writer() {
        // serde_json turns them into `null`, so the writer never has to produce `NaN`.
        assert_eq!(dumps(&json!(f64::NAN)), "null");
        assert_eq!(dumps(&json!(f64::INFINITY)), "null");
    }

    #[test]
    fn spec_dataset_items() {
        let item1 = json!({"url": "https://a.example", "title": "Ä unicode ✓", "n": 1});
        let expected1 = r#"{
  "url": "https://a.example",
  "title": "Ä unicode ✓",
  "n": 1
}"#;
        assert_eq!(expected1.len(), 71);
        assert_eq!(dumps(&item1), expected1);

        let item2 = json!({"url": "https://b.example", "n": 2, "nested": {"x": [1, 2]}});
        let expected2 = r#"{
  "url": "https://b.example",
  "n": 2,
  "nested": {
    "x": [
      1,
      2
    ]
  }
}"#;
        assert_eq!(expected2.len(), 95);
        assert_eq!(dumps(&item2), expected2);

        let item3 = json!({"n": 3, "extra": null});
        assert_eq!(dumps(&item3), "{\n  \"n\": 3,\n  \"extra\": null\n}");
        assert_eq!(dumps(&item3).len(), 29);
        assert_eq!(dumps(&json!({"aliased": true})).len(), 21);
        assert_eq!(dumps(&json!({"named": true})), "{\n  \"named\": true\n}");
        assert_eq!(dumps(&json!({"named": true})).len(), 19);
    }

    #[test]
    fn spec_metadata_files() {
        let dataset = json!({
            "id": "bB7HVBwVi1JsiGCTX",
            "name": "my-named-ds",
            "accessed_at": "2026-11-21 18:41:14.180228+00:00",
            "created_at": "2026-11-21 18:41:14.175053+00:00",
            "modified_at": "2026-11-21 18:41:14.180228+00:00",
            "item_count": 1
        });
        let expected = r#"{
  "id": "bB7HVBwVi1JsiGCTX",
  "name": "my-named-ds",
  "accessed_at": "2026-11-21 18:41:14.180228+00:00",
  "created_at": "2026-11-21 18:41:14.175053+00:00",
  "modified_at": "2026-11-21 18:41:14.180228+00:00",
  "item_count": 1
}"#;
        assert_eq!(expected.len(), 233);
        assert_eq!(dumps(&dataset), expected);

        let default_ds = json!({
            "id": "SXbMqrlubLsNFPDfT",
            "name": null,
            "accessed_at": "2026-11-21 18:41:14.213441+00:00",
            "created_at": "2026-11-21 18:41:14.168477+00:00",
            "modified_at": "2026-11-21 18:41:14.171881+00:00",
            "item_count": 3
        });
        assert_eq!(dumps(&default_ds).len(), 224);

        let kvs = json!({
            "id": "QCUYCVjz3K8DPQjg7",
            "name": null,
            "accessed_at": "2026-11-21 18:41:14.337386+00:00",
            "created_at": "2026-11-21 18:41:14.135531+00:00",
            "modified_at": "2026-11-21 18:41:14.337386+00:00"
        });
        let expected = r#"{
  "id": "QCUYCVjz3K8DPQjg7",
  "name": null,
  "accessed_at": "2026-11-21 18:41:14.337386+00:00",
  "created_at": "2026-11-21 18:41:14.135531+00:00",
  "modified_at": "2026-11-21 18:41:14.337386+00:00"
}"#;
        assert_eq!(expected.len(), 205);
        assert_eq!(dumps(&kvs), expected);

        let rq = json!({
            "id": "vfN3007zVk2zfppaT",
            "name": null,
            "accessed_at": "2026-11-21 18:41:14.229811+00:00",
            "created_at": "2026-11-21 18:41:14.215384+00:00",
            "modified_at": "2026-11-21 18:41:14.229811+00:00",
            "had_multiple_clients": false,
            "handled_request_count": 1,
            "pending_request_count": 6,
            "total_request_count": 7
        });
        let expected = r#"{
  "id": "vfN3007zVk2zfppaT",
  "name": null,
  "accessed_at": "2026-11-21 18:41:14.229811+00:00",
  "created_at": "2026-11-21 18:41:14.215384+00:00",
  "modified_at": "2026-11-21 18:41:14.229811+00:00",
  "had_multiple_clients": false,
  "handled_request_count": 1,
  "pending_request_count": 6,
  "total_request_count": 7
}"#;
        assert_eq!(expected.len(), 326);
        assert_eq!(dumps(&rq), expected);
    }

    #[test]
    fn spec_kvs_values_and_sidecars() {
        let dict = json!({"a": 1, "b": [1, 2], "u": "ü"});
        let expected = "{\n  \"a\": 1,\n  \"b\": [\n    1,\n    2\n  ],\n  \"u\": \"ü\"\n}";
        assert_eq!(expected.len(), 52);
        assert_eq!(dumps(&dict), expected);
        assert_eq!(dumps(&json!([1, 2, 3])), "[\n  1,\n  2,\n  3\n]");
        assert_eq!(dumps(&json!({"counter": 1})).len(), 18);

        let sidecars = [
            (json!({"key": "APIFY_GLOBAL_STATE", "content_type": "application/json", "size": 18}), 85),
            (json!({"key": "BOOL", "content_type": "text/plain; charset=utf-8", "size": 4}), 79),
            (json!({"key": "BYTES", "content_type": "application/octet-stream", "size": 9}), 79),
            (json!({"key": "CSV", "content_type": "text/csv", "size": 8}), 61),
            (json!({"key": "DICT", "content_type": "application/json; charset=utf-8", "size": 52}), 86),
            (json!({"key": "INPUT", "content_type": "application/json; charset=utf-8", "size": 63}), 87),
            (json!({"key": "TO_DELETE", "content_type": "application/x-none", "size": 0}), 77),
            (json!({"key": "__RQ_STATE_vfN3007zVk2zfppaT", "content_type": "application/json", "size": 485}), 96),
        ];
        for (sidecar, len) in sidecars {
            assert_eq!(dumps(&sidecar).len(), len, "{sidecar}");
        }
        let weird = json!({"key": "weird key/with spaces?&#", "content_type": "text/plain; charset=utf-8", "size": 1});
        let expected = r#"{
  "key": "weird key/with spaces?&#",
  "content_type": "text/plain; charset=utf-8",
  "size": 1
}"#;
        assert_eq!(expected.len(), 99);
        assert_eq!(dumps(&weird), expected);
    }

    #[test]
    fn spec_export_json_string_value() {
        // D1: the reference implementation stores a JSON string; its content uses ASCII escapes,
        // which must survive our (non-ASCII-escaping) layer untouched.
        let inner = r#"[{"url": "https://a.example", "title": "\u00c4 unicode \u2713", "n": 1}, {"url": "https://b.example", "n": 2, "nested": {"x": [1, 2]}}, {"n": 3, "extra": null}]"#;
        let text = dumps(&json!(inner));
        assert_eq!(text.len(), 188);
        assert_eq!(
            text,
            r#""[{\"url\": \"https://a.example\", \"title\": \"\\u00c4 unicode \\u2713\", \"n\": 1}, {\"url\": \"https://b.example\", \"n\": 2, \"nested\": {\"x\": [1, 2]}}, {\"n\": 3, \"extra\": null}]""#
        );
    }

    #[test]
    fn spec_request_files() {
        let plain = json!({
            "unique_key": "https://example.com/front2",
            "url": "https://example.com/front2",
            "method": "GET",
            "payload": null,
            "headers": {},
            "user_data": {},
            "retry_count": 0,
            "no_retry": false,
            "loaded_url": null,
            "handled_at": "2026-11-21 18:41:14.228393+00:00"
        });
        let expected = r#"{
  "unique_key": "https://example.com/front2",
  "url": "https://example.com/front2",
  "method": "GET",
  "payload": null,
  "headers": {},
  "user_data": {},
  "retry_count": 0,
  "no_retry": false,
  "loaded_url": null,
  "handled_at": "2026-11-21 18:41:14.228393+00:00"
}"#;
        assert_eq!(expected.len(), 276);
        assert_eq!(dumps(&plain), expected);

        let unhandled = |key: &str, url: &str, retry_count: u64| {
            json!({
                "unique_key": key, "url": url, "method": "GET", "payload": null, "headers": {},
                "user_data": {}, "retry_count": retry_count, "no_retry": false, "loaded_url": null,
                "handled_at": null
            })
        };
        assert_eq!(dumps(&unhandled("https://example.com/2", "https://example.com/2", 0)).len(), 236);
        assert_eq!(dumps(&unhandled("https://example.com/front", "https://example.com/front", 1)).len(), 244);
        let url = "https://Example.COM/path/?b=2&a=1&utm_source=x#frag";
        assert_eq!(dumps(&unhandled("https://example.com/path?a=1&b=2", url, 0)).len(), 277);

        let post = json!({
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
        });
        let expected = r#"{
  "unique_key": "POST|60d83e70|6ae0f660|https://example.com/post",
  "url": "https://example.com/post",
  "method": "POST",
  "payload": "{\"q\":1}",
  "headers": {
    "content-type": "application/json"
  },
  "user_data": {
    "label": "DETAIL",
    "foo": "bar"
  },
  "retry_count": 0,
  "no_retry": false,
  "loaded_url": null,
  "handled_at": null
}"#;
        assert_eq!(expected.len(), 358);
        assert_eq!(dumps(&post), expected);
    }

    #[test]
    fn spec_rq_state_record() {
        let state = json!({
            "sequence_counter": 6,
            "forefront_sequence_counter": 2,
            "forefront_requests": {},
            "regular_requests": {
                "https://example.com/path?a=1&b=2": 0,
                "POST|60d83e70|6ae0f660|https://example.com/post": 1,
                "https://example.com/1": 2,
                "https://example.com/2": 3,
                "https://example.com/3": 4,
                "https://example.com/front": 5
            },
            "in_progress_requests": ["https://example.com/path?a=1&b=2"],
            "handled_requests": ["https://example.com/front2"]
        });
        let expected = r#"{
  "sequence_counter": 6,
  "forefront_sequence_counter": 2,
  "forefront_requests": {},
  "regular_requests": {
    "https://example.com/path?a=1&b=2": 0,
    "POST|60d83e70|6ae0f660|https://example.com/post": 1,
    "https://example.com/1": 2,
    "https://example.com/2": 3,
    "https://example.com/3": 4,
    "https://example.com/front": 5
  },
  "in_progress_requests": [
    "https://example.com/path?a=1&b=2"
  ],
  "handled_requests": [
    "https://example.com/front2"
  ]
}"#;
        assert_eq!(expected.len(), 485);
        assert_eq!(dumps(&state), expected);
    }

    #[test]
    fn spec_user_data_example() {
        let user_data = json!({
            "__crawlee": {"maxRetries": 3, "enqueueStrategy": "same-domain", "state": 4, "crawlDepth": 2},
            "label": "L",
            "k": [1, {"z": null}]
        });
        let expected = r#"{
  "__crawlee": {
    "maxRetries": 3,
    "enqueueStrategy": "same-domain",
    "state": 4,
    "crawlDepth": 2
  },
  "label": "L",
  "k": [
    1,
    {
      "z": null
    }
  ]
}"#;
        assert_eq!(dumps(&user_data), expected);
    }

    #[test]
    fn parse_reads_own_output_back() {
        let value = json!({"a": [1, -2.5, 1e-5, "x\u{1}\"\\", {"b": null}], "c": 1e16, "d": u64::MAX});
        let (parsed, replaced) = parse_tolerant(dumps(&value).as_bytes()).unwrap();
        assert_eq!(parsed, value);
        assert!(!replaced);
    }

    #[test]
    fn parse_replaces_non_finite_tokens() {
        let text = "{\n  \"a\": NaN,\n  \"b\": [\n    Infinity,\n    -Infinity,\n    1.5\n  ]\n}";
        let (value, replaced) = parse_tolerant(text.as_bytes()).unwrap();
        assert!(replaced);
        assert_eq!(value, json!({"a": null, "b": [null, null, 1.5]}));
        assert_eq!(parse_tolerant(b"NaN").unwrap(), (Value::Null, true));
        assert_eq!(parse_tolerant(b" -Infinity ").unwrap(), (Value::Null, true));
        assert_eq!(parse_tolerant(b"[NaN,NaN]").unwrap(), (json!([null, null]), true));
    }

    #[test]
    fn parse_leaves_tokens_inside_strings() {
        let text = r#"{"NaN": "NaN", "s": "Infinity -Infinity \" NaN \\", "x": NaN, "t": "\\\"NaN"}"#;
        let (value, replaced) = parse_tolerant(text.as_bytes()).unwrap();
        assert!(replaced);
        assert_eq!(value, json!({"NaN": "NaN", "s": "Infinity -Infinity \" NaN \\", "x": null, "t": "\\\"NaN"}));
        // Valid JSON with the tokens only inside strings takes the fast path.
        assert_eq!(parse_tolerant(br#"["NaN", "-Infinity"]"#).unwrap(), (json!(["NaN", "-Infinity"]), false));
    }

    #[test]
    fn parse_errors() {
        assert!(parse_tolerant(b"").is_err());
        assert!(parse_tolerant(b"{").is_err());
        assert!(parse_tolerant(b"[NaN").is_err());
        assert!(parse_tolerant(b"nan").is_err());
        assert!(parse_tolerant(b"-NaN").is_err());
        assert!(parse_tolerant(b"+Infinity").is_err());
        assert!(parse_tolerant(b"[1NaN]").is_err());
        assert!(parse_tolerant(b"Infinit").is_err());
        assert!(parse_tolerant(b"\"NaN").is_err());
        assert!(parse_tolerant(b"\"\\").is_err());
        assert!(parse_tolerant(&[0xff, b'N', b'a', b'N']).is_err());
        // The second attempt's error has the same line number as the problem in the original text.
        let err = parse_tolerant(b"[\n  NaN,\n  x\n]").unwrap_err();
        assert_eq!(err.line(), 3);
    }
}
