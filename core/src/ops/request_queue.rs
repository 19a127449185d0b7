//! Request queue operations (storage-methods §6, client-behaviour §14). Operations marked
//! so in the table send the client's `clientKey`.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::{Method, StatusCode};
use serde::Serialize;

use super::registry;
use super::{Op, Operation, setters};
use crate::config::{Config, TimeoutTier};
use crate::error::Error;
use crate::models::{
    BatchAddResult, BatchDeleteResult, ListOfRequests, LockedRequestQueueHead, Request, RequestLockInfo,
    RequestQueueHead, RequestRegistration, UnlockRequestsResult, open_enum,
};
use crate::path::{Query, ResourcePath, encode_segment};
use crate::request::RequestBuilder;
use crate::response::{NotFound, expect_data, expect_no_content};

/// Most requests one batch call takes.
pub const MAX_BATCH_REQUESTS: usize = 25;
/// Most requests `head/lock` locks at once.
pub const MAX_LOCK_LIMIT: u64 = 25;

fn with_client_key(mut q: Query, target: &ResourcePath) -> Query {
    q.opt("clientKey", target.client_key());
    q
}

fn id_segment(id: &str) -> Result<String, Error> {
    encode_segment("a request ID", id)
}

/// `GET .../head`: the first pending requests, without locking.
#[derive(Debug, Clone, Default)]
pub struct ListHead {
    /// How many requests.
    pub limit: Option<u64>,
}

setters!([] ListHead {
    /// How many requests.
    limit: u64,
});

impl Operation for ListHead {
    type Output = RequestQueueHead;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let mut q = Query::new();
        q.opt("limit", self.limit);
        let req = RequestBuilder::new(
            config,
            Method::GET,
            target,
            &["head"],
            "RequestQueueClient.list_head",
            TimeoutTier::Short,
        )
        .operation(&registry::REQUEST_QUEUE_HEAD_GET)
        .query(with_client_key(q, target))
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "RequestQueueHead")))
    }
}

/// `POST .../head/lock`: takes and locks up to `limit` (≤ 25) pending requests.
#[derive(Debug, Clone)]
pub struct ListAndLockHead {
    /// How long the locks last (whole seconds).
    pub lock_duration: Duration,
    /// How many requests (≤ 25).
    pub limit: Option<u64>,
}

impl ListAndLockHead {
    /// Locks for `lock_duration`.
    pub fn new(lock_duration: Duration) -> Self {
        Self { lock_duration, limit: None }
    }
}

setters!([] ListAndLockHead {
    /// How many requests (≤ 25).
    limit: u64,
});

impl Operation for ListAndLockHead {
    type Output = LockedRequestQueueHead;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        if self.limit.is_some_and(|l| l > MAX_LOCK_LIMIT) {
            return Err(Error::invalid_argument(format!("head/lock takes at most {MAX_LOCK_LIMIT} requests")));
        }
        let mut q = Query::new();
        q.push("lockSecs", &self.lock_duration).opt("limit", self.limit);
        let req = RequestBuilder::new(
            config,
            Method::POST,
            target,
            &["head", "lock"],
            "RequestQueueClient.list_and_lock_head",
            TimeoutTier::Medium,
        )
        .operation(&registry::REQUEST_QUEUE_HEAD_LOCK_POST)
        .query(with_client_key(q, target))
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "LockedRequestQueueHead")))
    }
}

/// Serialises a request for sending, without the lock fields the platform returns but
/// does not accept back, and optionally without `id`.
fn request_body(request: &Request, keep_id: bool) -> Result<Vec<u8>, Error> {
    if request.unique_key.is_empty() || request.url.is_empty() {
        return Err(Error::invalid_argument("a request needs a non-empty uniqueKey and url"));
    }
    if (request.id.is_some() && !keep_id) || request.lock_expires_at.is_some() || request.lock_by_client.is_some() {
        let mut r = request.clone();
        if !keep_id {
            r.id = None;
        }
        r.lock_expires_at = None;
        r.lock_by_client = None;
        return crate::json::to_vec(&r);
    }
    crate::json::to_vec(request)
}

fn request_without_id(request: &Request) -> Result<Vec<u8>, Error> {
    request_body(request, false)
}

/// `POST .../requests`: adds one request (deduplicated by `uniqueKey`).
#[derive(Debug, Clone)]
pub struct AddRequest {
    /// The request.
    pub request: Request,
    /// Put it at the head of the queue.
    pub forefront: Option<bool>,
}

