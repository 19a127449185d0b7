use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{GeneralAccess, Timestamp, timestamp};

/// Usage counters of a key-value store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct KeyValueStoreStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_storage_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_bytes: Option<u64>,
}

/// A key-value store (`GET /v2/key-value-stores/{id}`; also the list item).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValueStore {
    /// Storage ID.
    pub id: String,
    /// Name; `None` for unnamed stores.
    #[serde(default)]
    pub name: Option<String>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Owner's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// Actor that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_id: Option<String>,
    /// Run that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_run_id: Option<String>,
    /// Console page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    /// Public keys URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_public_url: Option<String>,
    /// Public records URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_public_url: Option<String>,
    /// Store schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Secret for signing public URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_signing_secret_key: Option<String>,
    /// Access level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general_access: Option<GeneralAccess>,
    /// Usage counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<KeyValueStoreStats>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One key of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValueStoreKey {
    /// Record key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Public URL of the record.
    #[serde(default)]
    pub record_public_url: Option<String>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET /v2/key-value-stores/{id}/keys`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOfKeys {
    /// Keys of this page.
    pub items: Vec<KeyValueStoreKey>,
    /// Number of keys on this page.
    pub count: u64,
    /// Page size limit.
    pub limit: u64,
    /// The cursor this page started after.
    #[serde(default)]
    pub exclusive_start_key: Option<String>,
    /// Whether more keys follow.
    pub is_truncated: bool,
    /// Cursor of the next page.
    #[serde(default)]
    pub next_exclusive_start_key: Option<String>,
}

/// A record value decoded by its content type.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordValue {
    /// `application/json…` (a 204 answer decodes as `Json(Null)`).
    Json(Value),
    /// `text/…` and `application/…xml`.
    Text(String),
    /// Anything else.
    Bytes(Bytes),
}

/// A key-value store record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<V = RecordValue> {
    /// Record key.
    pub key: String,
    /// The value.
    pub value: V,
    /// The `Content-Type` it was stored with (`None` if the server sent none).
    pub content_type: Option<String>,
}
