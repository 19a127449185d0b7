use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{GeneralAccess, Timestamp, timestamp};

/// Usage counters of a dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct DatasetStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflated_bytes: Option<u64>,
}

/// A dataset (`GET /v2/datasets/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    /// Storage ID.
    pub id: String,
    /// Name; `None` for unnamed datasets.
    #[serde(default)]
    pub name: Option<String>,
    /// Owner.
    pub user_id: String,
    /// Creation time.
    #[serde(with = "timestamp")]
    pub created_at: Timestamp,
    /// Last modification.
    #[serde(with = "timestamp")]
    pub modified_at: Timestamp,
    /// Last access.
    #[serde(with = "timestamp")]
    pub accessed_at: Timestamp,
    /// Items stored.
    pub item_count: u64,
    /// Items that are not empty and not hidden.
    pub clean_item_count: u64,
    /// Actor that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_id: Option<String>,
    /// Run that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_run_id: Option<String>,
    /// Field names seen in items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Dataset schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Console page.
    pub console_url: String,
    /// Public items URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items_public_url: Option<String>,
    /// Secret for signing public URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_signing_secret_key: Option<String>,
    /// Access level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general_access: Option<GeneralAccess>,
    /// Usage counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<DatasetStats>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A dataset as listed by `GET /v2/datasets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetListItem {
    /// Storage ID.
    pub id: String,
    /// Name (unnamed datasets may list `null`).
    #[serde(default)]
    pub name: Option<String>,
    /// Owner.
    pub user_id: String,
    /// Creation time.
    #[serde(with = "timestamp")]
    pub created_at: Timestamp,
    /// Last modification.
    #[serde(with = "timestamp")]
    pub modified_at: Timestamp,
    /// Last access.
    #[serde(with = "timestamp")]
    pub accessed_at: Timestamp,
    /// Items stored.
    pub item_count: u64,
    /// Items that are not empty and not hidden.
    pub clean_item_count: u64,
    /// Actor that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_id: Option<String>,
    /// Run that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_run_id: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Owner's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Access level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub general_access: Option<GeneralAccess>,
    /// Usage counters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<DatasetStats>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Statistics of one field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct DatasetFieldStatistics {
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub null_count: Option<u64>,
    #[serde(default)]
    pub empty_count: Option<u64>,
}

/// `GET /v2/datasets/{id}/statistics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetStatistics {
    /// Per-field statistics.
    #[serde(default)]
    pub field_statistics: Option<std::collections::BTreeMap<String, DatasetFieldStatistics>>,
}
