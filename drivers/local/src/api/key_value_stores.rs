//! `/v2/key-value-stores/{id}/...`

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};

use super::{ApiFailure, ApiResult, Call, LocalApi, data, json_response, method_not_allowed, no_content};
use crate::storage::{KeyValueStore, Kind, encode_key, validate_key};

/// The platform's key rule, `^[a-zA-Z0-9!\-_.'()]{1,256}$`, plus the file-system hazards
/// the platform pattern lets through (W12).
fn check_key(key: &str, strict: bool) -> ApiResult<()> {
    let platform_ok = !strict
        || (1..=256).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"!-_.'()".contains(&b));
    if !platform_ok {
        return Err(ApiFailure::invalid_key(format!(
            "Record key {key:?} contains invalid character(s); allowed are a-z, A-Z, 0-9 and !-_.'() (1 to 256 characters)"
        )));
    }
    validate_key(key).map_err(|e| ApiFailure::invalid_key(e.to_string()))
}

impl LocalApi {
    fn kvs(&self, id: &str) -> ApiResult<Arc<KeyValueStore>> {
        let target = Self::target_of(id);
        self.storages().existing(Kind::KeyValueStore, &target)?;
        Ok(self.storages().open_key_value_store(&target)?.0)
    }

    pub(crate) fn kvs_route(&self, id: &str, tail: &[&str], call: &Call<'_>) -> ApiResult {
        let m = call.method;
        match tail {
            [] => match *m {
                Method::GET => self.get_storage(Kind::KeyValueStore, id),
                Method::PUT => self.update_storage(Kind::KeyValueStore, id, call),
                Method::DELETE => self.delete_storage(Kind::KeyValueStore, id),
                _ => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
            },
            ["keys"] => match *m {
                Method::GET => self.list_keys(id, call),
                _ => Err(method_not_allowed(m, &["GET"])),
            },
            ["records"] => Err(ApiFailure::new(
                StatusCode::NOT_FOUND,
                "page-not-found",
                "downloading all records as a zip is not offered by the local storage",
            )),
            ["records", key] => match *m {
                Method::GET | Method::HEAD => self.get_record(id, key, call),
                Method::PUT | Method::POST => self.set_record(id, key, call),
                Method::DELETE => self.delete_record(id, key),
                _ => Err(method_not_allowed(m, &["GET", "HEAD", "PUT", "POST", "DELETE"])),
            },
            _ => Err(ApiFailure::new(StatusCode::NOT_FOUND, "page-not-found", "no such key-value store endpoint")),
        }
    }

    fn record_url(&self, store_id: &str, key: &str) -> String {
        format!(
            "{}/v2/key-value-stores/{store_id}/records/{}",
            self.config().public_base.trim_end_matches('/'),
            encode_key(key)
        )
    }

    fn list_keys(&self, id: &str, call: &Call<'_>) -> ApiResult {
        let q = &call.query;
        let limit = q.u64("limit")?.unwrap_or(1000).clamp(1, 1000) as usize;
        let start = q.str("exclusiveStartKey");
        let store = self.kvs(id)?;
        let (keys, truncated) = store.list_keys(start, limit, q.str("prefix"));
        let next = if truncated { keys.last().map(|k| k.key.clone()) } else { None };
        let items: Vec<Value> = keys
            .iter()
            .map(|k| json!({"key": k.key, "size": k.size, "recordPublicUrl": self.record_url(store.id(), &k.key)}))
            .collect();
        Ok(data(
            StatusCode::OK,
            json!({
                "items": items,
                "count": items.len(),
                "limit": limit,
                "exclusiveStartKey": start,
                "isTruncated": truncated,
                "nextExclusiveStartKey": next,
            }),
        ))
    }

    fn get_record(&self, id: &str, key: &str, call: &Call<'_>) -> ApiResult {
        let store = self.kvs(id)?;
        let not_found = || ApiFailure::not_found(format!("Record {key:?} was not found"));
        if *call.method == Method::HEAD {
            let info = store.info(key).ok_or_else(not_found)?;
            let mut r = Response::new(Bytes::new());
            if let Ok(v) = HeaderValue::from_str(&info.content_type) {
                r.headers_mut().insert(CONTENT_TYPE, v);
            }
            r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(info.size));
            return Ok(r);
        }
        let mut record = store.get(key)?.ok_or_else(not_found)?;
        // W15: JSON the Python SDK wrote may hold NaN/Infinity, which is not JSON; serve it
        // with those tokens as null, like every other reader of the format.
        if record.content_type.contains("application/json")
            && serde_json::from_slice::<serde::de::IgnoredAny>(&record.value).is_err()
            && let Ok((value, true)) = crate::format::pyjson::parse_tolerant(&record.value)
        {
            tracing::warn!(key, "NaN or Infinity in a JSON record served as null");
            record.value = crate::format::pyjson::to_string_pretty(&value).into_bytes();
        }
        let mut r = Response::new(Bytes::from(record.value));
        if let Ok(v) = HeaderValue::from_str(&record.content_type) {
            r.headers_mut().insert(CONTENT_TYPE, v);
        }
        if call.query.bool("attachment")? {
            let disposition = format!("attachment; filename=\"{}\"", encode_key(key));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                r.headers_mut().insert(CONTENT_DISPOSITION, v);
            }
        }
        Ok(r)
    }

    fn set_record(&self, id: &str, key: &str, call: &Call<'_>) -> ApiResult {
        check_key(key, self.config().strict_record_keys)?;
        // The value is stored decoded: the encoding was only for the transfer.
        let body = call.body()?;
        let content_type = call
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .unwrap_or("application/octet-stream");
        let store = self.kvs(id)?;
        store.set(key, &body, content_type)?;
        let mut r = json_response(StatusCode::CREATED, &json!({}));
        if let Ok(v) = HeaderValue::from_str(&self.record_url(store.id(), key)) {
            r.headers_mut().insert(LOCATION, v);
        }
        Ok(r)
    }

    fn delete_record(&self, id: &str, key: &str) -> ApiResult {
        let store = self.kvs(id)?;
        if validate_key(key).is_err() || !store.delete(key)? {
            return Err(ApiFailure::not_found(format!("Record {key:?} was not found")));
        }
        Ok(no_content())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_key_rule() {
        for ok in ["INPUT", "a.b-c_d!(e)'f", &"k".repeat(200)] {
            assert!(check_key(ok, true).is_ok(), "{ok}");
        }
        // The platform takes 256 characters; a file name has room for 200 (W12).
        let e = check_key(&"k".repeat(256), true).unwrap_err();
        assert!(e.message.contains("longer than 200 bytes"), "{}", e.message);
        for bad in ["", "a b", "a/b", "klíč", "..", ".", "__metadata__.json", &"k".repeat(257)] {
            let e = check_key(bad, true).unwrap_err();
            assert_eq!((e.status, e.kind), (StatusCode::BAD_REQUEST, "invalid-record-key"), "{bad:?}");
        }
        // The SDK's local mode takes any key that makes a safe file name.
        assert!(check_key("weird key/with spaces?&#", false).is_ok());
        for bad in ["", "..", "__metadata__.json", "x.__metadata__.json"] {
            assert!(check_key(bad, false).is_err(), "{bad:?}");
        }
    }
}
