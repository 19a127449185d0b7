//! Storage resource clients: datasets, key-value stores, request queues and their
//! collections. Method names follow the official Python client.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::base::{Base, Target, target_error};
use super::builder::{CallBuilder, StreamCall, UploadCall};
use super::exec::ClientInner;
use super::paginator::Paginator;
use crate::error::Error;
use crate::models::{RecordValue, Request};
use crate::ops::dataset::{
    DownloadItems, GetStatistics, ItemsHead, ListItems, MAX_PUSH_CHUNK_BYTES, PushItems, chunk_items,
};
use crate::ops::key_value_store::{
    DeleteRecord, DownloadRecords, GetRecord, GetRecordAsBytes, ListKeys, RecordExists, SetRecord, UploadRecord,
};
use crate::ops::plan::{BatchAdd, BatchDelete, ItemsPublicUrl, KeysPublicUrl, PushChunks, RecordPublicUrl};
use crate::ops::request_queue::{
    AddRequest, DeleteRequest, DeleteRequestLock, GetRequest, ListAndLockHead, ListHead, ListRequests,
    ProlongRequestLock, RequestRef, UnlockRequests, UpdateRequest, chunk_requests,
};
use crate::ops::storage::{Datasets, KeyValueStores, RequestQueues};
use crate::ops::storage::{DeleteStorage, GetOrCreate, GetStorage, ListStorages, StorageKind, UpdateStorage};
use crate::path::ResourcePath;

/// A storage collection: `list`, `iterate`, `get_or_create`.
pub struct StorageCollectionClient<D, K> {
    inner: Arc<ClientInner<D>>,
    _kind: PhantomData<fn() -> K>,
}

/// `client.datasets()`.
pub type DatasetCollectionClient<D> = StorageCollectionClient<D, Datasets>;
/// `client.key_value_stores()`.
pub type KeyValueStoreCollectionClient<D> = StorageCollectionClient<D, KeyValueStores>;
/// `client.request_queues()`.
pub type RequestQueueCollectionClient<D> = StorageCollectionClient<D, RequestQueues>;

impl<D, K> Clone for StorageCollectionClient<D, K> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), _kind: PhantomData }
    }
}

impl<D, K: StorageKind> std::fmt::Debug for StorageCollectionClient<D, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageCollectionClient").field("collection", &K::COLLECTION).finish()
    }
}

impl<D, K: StorageKind> StorageCollectionClient<D, K> {
    pub(crate) fn new(inner: Arc<ClientInner<D>>) -> Self {
        Self { inner, _kind: PhantomData }
    }

    fn path() -> ResourcePath {
        ResourcePath::collection(K::COLLECTION)
    }

    /// One page of storages (`unnamed`, `limit`, `offset`, `desc`, `ownership`).
    pub fn list(&self) -> CallBuilder<D, ListStorages<K>> {
        CallBuilder::new(self.inner.clone(), Ok((Self::path(), ListStorages::default())))
    }

    /// Every storage, page by page.
    pub fn iterate(&self) -> Paginator<D, ListStorages<K>> {
        Paginator::new(self.inner.clone(), Ok((Self::path(), ListStorages::default())))
    }

    /// The storage named with `.name(..)`, created if missing; without a name, a new
    /// unnamed storage.
    pub fn get_or_create(&self) -> CallBuilder<D, GetOrCreate<K>> {
        CallBuilder::new(self.inner.clone(), Ok((Self::path(), GetOrCreate::default())))
    }
}