impl AddRequest {
    /// Adds `request` at the tail.
    pub fn new(request: Request) -> Self {
        Self { request, forefront: None }
    }
}

setters!([] AddRequest {
    /// Put it at the head of the queue.
    forefront: bool,
});

impl Operation for AddRequest {
    type Output = RequestRegistration;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let body = request_without_id(&self.request)?;
        let mut q = Query::new();
        q.opt("forefront", self.forefront);
        let req = RequestBuilder::new(
            config,
            Method::POST,
            target,
            &["requests"],
            "RequestQueueClient.add_request",
            TimeoutTier::Short,
        )
        .operation(&registry::REQUEST_QUEUE_REQUESTS_POST)
        .query(with_client_key(q, target))
        .idempotent()
        .raw_json(body.into(), "application/json")
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "RequestRegistration")))
    }
}

/// `GET .../requests/{id}`: the request, or `None` (no `clientKey` is sent).
#[derive(Debug, Clone)]
pub struct GetRequest {
    /// Request ID.
    pub id: String,
}

impl Operation for GetRequest {
    type Output = Option<Request>;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let seg = id_segment(&self.id)?;
        let req = RequestBuilder::new(
            config,
            Method::GET,
            target,
            &["requests", &seg],
            "RequestQueueClient.get_request",
            TimeoutTier::Short,
        )
        .operation(&registry::REQUEST_QUEUE_REQUEST_GET)
        .build()?;
        Ok(Op::new(req, |r| {
            if r.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            expect_data(r, "Request").map(Some)
        }))
    }
}

/// `PUT .../requests/{id}`: replaces a request (setting `handledAt` marks it handled).
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// The request; its `id` is required.
    pub request: Request,
    /// Move it to the head of the queue.
    pub forefront: Option<bool>,
}

impl UpdateRequest {
    /// Updates `request` (which must carry its `id`).
    pub fn new(request: Request) -> Self {
        Self { request, forefront: None }
    }
}

setters!([] UpdateRequest {
    /// Move it to the head of the queue.
    forefront: bool,
});

impl Operation for UpdateRequest {
    type Output = RequestRegistration;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let id = self
            .request
            .id
            .as_deref()
            .ok_or_else(|| Error::invalid_argument("update_request needs a request with an id"))?;
        let seg = id_segment(id)?;
        let mut q = Query::new();
        q.opt("forefront", self.forefront);
        let req = RequestBuilder::new(
            config,
            Method::PUT,
            target,
            &["requests", &seg],
            "RequestQueueClient.update_request",
            TimeoutTier::Medium,
        )
        .operation(&registry::REQUEST_QUEUE_REQUEST_PUT)
        .query(with_client_key(q, target))
        .raw_json(request_body(&self.request, true)?.into(), "application/json")
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "RequestRegistration")))
    }
}

/// `DELETE .../requests/{id}` (a 404 is an error).
#[derive(Debug, Clone)]
pub struct DeleteRequest {
    /// Request ID.
    pub id: String,
}

impl Operation for DeleteRequest {
    type Output = ();
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<()>, Error> {
        let seg = id_segment(&self.id)?;
        let req = RequestBuilder::new(
            config,
            Method::DELETE,
            target,
            &["requests", &seg],
            "RequestQueueClient.delete_request",
            TimeoutTier::Short,
        )
        .operation(&registry::REQUEST_QUEUE_REQUEST_DELETE)
        .query(with_client_key(Query::new(), target))
        .build()?;
        Ok(Op::new(req, |r| expect_no_content(r, NotFound::Error)))
    }
}

/// `PUT .../requests/{id}/lock`: extends a lock this client holds.
#[derive(Debug, Clone)]
pub struct ProlongRequestLock {
    /// Request ID.
    pub id: String,
    /// New lock duration from now.
    pub lock_duration: Duration,
    /// Where the request goes when the lock later expires.
    pub forefront: Option<bool>,
}

impl ProlongRequestLock {
    /// Prolongs the lock of `id` by `lock_duration`.
    pub fn new(id: impl Into<String>, lock_duration: Duration) -> Self {
        Self { id: id.into(), lock_duration, forefront: None }
    }
}

setters!([] ProlongRequestLock {
    /// Where the request goes when the lock later expires.
    forefront: bool,
});

