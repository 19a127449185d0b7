//! Operations shared by the three storage types: the collection (`list`, `get_or_create`)
//! and the storage object itself (`get`, `update`, `delete`).

use std::marker::PhantomData;

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::registry::{self, OpSpec};
use super::{Op, Operation, setters};
use crate::config::{Config, TimeoutTier};
use crate::error::Error;
use crate::models::{
    Dataset, DatasetListItem, GeneralAccess, KeyValueStore, ListPage, RequestQueue, RequestQueueShort, open_enum,
};
use crate::path::{Query, ResourcePath};
use crate::request::RequestBuilder;
use crate::response::{NotFound, expect_data, expect_no_content, optional_data};

/// Facts that differ between datasets, key-value stores and request queues.
pub trait StorageKind: Send + Sync + 'static {
    /// Collection path segment, e.g. `datasets`.
    const COLLECTION: &'static str;
    /// Model name for error messages.
    const NAME: &'static str;
    /// `{Client}.get`, `.update`, `.delete` names for logs.
    const METHODS: [&'static str; 3];
    /// `{CollectionClient}.list`, `.get_or_create` names for logs.
    const COLLECTION_METHODS: [&'static str; 2];
    /// Timeout tier of `update` (the KVS one is `long` in the official client).
    const UPDATE_TIER: TimeoutTier;
    /// Whether `get_or_create` sends a JSON body (request queues send none).
    const GET_OR_CREATE_BODY: bool;
    /// The operations: `get`, `update`, `delete`, `list`, `get_or_create`.
    const SPECS: [&'static OpSpec; 5];
    /// The storage object.
    type Object: DeserializeOwned + Send + 'static;
    /// An item of the collection listing.
    type ListItem: DeserializeOwned + Send + 'static;
}

/// Datasets.
#[derive(Debug, Clone, Copy)]
pub struct Datasets;
/// Key-value stores.
#[derive(Debug, Clone, Copy)]
pub struct KeyValueStores;
/// Request queues.
#[derive(Debug, Clone, Copy)]
pub struct RequestQueues;

impl StorageKind for Datasets {
    const SPECS: [&'static OpSpec; 5] = [
        &registry::DATASET_GET,
        &registry::DATASET_PUT,
        &registry::DATASET_DELETE,
        &registry::DATASETS_GET,
        &registry::DATASETS_POST,
    ];
    const COLLECTION: &'static str = "datasets";
    const NAME: &'static str = "Dataset";
    const METHODS: [&'static str; 3] = ["DatasetClient.get", "DatasetClient.update", "DatasetClient.delete"];
    const COLLECTION_METHODS: [&'static str; 2] =
        ["DatasetCollectionClient.list", "DatasetCollectionClient.get_or_create"];
    const UPDATE_TIER: TimeoutTier = TimeoutTier::Short;
    const GET_OR_CREATE_BODY: bool = true;
    type Object = Dataset;
    type ListItem = DatasetListItem;
}

impl StorageKind for KeyValueStores {
    const SPECS: [&'static OpSpec; 5] = [
        &registry::KEY_VALUE_STORE_GET,
        &registry::KEY_VALUE_STORE_PUT,
        &registry::KEY_VALUE_STORE_DELETE,
        &registry::KEY_VALUE_STORES_GET,
        &registry::KEY_VALUE_STORES_POST,
    ];
    const COLLECTION: &'static str = "key-value-stores";
    const NAME: &'static str = "KeyValueStore";
    const METHODS: [&'static str; 3] =
        ["KeyValueStoreClient.get", "KeyValueStoreClient.update", "KeyValueStoreClient.delete"];
    const COLLECTION_METHODS: [&'static str; 2] =
        ["KeyValueStoreCollectionClient.list", "KeyValueStoreCollectionClient.get_or_create"];
    const UPDATE_TIER: TimeoutTier = TimeoutTier::Long;
    const GET_OR_CREATE_BODY: bool = true;
    type Object = KeyValueStore;
    type ListItem = KeyValueStore;
}

impl StorageKind for RequestQueues {
    const SPECS: [&'static OpSpec; 5] = [
        &registry::REQUEST_QUEUE_GET,
        &registry::REQUEST_QUEUE_PUT,
        &registry::REQUEST_QUEUE_DELETE,
        &registry::REQUEST_QUEUES_GET,
        &registry::REQUEST_QUEUES_POST,
    ];
    const COLLECTION: &'static str = "request-queues";
    const NAME: &'static str = "RequestQueue";
    const METHODS: [&'static str; 3] =
        ["RequestQueueClient.get", "RequestQueueClient.update", "RequestQueueClient.delete"];
    const COLLECTION_METHODS: [&'static str; 2] =
        ["RequestQueueCollectionClient.list", "RequestQueueCollectionClient.get_or_create"];
    const UPDATE_TIER: TimeoutTier = TimeoutTier::Short;
    const GET_OR_CREATE_BODY: bool = false;
    type Object = RequestQueue;
    type ListItem = RequestQueueShort;
}

/// `GET /v2/{storages}/{id}`: the storage, or `None` if a client addressed by ID gets 404.
#[derive(Debug)]
pub struct GetStorage<K>(PhantomData<fn() -> K>);

impl<K> Clone for GetStorage<K> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

impl<K> Default for GetStorage<K> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<K: StorageKind> Operation for GetStorage<K> {
    type Output = Option<K::Object>;
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let req = RequestBuilder::new(config, Method::GET, target, &[], K::METHODS[0], TimeoutTier::Short)
            .operation(K::SPECS[0])
            .build()?;
        let nf = NotFound::for_resource(target.resource_id());
        Ok(Op::new(req, move |r| optional_data(r, K::NAME, nf)))
    }
}

/// `PUT /v2/{storages}/{id}`: rename, retitle or change access.
#[derive(Debug)]
pub struct UpdateStorage<K> {
    /// New name.
    pub name: Option<String>,
    /// New title.
    pub title: Option<String>,
    /// New access level.
    pub general_access: Option<GeneralAccess>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for UpdateStorage<K> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            title: self.title.clone(),
            general_access: self.general_access.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K> Default for UpdateStorage<K> {
    fn default() -> Self {
        Self { name: None, title: None, general_access: None, _kind: PhantomData }
    }
}

setters!([K] UpdateStorage<K> {
    /// New name.
    name: String,
    /// New title.
    title: String,
    /// New access level.
    general_access: GeneralAccess,
});

impl<K: StorageKind> Operation for UpdateStorage<K> {
    type Output = K::Object;
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let mut body = Map::new();
        if let Some(n) = &self.name {
            body.insert("name".into(), n.clone().into());
        }
        if let Some(t) = &self.title {
            body.insert("title".into(), t.clone().into());
        }
        if let Some(a) = &self.general_access {
            body.insert("generalAccess".into(), a.as_str().into());
        }
        let req = RequestBuilder::new(config, Method::PUT, target, &[], K::METHODS[1], K::UPDATE_TIER)
            .operation(K::SPECS[1])
            .json(&body, "application/json")?
            .build()?;
        Ok(Op::new(req, |r| expect_data(r, K::NAME)))
    }
}

/// `DELETE /v2/{storages}/{id}` (a 404 is success for a client addressed by ID).
#[derive(Debug)]
pub struct DeleteStorage<K>(PhantomData<fn() -> K>);

impl<K> Clone for DeleteStorage<K> {
    fn clone(&self) -> Self {
        Self(PhantomData)
    }
}

impl<K> Default for DeleteStorage<K> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<K: StorageKind> Operation for DeleteStorage<K> {
    type Output = ();
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<()>, Error> {
        let req = RequestBuilder::new(config, Method::DELETE, target, &[], K::METHODS[2], TimeoutTier::Short)
            .operation(K::SPECS[2])
            .build()?;
        let nf = NotFound::for_resource(target.resource_id());
        Ok(Op::new(req, move |r| expect_no_content(r, nf)))
    }
}

open_enum! {
    /// Which storages a collection listing covers.
    Ownership {
        /// Storages the user owns.
        OwnedByMe = "ownedByMe",
        /// Storages shared with the user.
        SharedWithMe = "sharedWithMe",
    }
}

/// `GET /v2/{storages}`: one page of the collection.
#[derive(Debug)]
pub struct ListStorages<K> {
    /// Include unnamed storages.
    pub unnamed: Option<bool>,
    /// Page size (maximum 1000).
    pub limit: Option<u64>,
    /// Offset of the first item.
    pub offset: Option<u64>,
    /// Newest first.
    pub desc: Option<bool>,
    /// Owned or shared storages.
    pub ownership: Option<Ownership>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Default for ListStorages<K> {
    fn default() -> Self {
        Self { unnamed: None, limit: None, offset: None, desc: None, ownership: None, _kind: PhantomData }
    }
}

impl<K> Clone for ListStorages<K> {
    fn clone(&self) -> Self {
        Self {
            unnamed: self.unnamed,
            limit: self.limit,
            offset: self.offset,
            desc: self.desc,
            ownership: self.ownership.clone(),
            _kind: PhantomData,
        }
    }
}

setters!(paged [K] ListStorages<K> {
    /// Include unnamed storages.
    unnamed: bool,
    /// Page size (maximum 1000); for iteration, the overall number of items.
    limit: u64,
    /// Offset of the first item.
    offset: u64,
    /// Newest first.
    desc: bool,
    /// Owned or shared storages.
    ownership: Ownership,
});

impl<K: StorageKind> Operation for ListStorages<K> {
    type Output = ListPage<K::ListItem>;
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let mut q = Query::new();
        q.opt("unnamed", self.unnamed)
            .opt("limit", self.limit)
            .opt("offset", self.offset)
            .opt("desc", self.desc)
            .opt("ownership", self.ownership.as_ref().map(Ownership::as_str));
        let req = RequestBuilder::new(config, Method::GET, target, &[], K::COLLECTION_METHODS[0], TimeoutTier::Medium)
            .operation(K::SPECS[3])
            .query(q)
            .build()?;
        Ok(Op::new(req, |r| expect_data(r, "list of storages")))
    }
}

/// `POST /v2/{storages}?name=`: the named storage, created if missing (201) or existing
/// (200); without a name, a new unnamed storage.
#[derive(Debug)]
pub struct GetOrCreate<K> {
    /// Name of the storage.
    pub name: Option<String>,
    /// Schema for a new dataset or store.
    pub schema: Option<Value>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for GetOrCreate<K> {
    fn clone(&self) -> Self {
        Self { name: self.name.clone(), schema: self.schema.clone(), _kind: PhantomData }
    }
}

impl<K> Default for GetOrCreate<K> {
    fn default() -> Self {
        Self { name: None, schema: None, _kind: PhantomData }
    }
}

setters!([K] GetOrCreate<K> {
    /// Name of the storage.
    name: String,
    /// Schema for a new dataset or store.
    schema: Value,
});

impl<K: StorageKind> Operation for GetOrCreate<K> {
    type Output = K::Object;
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error> {
        let mut q = Query::new();
        q.opt("name", self.name.as_deref());
        let mut b =
            RequestBuilder::new(config, Method::POST, target, &[], K::COLLECTION_METHODS[1], TimeoutTier::Short)
                .operation(K::SPECS[4])
                .query(q);
        if self.name.is_some() {
            // A named get-or-create returns the same storage however often it is sent.
            b = b.idempotent();
        }
        if K::GET_OR_CREATE_BODY {
            let mut body = Map::new();
            if let Some(s) = &self.schema {
                body.insert("schema".into(), s.clone());
            }
            b = b.json(&body, "application/json")?;
        }
        Ok(Op::new(b.build()?, |r| expect_data(r, K::NAME)))
    }
}