/// Declares a storage client with its shared `get`, `update` and `delete`.
macro_rules! storage_client {
    ($(#[$meta:meta])* $name:ident, $kind:ty, $collection:literal) => {
        $(#[$meta])*
        pub struct $name<D> {
            inner: Arc<ClientInner<D>>,
            target: Target,
        }

        impl<D> Clone for $name<D> {
            fn clone(&self) -> Self {
                Self { inner: self.inner.clone(), target: self.target.clone() }
            }
        }

        impl<D> std::fmt::Debug for $name<D> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("path", &self.target.as_ref().map(ResourcePath::as_str))
                    .finish()
            }
        }

        impl<D> $name<D> {
            pub(crate) fn by_id(inner: Arc<ClientInner<D>>, id: &str) -> Self {
                Self { inner, target: ResourcePath::resource($collection, id).map_err(target_error) }
            }

            pub(crate) fn from_base(base: Base<D>) -> Self {
                Self { inner: base.inner, target: base.target }
            }

            /// A client for a storage at any path (e.g. chained from a run: a 404 on its
            /// `get` is then an error, since the parent may be what is missing).
            pub fn at(inner_client: &super::ApifyClient<D>, path: ResourcePath) -> Self {
                Self { inner: inner_client.inner.clone(), target: Ok(path) }
            }

            /// The ID this client was built with.
            pub fn resource_id(&self) -> Option<&str> {
                self.target.as_ref().ok().and_then(ResourcePath::resource_id)
            }

            fn call<O>(&self, op: O) -> CallBuilder<D, O> {
                CallBuilder::new(self.inner.clone(), self.parts(op))
            }

            fn parts<O>(&self, op: O) -> Result<(ResourcePath, O), Error> {
                match &self.target {
                    Ok(t) => Ok((t.clone(), op)),
                    Err(m) => Err(Error::InvalidArgument(m.clone())),
                }
            }

            /// The storage, or `None` if it does not exist.
            pub fn get(&self) -> CallBuilder<D, GetStorage<$kind>> {
                self.call(GetStorage::default())
            }

            /// Changes `name`, `title` or `general_access`.
            pub fn update(&self) -> CallBuilder<D, UpdateStorage<$kind>> {
                self.call(UpdateStorage::default())
            }

            /// Deletes the storage (no error if it is already gone).
            pub fn delete(&self) -> CallBuilder<D, DeleteStorage<$kind>> {
                self.call(DeleteStorage::default())
            }
        }
    };
}

storage_client!(
    /// A dataset: `client.dataset(id)`.
    DatasetClient,
    Datasets,
    "datasets"
);
storage_client!(
    /// A key-value store: `client.key_value_store(id)`.
    KeyValueStoreClient,
    KeyValueStores,
    "key-value-stores"
);
storage_client!(
    /// A request queue: `client.request_queue(id)`, optionally `.with_client_key(..)`.
    RequestQueueClient,
    RequestQueues,
    "request-queues"
);

impl<D> DatasetClient<D> {
    /// One page of items (JSON values; `.items_as::<T>()` for your own type).
    pub fn list_items(&self) -> CallBuilder<D, ListItems> {
        self.call(ListItems::new())
    }

    /// One page of items decoded as `T`.
    pub fn list_items_as<T>(&self) -> CallBuilder<D, ListItems<T>> {
        self.call(ListItems::default())
    }

    /// Every item (in the window `offset`/`limit`), page by page.
    pub fn iterate_items(&self) -> Paginator<D, ListItems> {
        Paginator::new(self.inner.clone(), self.parts(ListItems::new()))
    }

    /// Every item decoded as `T`, page by page.
    pub fn iterate_items_as<T: serde::de::DeserializeOwned + Send + 'static>(&self) -> Paginator<D, ListItems<T>> {
        Paginator::new(self.inner.clone(), self.parts(ListItems::default()))
    }

    /// Items as bytes in any `format` (`json` by default).
    pub fn get_items_as_bytes(&self) -> CallBuilder<D, DownloadItems> {
        self.call(DownloadItems::new())
    }

    /// Items as a body stream (decode JSON arrays item by item with `.items::<T>()`).
    pub fn stream_items(&self) -> StreamCall<D, DownloadItems> {
        StreamCall::new(self.call(DownloadItems::new()))
    }

    /// Pushes items, packed into bodies of at most 9 MiB sent in order. An item too large
    /// to send at all is refused before anything is sent.
    ///
    /// A retried push whose first attempt reached the server stores its items twice; use
    /// [`NonIdempotentRetry::SafeOnly`](crate::retry::NonIdempotentRetry) to avoid that.
    pub fn push_items<T: Serialize>(&self, items: &[T]) -> CallBuilder<D, PushChunks> {
        let parts = chunk_items(items, MAX_PUSH_CHUNK_BYTES).and_then(|c| self.parts(PushChunks::new(c)));
        CallBuilder::new(self.inner.clone(), parts)
    }

    /// Pushes one item.
    pub fn push_item<T: Serialize + ?Sized>(&self, item: &T) -> CallBuilder<D, PushItems> {
        let parts = PushItems::json(item).and_then(|op| self.parts(op));
        CallBuilder::new(self.inner.clone(), parts)
    }

    /// Pushes a JSON body as it is (an object or an array of objects, ≤ 9 MiB).
    pub fn push_items_json(&self, body: impl Into<Bytes>) -> CallBuilder<D, PushItems> {
        self.call(PushItems::raw_json(body))
    }

    /// The pagination figures of a listing (`total`, `count`, ...) without its items
    /// (`HEAD .../items`, with the same filters as `list_items`).
    pub fn get_items_head(&self) -> CallBuilder<D, ItemsHead> {
        self.call(ItemsHead::default())
    }

    /// Field statistics.
    pub fn get_statistics(&self) -> CallBuilder<D, GetStatistics> {
        self.call(GetStatistics)
    }

    /// A shareable URL of the items (signed when the dataset has a signing secret).
    pub fn create_items_public_url(&self) -> CallBuilder<D, ItemsPublicUrl> {
        self.call(ItemsPublicUrl::default())
    }
}

