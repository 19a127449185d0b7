//! `/v2/request-queues/{id}/...`

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ApiFailure, ApiResult, Call, LocalApi, data, method_not_allowed, no_content};
use crate::format::timestamp::format_api;
use crate::storage::{HeadItem, Kind, RequestEntry, RequestQueue, RequestRef, StoredRequest};

const MAX_BATCH: usize = 25;

/// A head item: the declared fields, plus the rest of the request when known (extra fields
/// are allowed, and they spare a consumer one `get_request` per request).
fn head_json(i: &HeadItem) -> Value {
    let mut v = match &i.request {
        Some(r) => r.to_api(&i.id),
        None => {
            json!({"id": i.id, "uniqueKey": i.unique_key, "url": i.url, "method": i.method, "retryCount": i.retry_count})
        }
    };
    if let Some(t) = i.lock_expires_at {
        v["lockExpiresAt"] = format_api(t).into();
    }
    v
}

fn entry_json(e: &RequestEntry) -> Value {
    let mut v = e.request.to_api(&e.id);
    if let Some(t) = e.lock_expires_at {
        v["lockExpiresAt"] = format_api(t).into();
    }
    if let Some(c) = &e.lock_by_client {
        v["lockByClient"] = c.clone().into();
    }
    v
}

fn registration(o: &crate::storage::AddOutcome) -> Value {
    json!({"requestId": o.request_id, "wasAlreadyPresent": o.was_already_present, "wasAlreadyHandled": o.was_already_handled})
}

impl LocalApi {
    fn rq(&self, id: &str) -> ApiResult<Arc<RequestQueue>> {
        let target = Self::target_of(id);
        self.storages().existing(Kind::RequestQueue, &target)?;
        Ok(self.storages().open_request_queue(&target)?.0)
    }

    pub(crate) fn rq_route(&self, id: &str, tail: &[&str], call: &Call<'_>) -> ApiResult {
        let m = call.method;
        match tail {
            [] => match *m {
                Method::GET => self.get_storage(Kind::RequestQueue, id),
                Method::PUT => self.update_storage(Kind::RequestQueue, id, call),
                Method::DELETE => self.delete_storage(Kind::RequestQueue, id),
                _ => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
            },
            ["head"] => match *m {
                Method::GET => self.head(id, call),
                _ => Err(method_not_allowed(m, &["GET"])),
            },
            ["head", "lock"] => match *m {
                Method::POST => self.lock_head(id, call),
                _ => Err(method_not_allowed(m, &["POST"])),
            },
            ["requests"] => match *m {
                Method::GET => self.list_requests(id, call),
                Method::POST => self.add_request(id, call),
                _ => Err(method_not_allowed(m, &["GET", "POST"])),
            },
            ["requests", "batch"] => match *m {
                Method::POST => self.batch_add(id, call),
                Method::DELETE => self.batch_delete(id, call),
                _ => Err(method_not_allowed(m, &["POST", "DELETE"])),
            },
            ["requests", "unlock"] => match *m {
                Method::POST => {
                    let n = self.rq(id)?.unlock_all(call.client_key())?;
                    Ok(data(StatusCode::OK, json!({"unlockedCount": n})))
                }
                _ => Err(method_not_allowed(m, &["POST"])),
            },
            ["requests", rid] => match *m {
                Method::GET => {
                    let e = self
                        .rq(id)?
                        .get(rid)?
                        .ok_or_else(|| ApiFailure::not_found(format!("Request {rid:?} was not found")))?;
                    Ok(data(StatusCode::OK, entry_json(&e)))
                }
                Method::PUT => self.update_request(id, rid, call),
                Method::DELETE => {
                    self.rq(id)?.delete(rid, call.client_key())?;
                    Ok(no_content())
                }
                _ => Err(method_not_allowed(m, &["GET", "PUT", "DELETE"])),
            },
            ["requests", rid, "lock"] => match *m {
                Method::PUT => {
                    let secs = lock_secs(call)?;
                    let forefront = call.query.bool("forefront")?;
                    let at = self.rq(id)?.prolong_lock(rid, secs, forefront, call.client_key())?;
                    Ok(data(StatusCode::OK, json!({"lockExpiresAt": format_api(at)})))
                }
                Method::DELETE => {
                    let forefront = call.query.bool("forefront")?;
                    self.rq(id)?.delete_lock(rid, forefront, call.client_key())?;
                    Ok(no_content())
                }
                _ => Err(method_not_allowed(m, &["PUT", "DELETE"])),
            },
            _ => Err(ApiFailure::new(StatusCode::NOT_FOUND, "page-not-found", "no such request queue endpoint")),
        }
    }

    fn head(&self, id: &str, call: &Call<'_>) -> ApiResult {
        let limit = call.query.u64("limit")?.unwrap_or(100).clamp(1, 10_000) as usize;
        let (items, multiple, modified) = self.rq(id)?.head(limit, call.client_key())?;
        let items: Vec<Value> = items.iter().map(head_json).collect();
        Ok(data(
            StatusCode::OK,
            json!({"limit": limit, "queueModifiedAt": format_api(modified), "hadMultipleClients": multiple, "items": items}),
        ))
    }

