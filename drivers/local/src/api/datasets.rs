//! `/v2/datasets/{id}/...`

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, Response, StatusCode};
use serde_json::{Map, Value, json};

use super::{ApiFailure, ApiResult, Call, LocalApi, json_response, method_not_allowed};
use crate::storage::{Dataset, ItemQuery, ItemsPage, Kind};

impl LocalApi {
    fn dataset(&self, id: &str) -> ApiResult<Arc<Dataset>> {
        let target = Self::target_of(id);
        self.storages().existing(Kind::Dataset, &target)?;
        Ok(self.storages().open_dataset(&target)?.0)
    }

    pub(crate) fn dataset_route(&self, id: &str, tail: &[&str], call: &Call<'_>) -> ApiResult {
        let m = call.method;
        match tail {
            [] => match *m {
                Method::GET => self.get_storage(Kind::Dataset, id),
                Method::PUT => self.update_storage(Kind::Dataset, id, call),
                Method::DELETE => self.delete_storage(Kind::Dataset, id),
                _ => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
            },
            ["items"] => match *m {
                Method::GET | Method::HEAD => self.get_items(id, call),
                Method::POST => self.push_items(id, call),
                _ => Err(method_not_allowed(m, &["GET", "HEAD", "POST"])),
            },
            ["statistics"] => match *m {
                Method::GET => self.statistics(id),
                _ => Err(method_not_allowed(m, &["GET"])),
            },
            _ => Err(ApiFailure::new(StatusCode::NOT_FOUND, "page-not-found", "no such dataset endpoint")),
        }
    }

    /// Per-field statistics of the top-level fields: `null` values, empty or missing
    /// values, and the range of numeric values.
    fn statistics(&self, id: &str) -> ApiResult {
        let ds = self.dataset(id)?;
        let page = ds.get_items(&ItemQuery::default())?;
        let mut fields: Vec<String> = Vec::new();
        for item in &page.items {
            for k in item.as_object().into_iter().flat_map(Map::keys) {
                if !fields.contains(k) {
                    fields.push(k.clone());
                }
            }
        }
        let mut stats = Map::new();
        for f in fields {
            let (mut nulls, mut empty, mut min, mut max) = (0u64, 0u64, None::<f64>, None::<f64>);
            for item in &page.items {
                match item.get(&f) {
                    Some(Value::Null) => nulls += 1,
                    None => empty += 1,
                    Some(Value::String(s)) if s.is_empty() => empty += 1,
                    Some(Value::Array(a)) if a.is_empty() => empty += 1,
                    Some(Value::Object(o)) if o.is_empty() => empty += 1,
                    Some(Value::Number(n)) => {
                        if let Some(x) = n.as_f64() {
                            min = Some(min.map_or(x, |m: f64| m.min(x)));
                            max = Some(max.map_or(x, |m: f64| m.max(x)));
                        }
                    }
                    Some(_) => {}
                }
            }
            stats.insert(f, json!({"min": min, "max": max, "nullCount": nulls, "emptyCount": empty}));
        }
        Ok(super::data(StatusCode::OK, json!({ "fieldStatistics": stats })))
    }