impl<D> KeyValueStoreClient<D> {
    /// One page of keys.
    pub fn list_keys(&self) -> CallBuilder<D, ListKeys> {
        self.call(ListKeys::new())
    }

    /// Every key, page by page.
    pub fn iterate_keys(&self) -> Paginator<D, ListKeys> {
        Paginator::new(self.inner.clone(), self.parts(ListKeys::new()))
    }

    /// A record decoded by its content type, or `None`.
    pub fn get_record(&self, key: &str) -> CallBuilder<D, GetRecord> {
        self.call(GetRecord::new(key))
    }

    /// A record as bytes, or `None`.
    pub fn get_record_as_bytes(&self, key: &str) -> CallBuilder<D, GetRecordAsBytes> {
        self.call(GetRecordAsBytes::new(key))
    }

    /// A record as a body stream, or `None`.
    pub fn stream_record(&self, key: &str) -> StreamCall<D, GetRecordAsBytes> {
        StreamCall::new(self.call(GetRecordAsBytes::new(key)))
    }

    /// Whether a record exists (`HEAD`).
    pub fn record_exists(&self, key: &str) -> CallBuilder<D, RecordExists> {
        self.call(RecordExists { key: key.into() })
    }

    /// Stores a value: JSON, text or bytes, with the matching content type
    /// (override with `.content_type(..)`).
    pub fn set_record(&self, key: &str, value: impl Into<RecordValue>) -> CallBuilder<D, SetRecord> {
        let op = match value.into() {
            RecordValue::Json(v) => SetRecord::json(key, &v),
            RecordValue::Text(t) => Ok(SetRecord::text(key, t)),
            RecordValue::Bytes(b) => Ok(SetRecord::bytes(key, b)),
        };
        CallBuilder::new(self.inner.clone(), op.and_then(|op| self.parts(op)))
    }

    /// Stores any serialisable value as JSON.
    pub fn set_record_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> CallBuilder<D, SetRecord> {
        CallBuilder::new(self.inner.clone(), SetRecord::json(key, value).and_then(|op| self.parts(op)))
    }

    /// Uploads a record from a stream (async drivers: a `Stream` of `Bytes`; blocking
    /// drivers: a `Read`). Sent chunked, uncompressed, in one attempt.
    pub fn upload_record<B>(&self, key: &str, content_type: &str, body: B) -> UploadCall<D, B> {
        UploadCall::new(self.call(UploadRecord { key: key.into(), content_type: content_type.into() }), body)
    }

    /// Stores a value like [`set_record`](Self::set_record), sent with `POST` (the API's
    /// keyed POST variant).
    pub fn post_record(&self, key: &str, value: impl Into<RecordValue>) -> CallBuilder<D, SetRecord> {
        self.set_record(key, value).map_op(SetRecord::by_post)
    }

    /// Every record (`.collection(..)`, `.prefix(..)`) as one ZIP archive, handed over as
    /// it downloads.
    pub fn download_records(&self) -> StreamCall<D, DownloadRecords> {
        StreamCall::new(self.call(DownloadRecords::default()))
    }

    /// Deletes a record (a missing record is an error).
    pub fn delete_record(&self, key: &str) -> CallBuilder<D, DeleteRecord> {
        self.call(DeleteRecord { key: key.into() })
    }

    /// A shareable URL of a record (signed when the store has a signing secret).
    pub fn get_record_public_url(&self, key: &str) -> CallBuilder<D, RecordPublicUrl> {
        self.call(RecordPublicUrl { key: key.into() })
    }

    /// A shareable URL of the key listing.
    pub fn create_keys_public_url(&self) -> CallBuilder<D, KeysPublicUrl> {
        self.call(KeysPublicUrl::default())
    }
}

impl<D> CallBuilder<D, SetRecord> {
    /// Stores the value under this content type (JSON values only as JSON types).
    pub fn content_type(self, content_type: &str) -> Self {
        self.try_map_op(|op| op.content_type(content_type))
    }

