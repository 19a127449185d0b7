//! CSV export as the Python SDK writes it (storage-methods §7.3): header from the first
//! non-empty item (or every item's keys), Python `str()` of values, minimal quoting, `\n`.

use apify_local::format::pyjson;
use serde_json::Value;

use crate::error::{Error, Result};

/// Python `repr` of a string: single quotes unless the text has `'` and no `"`.
fn repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python `repr` of a JSON value (for nested values in CSV cells).
fn repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(_) => out.push_str(&pyjson::to_string_pretty(v)),
        Value::String(s) => repr_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_str(k, out);
                out.push_str(": ");
                repr(x, out);
            }
            out.push('}');
        }
    }
}

/// Python `str()` of a cell value: strings raw, `None` empty, the rest as `repr`.
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            let mut s = String::new();
            repr(other, &mut s);
            s
        }
    }
}

/// The CSV text of `items`.
pub(crate) fn to_csv(items: &[Value], collect_all_keys: bool) -> Result<String> {
    let objects: Vec<&serde_json::Map<String, Value>> =
        items.iter().filter_map(Value::as_object).filter(|o| !o.is_empty()).collect();
    let mut columns: Vec<String> = Vec::new();
    if collect_all_keys {
        for o in &objects {
            for k in o.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    } else if let Some(first) = objects.first() {
        columns = first.keys().cloned().collect();
        let dropped: Vec<String> = {
            let mut d: Vec<String> = Vec::new();
            for o in &objects {
                for k in o.keys() {
                    if !columns.contains(k) && !d.contains(k) {
                        d.push(k.clone());
                    }
                }
            }
            d.sort();
            d
        };
        if !dropped.is_empty() {
            tracing::warn!(
                "CSV export dropped {} key(s) not present in the first item: {}. Pass collect_all_keys=True to include keys from all items as columns.",
                dropped.len(),
                dropped.join(", ")
            );
        }
    }
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let fail = |e: csv::Error| Error::InvalidArgument(format!("CSV export failed: {e}"));
    if !columns.is_empty() {
        w.write_record(&columns).map_err(fail)?;
    }
    for o in objects {
        let row: Vec<String> = columns.iter().map(|c| cell(o.get(c))).collect();
        if row.len() == 1 && row[0].is_empty() {
            // Python's csv module writes a lone empty field as `""` (not an empty line).
            w.write_record([""]).map_err(fail)?;
        } else {
            w.write_record(&row).map_err(fail)?;
        }
    }
    let bytes = w.into_inner().map_err(|e| Error::InvalidArgument(format!("CSV export failed: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::InvalidArgument(format!("CSV export failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_the_reference_export() {
        // local-storage-format.md §11, EXPORT_CSV.
        let items = vec![
            json!({"url": "https://a.example", "title": "Ä unicode ✓", "n": 1}),
            json!({"url": "https://b.example", "n": 2, "nested": {"x": [1, 2]}}),
            json!({"n": 3, "extra": null}),
        ];
        assert_eq!(
            to_csv(&items, false).unwrap(),
            "url,title,n\nhttps://a.example,Ä unicode ✓,1\nhttps://b.example,,2\n,,3\n"
        );
    }

    #[test]
    fn python_rendering_of_values() {
        let items =
            vec![json!({"b": true, "f": 1.0, "o": {"x": 1, "s": "it's"}, "l": [1, "two", null], "q": "a,\"b\""})];
        assert_eq!(
            to_csv(&items, false).unwrap(),
            "b,f,o,l,q\nTrue,1.0,\"{'x': 1, 's': \"\"it's\"\"}\",\"[1, 'two', None]\",\"a,\"\"b\"\"\"\n"
        );
        let items = vec![json!({"a": 1}), json!({}), json!({"b": 2})];
        assert_eq!(to_csv(&items, true).unwrap(), "a,b\n1,\n,2\n");
        assert_eq!(to_csv(&[json!({"a": null})], false).unwrap(), "a\n\"\"\n");
    }
}
