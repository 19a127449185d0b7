//! Typed API models. Wire names are camelCase; unknown fields are kept in `extra` (the API
//! adds fields over time), optional fields are `Option`, and enums are open.

mod common;
mod dataset;
mod generated;
mod key_value_store;
mod request_queue;
pub mod timestamp;

pub use common::{GeneralAccess, ItemList, ListPage};
pub use dataset::{Dataset, DatasetFieldStatistics, DatasetListItem, DatasetStatistics, DatasetStats};
pub use key_value_store::{KeyValueStore, KeyValueStoreKey, KeyValueStoreStats, ListOfKeys, Record, RecordValue};
pub use request_queue::{
    AddedRequest, BatchAddResult, BatchDeleteResult, DeletedRequest, HeadRequest, ListOfRequests,
    LockedRequestQueueHead, Request, RequestLockInfo, RequestQueue, RequestQueueHead, RequestQueueShort,
    RequestQueueStats, RequestRegistration, UnlockRequestsResult, UnprocessedRequest,
};
pub use timestamp::Timestamp;

// The non-storage models, generated from the OpenAPI document by `codegen/`
// (`cargo run -p apify-codegen`; CI runs it with `--check`).
pub use generated::*;

/// Declares an open enum: known variants plus `Other(String)` for values added later.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this version does not know.
            Other(String),
        }

        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($value => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl $crate::ops::api::ParamValue for $name {
            fn query_str(&self) -> std::borrow::Cow<'_, str> {
                std::borrow::Cow::Borrowed(self.as_str())
            }
            fn to_json(&self) -> serde_json::Value {
                serde_json::Value::String(self.as_str().to_owned())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::from(s.as_ref()))
            }
        }
    };
}
pub(crate) use open_enum;