impl Operation for ProlongRequestLock {
    type Output = RequestLockInfo;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let seg = id_segment(&self.id)?;
        let mut q = Query::new();
        q.push("lockSecs", &self.lock_duration).opt("forefront", self.forefront);
        let req = RequestBuilder::new(
            config,
            Method::PUT,
            target,
            &["requests", &seg, "lock"],
            "RequestQueueClient.prolong_request_lock",
            TimeoutTier::Medium,
        )
        .operation(&registry::REQUEST_QUEUE_REQUEST_LOCK_PUT)
        .query(with_client_key(q, target))
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "RequestLockInfo")))
    }
}

/// `DELETE .../requests/{id}/lock`: releases a lock this client holds.
#[derive(Debug, Clone)]
pub struct DeleteRequestLock {
    /// Request ID.
    pub id: String,
    /// Put the request at the head after unlocking.
    pub forefront: Option<bool>,
}

impl DeleteRequestLock {
    /// Unlocks `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into(), forefront: None }
    }
}

setters!([] DeleteRequestLock {
    /// Put the request at the head after unlocking.
    forefront: bool,
});

impl Operation for DeleteRequestLock {
    type Output = ();
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<()>, Error> {
        let seg = id_segment(&self.id)?;
        let mut q = Query::new();
        q.opt("forefront", self.forefront);
        let req = RequestBuilder::new(
            config,
            Method::DELETE,
            target,
            &["requests", &seg, "lock"],
            "RequestQueueClient.delete_request_lock",
            TimeoutTier::Short,
        )
        .operation(&registry::REQUEST_QUEUE_REQUEST_LOCK_DELETE)
        .query(with_client_key(q, target))
        .build()?;
        Ok(Op::new(req, |r| expect_no_content(r, NotFound::Error)))
    }
}

/// Packs requests into batch bodies of at most 25 requests and `max_bytes` each
/// (client-behaviour §13). A request too large for any batch is sent alone, and the API
/// decides.
pub fn chunk_requests(requests: &[Request], max_bytes: usize) -> Result<Vec<(Bytes, usize)>, Error> {
    let mut out = Vec::new();
    let mut cur = BytesMut::new();
    let mut n = 0;
    for r in requests {
        let item = request_without_id(r)?;
        if n > 0 && (n == MAX_BATCH_REQUESTS || cur.len() + 1 + item.len() + 1 > max_bytes) {
            cur.put_u8(b']');
            out.push((cur.split().freeze(), n));
            n = 0;
        }
        cur.put_u8(if n == 0 { b'[' } else { b',' });
        cur.put_slice(&item);
        n += 1;
    }
    if n > 0 {
        cur.put_u8(b']');
        out.push((cur.freeze(), n));
    }
    Ok(out)
}

/// `POST .../requests/batch`: one batch body from [`chunk_requests`].
#[derive(Debug, Clone)]
pub struct BatchAddRequests {
    /// JSON array of at most 25 requests.
    pub body: Bytes,
    /// Put them at the head of the queue.
    pub forefront: bool,
}

impl Operation for BatchAddRequests {
    type Output = BatchAddResult;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let mut q = Query::new();
        q.push("forefront", &self.forefront);
        let req = RequestBuilder::new(
            config,
            Method::POST,
            target,
            &["requests", "batch"],
            "RequestQueueClient.batch_add_requests",
            TimeoutTier::Medium,
        )
        .operation(&registry::REQUEST_QUEUE_REQUESTS_BATCH_POST)
        .query(with_client_key(q, target))
        .idempotent()
        .raw_json(self.body.clone(), "application/json")
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "BatchAddResult")))
    }
}

/// Which request a batch delete removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RequestRef {
    /// By request ID.
    #[serde(rename = "id")]
    Id(String),
    /// By unique key.
    #[serde(rename = "uniqueKey")]
    UniqueKey(String),
}

/// `DELETE .../requests/batch` with a JSON body of at most 25 references.
#[derive(Debug, Clone)]
pub struct BatchDeleteRequests {
    /// The requests to delete.
    pub requests: Vec<RequestRef>,
}

impl Operation for BatchDeleteRequests {
    type Output = BatchDeleteResult;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        if self.requests.len() > MAX_BATCH_REQUESTS {
            return Err(Error::invalid_argument(format!("a batch delete takes at most {MAX_BATCH_REQUESTS} requests")));
        }
        let req = RequestBuilder::new(
            config,
            Method::DELETE,
            target,
            &["requests", "batch"],
            "RequestQueueClient.batch_delete_requests",
            TimeoutTier::Short,
        )
        .operation(&registry::REQUEST_QUEUE_REQUESTS_BATCH_DELETE)
        .query(with_client_key(Query::new(), target))
        .json(&self.requests, "application/json")?
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "BatchDeleteResult")))
    }
}