    fn push_items(&self, id: &str, call: &Call<'_>) -> ApiResult {
        let items = match call.json()? {
            Value::Array(items) => items,
            obj @ Value::Object(_) => vec![obj],
            _ => return Err(ApiFailure::bad_request("Request body must be a JSON object or an array of JSON objects")),
        };
        if let Some(i) = items.iter().position(|v| !v.is_object()) {
            return Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid-value",
                format!("Dataset item at index {i} must be a JSON object"),
            ));
        }
        let ds = self.dataset(id)?;
        ds.push(&items)?;
        let mut r = json_response(StatusCode::CREATED, &Value::Object(Map::new()));
        let location = format!("{}/v2/datasets/{}/items", self.config().public_base.trim_end_matches('/'), ds.id());
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(LOCATION, v);
        }
        Ok(r)
    }

    fn get_items(&self, id: &str, call: &Call<'_>) -> ApiResult {
        let q = &call.query;
        let clean = q.bool("clean")?;
        let query = ItemQuery {
            offset: q.u64("offset")?.unwrap_or(0),
            limit: q.u64("limit")?,
            desc: q.bool("desc")?,
            skip_empty: clean || q.bool("skipEmpty")?,
            skip_hidden: clean || q.bool("skipHidden")?,
            fields: q.list("fields"),
            omit: q.list("omit"),
        };
        let format = q.str("format").unwrap_or("json");
        let ds = self.dataset(id)?;
        let page = ds.get_items(&query)?;
        let (body, content_type) = match format {
            "json" => (serde_json::to_vec(&page.items).unwrap_or_default(), "application/json; charset=utf-8"),
            "jsonl" => (jsonl(&page.items), "application/jsonl; charset=utf-8"),
            "csv" => (
                // CSV starts with a byte-order mark unless `bom=false` (as documented).
                csv(
                    &page.items,
                    q.str("delimiter"),
                    q.str("bom").is_none() || q.bool("bom")?,
                    q.bool("skipHeaderRow")?,
                )?,
                "text/csv; charset=utf-8",
            ),
            other => {
                return Err(ApiFailure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-parameter",
                    format!("format {other:?} is not supported by the local storage (use json, jsonl or csv)"),
                ));
            }
        };
        let mut r = Response::new(if *call.method == Method::HEAD { Bytes::new() } else { Bytes::from(body) });
        let h = r.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        pagination_headers(h, &page);
        if q.bool("attachment")? {
            let name = format!("attachment; filename=\"dataset_{}.{format}\"", ds.id());
            if let Ok(v) = HeaderValue::from_str(&name) {
                h.insert(CONTENT_DISPOSITION, v);
            }
        }
        Ok(r)
    }
}

fn pagination_headers(h: &mut http::HeaderMap, page: &ItemsPage) {
    for (name, value) in [
        ("x-apify-pagination-offset", page.offset.to_string()),
        ("x-apify-pagination-limit", page.limit.to_string()),
        ("x-apify-pagination-count", page.count.to_string()),
        ("x-apify-pagination-total", page.total.to_string()),
        ("x-apify-pagination-desc", page.desc.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

fn jsonl(items: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        if serde_json::to_writer(&mut out, item).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// Flattens nested objects and arrays into `a/b` and `a/0` columns, as the platform's
/// tabular exports do.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                flatten(&join(prefix, k), v, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                flatten(&join(prefix, &i.to_string()), v, out);
            }
        }
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        Value::Object(_) | Value::Array(_) => out.push((prefix.to_owned(), String::new())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_owned() } else { format!("{prefix}/{key}") }
}

fn csv(items: &[Value], delimiter: Option<&str>, bom: bool, skip_header: bool) -> ApiResult<Vec<u8>> {
    let delimiter = match delimiter.map(str::as_bytes) {
        None => b',',
        Some([d]) => *d,
        Some(b"\\t") => b'\t',
        Some(_) => return Err(ApiFailure::bad_request("delimiter must be one character")),
    };
    let rows: Vec<Vec<(String, String)>> = items
        .iter()
        .map(|item| {
            let mut row = Vec::new();
            flatten("", item, &mut row);
            row
        })
        .collect();
    // Columns in order of first appearance across all items.
    let mut columns: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        for (k, _) in row {
            if !k.is_empty() && seen.insert(k.clone()) {
                columns.push(k.clone());
            }
        }
    }
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    let mut w = ::csv::WriterBuilder::new().delimiter(delimiter).from_writer(out);
    let fail =
        |e: ::csv::Error| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal-server-error", e.to_string());
    if !skip_header {
        w.write_record(&columns).map_err(fail)?;
    }
    for row in rows {
        let map: std::collections::HashMap<String, String> = row.into_iter().collect();
        w.write_record(columns.iter().map(|c| map.get(c).map_or("", String::as_str))).map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| ApiFailure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal-server-error", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_flattens_and_unions_columns() {
        let items =
            vec![serde_json::json!({"a": 1, "n": {"x": "q,\"r"}}), serde_json::json!({"b": [true, null], "a": null})];
        let out = String::from_utf8(csv(&items, None, false, false).unwrap()).unwrap();
        assert_eq!(out, "a,n/x,b/0,b/1\n1,\"q,\"\"r\",,\ntrue,,,\n".replace("true,,,", ",,true,"));
        let out = String::from_utf8(csv(&items[..1], Some(";"), true, true).unwrap()).unwrap();
        assert_eq!(out, "\u{feff}1;\"q,\"\"r\"\n");
    }
}