    /// Declares the (byte) value as already encoded, e.g. `gzip`.
    pub fn content_encoding(self, encoding: &str) -> Self {
        self.try_map_op(|op| op.content_encoding(encoding))
    }
}

impl<D> CallBuilder<D, BatchAdd> {
    /// Puts the requests at the head of the queue.
    pub fn forefront(self, forefront: bool) -> Self {
        self.map_op(|op| op.forefront(forefront))
    }

    /// Sends up to `n` batches at once (async drivers poll them together, blocking ones
    /// use a thread each); the results keep the order of the requests given.
    pub fn max_parallel(self, n: usize) -> Self {
        self.map_op(|op| op.max_parallel(n))
    }
}

impl<D> RequestQueueClient<D> {
    /// The same queue, identified as client `key` (1–32 characters) for locking.
    pub fn with_client_key(mut self, key: &str) -> Self {
        self.target = self.target.and_then(|t| t.with_client_key(key).map_err(target_error));
        self
    }

    /// The client key, if set.
    pub fn client_key(&self) -> Option<&str> {
        self.target.as_ref().ok().and_then(ResourcePath::client_key)
    }

    /// The first pending requests, without locking them.
    pub fn list_head(&self) -> CallBuilder<D, ListHead> {
        self.call(ListHead::default())
    }

    /// Takes and locks up to `.limit(..)` (≤ 25) pending requests for `lock_duration`.
    pub fn list_and_lock_head(&self, lock_duration: Duration) -> CallBuilder<D, ListAndLockHead> {
        self.call(ListAndLockHead::new(lock_duration))
    }

    /// Adds a request (deduplicated by `unique_key`).
    pub fn add_request(&self, request: Request) -> CallBuilder<D, AddRequest> {
        self.call(AddRequest::new(request))
    }

    /// A request by ID, or `None`.
    pub fn get_request(&self, id: &str) -> CallBuilder<D, GetRequest> {
        self.call(GetRequest { id: id.into() })
    }

    /// Replaces a request (its `id` is required); set `handled_at` to mark it handled.
    pub fn update_request(&self, request: Request) -> CallBuilder<D, UpdateRequest> {
        self.call(UpdateRequest::new(request))
    }

    /// Deletes a request (a missing request is an error).
    pub fn delete_request(&self, id: &str) -> CallBuilder<D, DeleteRequest> {
        self.call(DeleteRequest { id: id.into() })
    }

    /// Extends a lock this client holds.
    pub fn prolong_request_lock(&self, id: &str, lock_duration: Duration) -> CallBuilder<D, ProlongRequestLock> {
        self.call(ProlongRequestLock::new(id, lock_duration))
    }

    /// Releases a lock this client holds.
    pub fn delete_request_lock(&self, id: &str) -> CallBuilder<D, DeleteRequestLock> {
        self.call(DeleteRequestLock::new(id))
    }

    /// Adds requests in batches of at most 25 (sent in order; results merged).
    /// `unprocessed_requests` are returned to you, not retried.
    pub fn batch_add_requests(&self, requests: &[Request]) -> CallBuilder<D, BatchAdd> {
        let parts = chunk_requests(requests, MAX_PUSH_CHUNK_BYTES)
            .and_then(|c| self.parts(BatchAdd::new(c.into_iter().map(|(b, _)| b).collect(), false)));
        CallBuilder::new(self.inner.clone(), parts)
    }

    /// Deletes requests by ID or unique key, 25 per call.
    pub fn batch_delete_requests(&self, requests: Vec<RequestRef>) -> CallBuilder<D, BatchDelete> {
        self.call(BatchDelete::new(requests))
    }

    /// One page of requests (cursor pagination).
    pub fn list_requests(&self) -> CallBuilder<D, ListRequests> {
        self.call(ListRequests::new())
    }

    /// Every request, page by page.
    pub fn iterate_requests(&self) -> Paginator<D, ListRequests> {
        Paginator::new(self.inner.clone(), self.parts(ListRequests::new()))
    }

    /// Releases every lock this client holds.
    pub fn unlock_requests(&self) -> CallBuilder<D, UnlockRequests> {
        self.call(UnlockRequests)
    }
}

impl From<serde_json::Value> for RecordValue {
    fn from(v: serde_json::Value) -> Self {
        Self::Json(v)
    }
}
impl From<String> for RecordValue {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<&str> for RecordValue {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<Bytes> for RecordValue {
    fn from(v: Bytes) -> Self {
        Self::Bytes(v)
    }
}
impl From<Vec<u8>> for RecordValue {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(v.into())
    }
}