    fn lock_head(&self, id: &str, call: &Call<'_>) -> ApiResult {
        let secs = lock_secs(call)?;
        let limit = call.query.u64("limit")?.unwrap_or(25);
        if !(1..=25).contains(&limit) {
            return Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                "limit must be between 1 and 25",
            ));
        }
        let head = self.rq(id)?.lock_head(limit as usize, secs, call.client_key())?;
        let items: Vec<Value> = head.items.iter().map(head_json).collect();
        let mut v = json!({
            "limit": limit,
            "queueModifiedAt": format_api(head.queue_modified_at),
            "hadMultipleClients": head.had_multiple_clients,
            "lockSecs": secs.as_secs(),
            "queueHasLockedRequests": head.queue_has_locked_requests,
            "items": items,
        });
        if let Some(k) = call.client_key() {
            v["clientKey"] = k.into();
        }
        Ok(data(StatusCode::CREATED, v))
    }

    fn add_request(&self, id: &str, call: &Call<'_>) -> ApiResult {
        let req = StoredRequest::from_api(&call.json()?)?;
        let forefront = call.query.bool("forefront")?;
        let out = self.rq(id)?.add(vec![req], forefront, call.client_key())?;
        let first = out.first().ok_or_else(|| ApiFailure::bad_request("no request was added"))?;
        Ok(data(StatusCode::CREATED, registration(first)))
    }

    fn update_request(&self, id: &str, rid: &str, call: &Call<'_>) -> ApiResult {
        let body = call.json()?;
        if let Some(body_id) = body.get("id").and_then(Value::as_str)
            && body_id != rid
        {
            return Err(ApiFailure::bad_request(format!(
                "request id {body_id:?} in the body does not match {rid:?} in the URL"
            )));
        }
        let req = StoredRequest::from_api(&body)?;
        let forefront = call.query.bool("forefront")?;
        let out = self.rq(id)?.update(rid, req, forefront, call.client_key())?;
        Ok(data(StatusCode::OK, registration(&out)))
    }

    fn batch_add(&self, id: &str, call: &Call<'_>) -> ApiResult {
        let Value::Array(raw) = call.json()? else {
            return Err(ApiFailure::bad_request("Request body must be a JSON array of requests"));
        };
        if raw.len() > MAX_BATCH {
            return Err(ApiFailure::bad_request(format!(
                "a batch may hold at most {MAX_BATCH} requests, got {}",
                raw.len()
            )));
        }
        let requests = raw.iter().map(StoredRequest::from_api).collect::<Result<Vec<_>, _>>()?;
        let forefront = call.query.bool("forefront")?;
        let out = self.rq(id)?.add(requests, forefront, call.client_key())?;
        let processed: Vec<Value> = out
            .iter()
            .map(|o| {
                json!({"requestId": o.request_id, "uniqueKey": o.unique_key, "wasAlreadyPresent": o.was_already_present, "wasAlreadyHandled": o.was_already_handled})
            })
            .collect();
        Ok(data(StatusCode::CREATED, json!({"processedRequests": processed, "unprocessedRequests": []})))
    }

    fn batch_delete(&self, id: &str, call: &Call<'_>) -> ApiResult {
        let Value::Array(raw) = call.json()? else {
            return Err(ApiFailure::bad_request("Request body must be a JSON array of {id} or {uniqueKey} objects"));
        };
        if raw.len() > MAX_BATCH {
            return Err(ApiFailure::bad_request(format!(
                "a batch may hold at most {MAX_BATCH} requests, got {}",
                raw.len()
            )));
        }
        let refs = raw
            .iter()
            .map(|v| {
                if let Some(i) = v.get("id").and_then(Value::as_str) {
                    Ok(RequestRef::Id(i.to_owned()))
                } else if let Some(k) = v.get("uniqueKey").and_then(Value::as_str) {
                    Ok(RequestRef::UniqueKey(k.to_owned()))
                } else {
                    Err(ApiFailure::bad_request("each request to delete needs an id or a uniqueKey"))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (done, missing) = self.rq(id)?.batch_delete(refs, call.client_key())?;
        // A request that is not there is already as the caller wants it: processed.
        let mut processed: Vec<Value> = done.iter().map(|(i, k)| json!({"id": i, "uniqueKey": k})).collect();
        processed.extend(missing.iter().map(|r| match r {
            RequestRef::Id(i) => json!({"id": i}),
            RequestRef::UniqueKey(k) => json!({"uniqueKey": k}),
        }));
        Ok(data(StatusCode::OK, json!({"processedRequests": processed, "unprocessedRequests": []})))
    }

    fn list_requests(&self, id: &str, call: &Call<'_>) -> ApiResult {
        let q = &call.query;
        let limit = q.u64("limit")?.unwrap_or(1000).clamp(1, 10_000) as usize;
        let filter = q.list("filter").unwrap_or_default();
        let (pending, locked) = (filter.iter().any(|f| f == "pending"), filter.iter().any(|f| f == "locked"));
        if let Some(bad) = filter.iter().find(|f| *f != "pending" && *f != "locked") {
            return Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                format!("unknown filter {bad:?}"),
            ));
        }
        if q.str("exclusiveStartId").is_some() {
            return Err(ApiFailure::new(
                StatusCode::BAD_REQUEST,
                "invalid-parameter",
                "exclusiveStartId is deprecated and not supported by the local storage; use cursor",
            ));
        }
        let cursor = q.str("cursor");
        let (entries, next) = self.rq(id)?.list(limit, cursor, pending, locked, call.client_key())?;
        let items: Vec<Value> = entries.iter().map(entry_json).collect();
        let mut v = json!({"items": items, "limit": limit});
        if let Some(c) = cursor {
            v["cursor"] = c.into();
        }
        if let Some(n) = next {
            v["nextCursor"] = n.into();
        }
        Ok(data(StatusCode::OK, v))
    }
}

fn lock_secs(call: &Call<'_>) -> ApiResult<Duration> {
    call.query
        .u64("lockSecs")?
        .map(Duration::from_secs)
        .ok_or_else(|| ApiFailure::new(StatusCode::BAD_REQUEST, "parameter-required", "lockSecs is required"))
}
