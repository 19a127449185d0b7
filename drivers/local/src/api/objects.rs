//! Storage objects and lists in the platform's JSON shapes (camelCase, RFC 3339 times
//! with milliseconds, every field the official client's models require).

use serde_json::{Map, Value, json};

use super::ApiConfig;
use crate::format::timestamp::format_api;
use crate::storage::{Kind, StorageMeta};

pub(crate) fn collection(kind: Kind) -> &'static str {
    match kind {
        Kind::Dataset => "datasets",
        Kind::KeyValueStore => "key-value-stores",
        Kind::RequestQueue => "request-queues",
    }
}

/// A storage object (`GET /v2/{storages}/{id}`).
pub(crate) fn storage_object(cfg: &ApiConfig, kind: Kind, m: &StorageMeta) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), m.id.clone().into());
    o.insert("name".into(), m.name.clone().map_or(Value::Null, Value::String));
    o.insert("userId".into(), cfg.user_id.clone().into());
    o.insert("username".into(), cfg.username.clone().into());
    o.insert("createdAt".into(), format_api(m.created_at).into());
    o.insert("modifiedAt".into(), format_api(m.modified_at).into());
    o.insert("accessedAt".into(), format_api(m.accessed_at).into());
    o.insert("actId".into(), Value::Null);
    o.insert("actRunId".into(), Value::Null);
    let base = format!("{}/v2/{}/{}", cfg.public_base.trim_end_matches('/'), collection(kind), m.id);
    match kind {
        Kind::Dataset => {
            let n = m.item_count.unwrap_or(0);
            o.insert("itemCount".into(), n.into());
            o.insert("cleanItemCount".into(), n.into());
            o.insert("itemsPublicUrl".into(), format!("{base}/items").into());
        }
        Kind::KeyValueStore => {
            o.insert("keysPublicUrl".into(), format!("{base}/keys").into());
            o.insert("recordsPublicUrl".into(), format!("{base}/records").into());
        }
        Kind::RequestQueue => {
            o.insert("totalRequestCount".into(), m.total_request_count.unwrap_or(0).into());
            o.insert("handledRequestCount".into(), m.handled_request_count.unwrap_or(0).into());
            o.insert("pendingRequestCount".into(), m.pending_request_count.unwrap_or(0).into());
            o.insert("hadMultipleClients".into(), m.had_multiple_clients.unwrap_or(false).into());
        }
    }
    let console = format!("{}/storage/{}/{}", cfg.console_base.trim_end_matches('/'), collection(kind), m.id);
    o.insert("consoleUrl".into(), console.into());
    o.insert("generalAccess".into(), "FOLLOW_USER_SETTING".into());
    Value::Object(o)
}

/// A page of a collection listing.
pub(crate) fn list_page(
    items: Vec<Value>,
    total: usize,
    offset: usize,
    limit: usize,
    desc: bool,
    unnamed: bool,
) -> Value {
    json!({
        "total": total,
        "offset": offset,
        "limit": limit,
        "desc": desc,
        "count": items.len(),
        "unnamed": unnamed,
        "items": items,
    })
}
