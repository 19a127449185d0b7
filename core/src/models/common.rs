use serde::{Deserialize, Serialize};

use super::open_enum;

open_enum! {
    /// Who may read a storage without a token.
    GeneralAccess {
        /// Anyone who knows the ID.
        AnyoneWithIdCanRead = "ANYONE_WITH_ID_CAN_READ",
        /// Anyone who knows the name.
        AnyoneWithNameCanRead = "ANYONE_WITH_NAME_CAN_READ",
        /// The account's default.
        FollowUserSetting = "FOLLOW_USER_SETTING",
        /// Only the owner and those it shares with.
        Restricted = "RESTRICTED",
    }
}

/// One page of an offset-paginated list (collections, dataset items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Total count (may lag behind; never stop paging on it).
    pub total: u64,
    /// Offset of the first item.
    pub offset: u64,
    /// Rows scanned for this page (may exceed `items.len()` with `clean`/`skipEmpty`).
    pub count: u64,
    /// Page size limit.
    pub limit: u64,
    /// Whether the order is descending.
    pub desc: bool,
    /// Storage lists: whether unnamed storages were included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unnamed: Option<bool>,
}

/// An unpaginated list with its total (an Actor's versions, a version's environment
/// variables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemList<T> {
    /// Total count.
    pub total: u64,
    /// The items.
    pub items: Vec<T>,
}