open_enum! {
    /// A filter of `list_requests`.
    RequestFilter {
        /// Requests not handled yet.
        Pending = "pending",
        /// Requests locked by someone.
        Locked = "locked",
    }
}

/// `GET .../requests`: one page, cursor-paginated.
#[derive(Debug, Clone, Default)]
#[allow(missing_docs)]
pub struct ListRequests {
    pub limit: Option<u64>,
    pub filter: Option<Vec<String>>,
    pub cursor: Option<String>,
    pub exclusive_start_id: Option<String>,
}

setters!(paged [] ListRequests {
    /// Page size (≤ 10 000); for iteration, the overall number of requests.
    limit: u64,
    /// `pending` and/or `locked` (see [`RequestFilter`]).
    filter: [list],
    /// Cursor from a previous page's `nextCursor`.
    cursor: String,
    /// Deprecated: start after this request ID (not with `filter`).
    exclusive_start_id: String,
});

impl ListRequests {
    /// Every request.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Operation for ListRequests {
    type Output = ListOfRequests;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        if self.filter.is_some() && self.exclusive_start_id.is_some() {
            return Err(Error::invalid_argument("exclusiveStartId cannot be combined with filter"));
        }
        let mut q = Query::new();
        q.opt("limit", self.limit)
            .opt("filter", self.filter.as_ref())
            .opt("cursor", self.cursor.as_ref())
            .opt("exclusiveStartId", self.exclusive_start_id.as_ref());
        let req = RequestBuilder::new(
            config,
            Method::GET,
            target,
            &["requests"],
            "RequestQueueClient.list_requests",
            TimeoutTier::Medium,
        )
        .operation(&registry::REQUEST_QUEUE_REQUESTS_GET)
        .query(with_client_key(q, target))
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "ListOfRequests")))
    }
}

/// `POST .../requests/unlock`: releases every lock this client holds.
#[derive(Debug, Clone, Default)]
pub struct UnlockRequests;

impl Operation for UnlockRequests {
    type Output = UnlockRequestsResult;
    #[inline]
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let req = RequestBuilder::new(
            config,
            Method::POST,
            target,
            &["requests", "unlock"],
            "RequestQueueClient.unlock_requests",
            TimeoutTier::Long,
        )
        .operation(&registry::REQUEST_QUEUE_REQUESTS_UNLOCK_POST)
        .query(with_client_key(Query::new(), target))
        .idempotent()
        .build()?;
        Ok(Op::new(req, |r| expect_data(r, "UnlockRequestsResult")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_fields_are_not_sent_back() {
        let mut r = Request::new("k", "https://e.com");
        r.id = Some("id1".into());
        r.lock_by_client = Some("other".into());
        r.lock_expires_at = Some(crate::models::timestamp::parse("2024-01-01T00:00:00Z").unwrap());
        let cfg = Config::new();
        let target = ResourcePath::resource("request-queues", "q").unwrap();
        let op = UpdateRequest::new(r.clone()).build(&cfg, &target).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&op.request.body).unwrap();
        assert_eq!(body, serde_json::json!({"id": "id1", "uniqueKey": "k", "url": "https://e.com"}));
        let op = AddRequest::new(r).build(&cfg, &target).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&op.request.body).unwrap();
        assert_eq!(body, serde_json::json!({"uniqueKey": "k", "url": "https://e.com"}));
    }

    #[test]
    fn batches_hold_at_most_25_and_respect_size() {
        let reqs: Vec<Request> = (0..60).map(|i| Request::new(format!("k{i}"), format!("https://e.com/{i}"))).collect();
        let chunks = chunk_requests(&reqs, 9_000_000).unwrap();
        assert_eq!(chunks.iter().map(|c| c.1).collect::<Vec<_>>(), [25, 25, 10]);
        let parsed: Vec<serde_json::Value> = serde_json::from_slice(&chunks[2].0).unwrap();
        assert_eq!(parsed[0]["uniqueKey"], "k50");
        let small = chunk_requests(&reqs[..5], 120).unwrap();
        assert!(small.iter().all(|c| c.0.len() <= 120 || c.1 == 1));
        assert_eq!(small.iter().map(|c| c.1).sum::<usize>(), 5);
        assert!(chunk_requests(&[Request::new("", "u")], 100).is_err());
    }
}
