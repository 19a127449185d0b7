//! `/v2/{datasets|key-value-stores|request-queues}`: list and get-or-create.

use http::StatusCode;

use http::header::{HeaderValue, LOCATION};

use super::objects::{collection, list_page, storage_object};
use super::{ApiResult, Call, LocalApi, data};
use crate::storage::{Kind, StorageMeta, Target, new_id};

impl LocalApi {
    pub(crate) fn list(&self, kind: Kind, call: &Call<'_>) -> ApiResult {
        let q = &call.query;
        let offset = q.u64("offset")?.unwrap_or(0) as usize;
        // `limit=0` (what the official client sends by default) lets the API decide.
        let limit = q.u64("limit")?.filter(|l| *l > 0).unwrap_or(1000).min(1000) as usize;
        let desc = q.bool("desc")?;
        let unnamed = q.bool("unnamed")?;
        let mut all = self.storages().list(kind)?;
        // Unnamed storages are listed only when asked for, as on the platform.
        all.retain(|(_, m)| unnamed || m.name.is_some());
        if desc {
            all.reverse();
        }
        let total = all.len();
        let items = all
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(_, m)| {
                let mut o = storage_object(self.config(), kind, &m);
                // List items of datasets and queues require a string name; an unnamed
                // storage is listed under its ID.
                if kind != Kind::KeyValueStore && o["name"].is_null() {
                    o["name"] = m.id.clone().into();
                }
                o
            })
            .collect();
        Ok(data(StatusCode::OK, list_page(items, total, offset, limit, desc, unnamed)))
    }

    pub(crate) fn get_or_create(&self, kind: Kind, call: &Call<'_>) -> ApiResult {
        // The body may carry a schema; locally it is accepted and not enforced.
        if kind != Kind::RequestQueue {
            call.json()?;
        }
        let target = match call.query.str("name") {
            Some(name) => Target::Name(name.to_owned()),
            // A new unnamed storage lives in a directory named after its ID.
            None => Target::Unnamed(new_id()),
        };
        let (meta, created) = self.open_meta(kind, &target)?;
        let status = if created { StatusCode::CREATED } else { StatusCode::OK };
        let mut response = data(status, storage_object(self.config(), kind, &meta));
        if created {
            let url =
                format!("{}/v2/{}/{}", self.config().public_base.trim_end_matches('/'), collection(kind), meta.id);
            if let Ok(v) = HeaderValue::from_str(&url) {
                response.headers_mut().insert(LOCATION, v);
            }
        }
        Ok(response)
    }

    fn open_meta(&self, kind: Kind, target: &Target) -> ApiResult<(StorageMeta, bool)> {
        let s = self.storages();
        Ok(match kind {
            Kind::Dataset => s.open_dataset(target).map(|(d, c)| (d.meta(), c))?,
            Kind::KeyValueStore => s.open_key_value_store(target).map(|(d, c)| (d.meta(), c))?,
            Kind::RequestQueue => s.open_request_queue(target).map(|(d, c)| (d.meta(), c))?,
        })
    }

    /// `PUT /v2/{storages}/{id}`: renames (the directory follows the name) and returns the
    /// object; `title` and `generalAccess` are accepted and not stored locally.
    pub(crate) fn update_storage(&self, kind: Kind, id: &str, call: &Call<'_>) -> ApiResult {
        let body = call.json()?;
        let body = body.as_object().cloned().unwrap_or_default();
        let target = Self::target_of(id);
        self.storages().existing(kind, &target)?;
        let (meta, _) = self.open_meta(kind, &target)?;
        if let Some(name) = body.get("name").and_then(|n| n.as_str())
            && meta.name.as_deref() != Some(name)
        {
            self.storages().rename(kind, &target, name)?;
            let (meta, _) = self.open_meta(kind, &Target::Name(name.to_owned()))?;
            return Ok(data(StatusCode::OK, storage_object(self.config(), kind, &meta)));
        }
        Ok(data(StatusCode::OK, storage_object(self.config(), kind, &meta)))
    }

    pub(crate) fn get_storage(&self, kind: Kind, id: &str) -> ApiResult {
        let target = Self::target_of(id);
        self.storages().existing(kind, &target)?;
        let (meta, _) = self.open_meta(kind, &target)?;
        Ok(data(StatusCode::OK, storage_object(self.config(), kind, &meta)))
    }

    pub(crate) fn delete_storage(&self, kind: Kind, id: &str) -> ApiResult {
        let target = Self::target_of(id);
        if self.storages().drop_storage(kind, &target)? {
            Ok(super::no_content())
        } else {
            Err(super::ApiFailure::not_found(format!("{} was not found", kind.label())))
        }
    }
}
