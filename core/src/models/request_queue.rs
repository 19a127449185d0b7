use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{GeneralAccess, Timestamp, timestamp};

/// Usage counters of a request queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct RequestQueueStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_item_read_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_count: Option<u64>,
}

/// A request queue (`GET /v2/request-queues/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestQueue {
    /// Storage ID.
    pub id: String,
    /// Name; `None` for unnamed queues.
    #[serde(default)]
    pub name: Option<String>,
    /// Owner.
    pub user_id: String,
    /// Actor that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_id: Option<String>,
    /// Run that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_run_id: Option<String>,
    /// Creation time.
    #[serde(with = "timestamp")]
    pub created_at: Timestamp,
    /// Last modification.
    #[serde(with = "timestamp")]
    pub modified_at: Timestamp,
    /// Last access.
    #[serde(with = "timestamp")]
    pub accessed_at: Timestamp,
    /// Requests ever added.
    pub total_request_count: u64,
    /// Requests handled.
    pub handled_request_count: u64,
    /// Requests waiting.
    pub pending_request_count: u64,
    /// Whether more than one client has used the queue.
    pub had_multiple_clients: bool,
    /// Console page.
    pub console_url: String,
    /// Usage counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<RequestQueueStats>,
    /// Access level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general_access: Option<GeneralAccess>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A request queue as listed by `GET /v2/request-queues`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestQueueShort {
    /// Storage ID.
    pub id: String,
    /// Name (unnamed queues may list `null`).
    #[serde(default)]
    pub name: Option<String>,
    /// Owner.
    pub user_id: String,
    /// Owner's username.
    #[serde(default)]
    pub username: Option<String>,
    /// Creation time.
    #[serde(with = "timestamp")]
    pub created_at: Timestamp,
    /// Last modification.
    #[serde(with = "timestamp")]
    pub modified_at: Timestamp,
    /// Last access.
    #[serde(with = "timestamp")]
    pub accessed_at: Timestamp,
    /// Expiry of an unnamed queue.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]
    pub expire_at: Option<Timestamp>,
    /// Requests ever added.
    pub total_request_count: u64,
    /// Requests handled.
    pub handled_request_count: u64,
    /// Requests waiting.
    pub pending_request_count: u64,
    /// Actor that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_id: Option<String>,
    /// Run that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_run_id: Option<String>,
    /// Whether more than one client has used the queue.
    pub had_multiple_clients: bool,
    /// Access level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general_access: Option<GeneralAccess>,
    /// Usage counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<RequestQueueStats>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A request of a request queue, as stored and as sent (`id` only on update).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// Request ID (derived from the unique key by the platform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Deduplication key.
    pub unique_key: String,
    /// URL to fetch.
    pub url: String,
    /// HTTP method (`GET` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Body to send (a string, or an object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// Headers to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Map<String, Value>>,
    /// Arbitrary user data (`label`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<Map<String, Value>>,
    /// Times the request was retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<u32>,
    /// Whether it must not be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_retry: Option<bool>,
    /// URL after redirects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaded_url: Option<String>,
    /// When it was handled; `None` while pending.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]
    pub handled_at: Option<Timestamp>,
    /// Errors of failed attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_messages: Option<Vec<String>>,
    /// When its lock expires (undeclared, returned by the platform).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]
    pub lock_expires_at: Option<Timestamp>,
    /// Client holding the lock (undeclared, returned by the platform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_by_client: Option<String>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Request {
    /// A `GET` request of `url` deduplicated by `unique_key`.
    pub fn new(unique_key: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            id: None,
            unique_key: unique_key.into(),
            url: url.into(),
            method: None,
            payload: None,
            headers: None,
            user_data: None,
            retry_count: None,
            no_retry: None,
            loaded_url: None,
            handled_at: None,
            error_messages: None,
            lock_expires_at: None,
            lock_by_client: None,
            extra: Map::new(),
        }
    }
}

/// A request at the head of a queue (`lockExpiresAt` set when it was locked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct HeadRequest {
    pub id: String,
    pub unique_key: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]
    pub lock_expires_at: Option<Timestamp>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET .../head`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct RequestQueueHead {
    pub limit: u64,
    #[serde(with = "timestamp")]
    pub queue_modified_at: Timestamp,
    pub had_multiple_clients: bool,
    pub items: Vec<HeadRequest>,
}

/// `POST .../head/lock`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct LockedRequestQueueHead {
    pub limit: u64,
    #[serde(with = "timestamp")]
    pub queue_modified_at: Timestamp,
    pub had_multiple_clients: bool,
    pub lock_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_has_locked_requests: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    pub items: Vec<HeadRequest>,
}

/// Result of adding or updating one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct RequestRegistration {
    pub request_id: String,
    pub was_already_present: bool,
    pub was_already_handled: bool,
}

/// A request a batch add processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct AddedRequest {
    pub request_id: String,
    pub unique_key: String,
    pub was_already_present: bool,
    pub was_already_handled: bool,
}

/// A request a batch operation did not process; the caller may retry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct UnprocessedRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// `POST .../requests/batch` (merged over all batches by the client).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct BatchAddResult {
    pub processed_requests: Vec<AddedRequest>,
    pub unprocessed_requests: Vec<UnprocessedRequest>,
}

/// A request a batch delete removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct DeletedRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_key: Option<String>,
}

/// `DELETE .../requests/batch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct BatchDeleteResult {
    pub processed_requests: Vec<DeletedRequest>,
    pub unprocessed_requests: Vec<UnprocessedRequest>,
}

/// `GET .../requests` (cursor pagination).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ListOfRequests {
    pub items: Vec<Request>,
    pub limit: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_start_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `PUT .../requests/{id}/lock`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct RequestLockInfo {
    #[serde(with = "timestamp")]
    pub lock_expires_at: Timestamp,
}

/// `POST .../requests/unlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct UnlockRequestsResult {
    pub unlocked_count: u64,
}
