//! Every storage operation as a pure value: options in, an [`Op`] (request + decoder) out.
//!
//! This is the tame-gcs shape: an operation builds an `http::Request` and knows how to turn
//! the final `Response` into a typed result, with no I/O. The client tree
//! ([`crate::client`]) sends them through a driver; anyone can also send them by hand.
//!
//! ```
//! use apify_core::{config::Config, ops::{Operation, dataset::ListItems}, path::ResourcePath};
//! let cfg = Config::new().with_token("t");
//! let path = ResourcePath::resource("datasets", "my-user/my-ds").unwrap();
//! let op = ListItems::new().limit(10u64).desc(true).build(&cfg, &path).unwrap();
//! let req = op.request.to_http();
//! assert_eq!(req.uri(), "https://api.apify.com/v2/datasets/my-user~my-ds/items?limit=10&desc=true");
//! ```

pub mod api;
pub mod dataset;
pub mod jobs;
pub mod key_value_store;
pub mod kinds;
pub mod live;
pub mod paginate;
pub mod plan;
pub mod registry;
pub mod request_queue;
pub mod storage;

use crate::config::Config;
use crate::error::Error;
use crate::path::ResourcePath;
use crate::request::ApiRequest;
use crate::response::Response;

/// Turns the final response of a call into the operation's result.
pub type Decoder<T> = Box<dyn FnOnce(Response) -> Result<T, Error> + Send>;

/// A built operation: the request to send and how to decode its response.
pub struct Op<T> {
    /// The request (sent once per attempt).
    pub request: ApiRequest,
    decode: Decoder<T>,
}

impl<T> std::fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Op").field("request", &self.request).finish_non_exhaustive()
    }
}

impl<T: 'static> Op<T> {
    /// An operation from a request and a decoder.
    pub fn new(request: ApiRequest, decode: impl FnOnce(Response) -> Result<T, Error> + Send + 'static) -> Self {
        Self { request, decode: Box::new(decode) }
    }

    /// Splits into the request and the decoder.
    pub fn into_parts(self) -> (ApiRequest, Decoder<T>) {
        (self.request, self.decode)
    }

    /// Decodes the final response.
    pub fn decode(self, response: Response) -> Result<T, Error> {
        (self.decode)(response)
    }

    /// Maps the decoded result.
    pub fn map<U: 'static>(self, f: impl FnOnce(T) -> U + Send + 'static) -> Op<U> {
        let decode = self.decode;
        Op { request: self.request, decode: Box::new(move |r| decode(r).map(f)) }
    }
}

/// An operation's options, buildable into an [`Op`] for a target resource.
pub trait Operation: Send + 'static {
    /// What the call returns.
    type Output: Send + 'static;
    /// Builds the request for `target` under `config`.
    fn build(&self, config: &Config, target: &ResourcePath) -> Result<Op<Self::Output>, Error>;
}

/// Generates option setters on an options type and on the client wrappers that carry it
/// (so `client.dataset(id).list_items().limit(10)` and `ListItems::new().limit(10)` agree).
macro_rules! setters {
    (paged [$($g:ident),*] $ty:ty { $($body:tt)* }) => {
        setters!([$($g),*] $ty { $($body)* });
        setters!(@pager [$($g),*] $ty { $($body)* });
    };
    (streamed [$($g:ident),*] $ty:ty { $($body:tt)* }) => {
        setters!([$($g),*] $ty { $($body)* });
        setters!(@stream [$($g),*] $ty { $($body)* });
    };
    (@stream [$($g:ident),*] $ty:ty { $($(#[$m:meta])* $field:ident $(in $sub:ident)? : $kind:tt),* $(,)? }) => {
        impl<Driver, $($g),*> $crate::client::StreamCall<Driver, $ty> {
            $(setters!(@fwd $(#[$m])* $field $kind);)*
        }
    };
    (@pager [$($g:ident),*] $ty:ty { $($(#[$m:meta])* $field:ident $(in $sub:ident)? : $kind:tt),* $(,)? }) => {
        impl<Driver, $($g),*> $crate::client::Paginator<Driver, $ty>
        where
            $ty: $crate::ops::paginate::Paginated,
        {
            $(setters!(@fwd $(#[$m])* $field $kind);)*
        }
    };
    ([$($g:ident),*] $ty:ty { $($(#[$m:meta])* $field:ident $(in $sub:ident)? : $kind:tt),* $(,)? }) => {
        impl<$($g),*> $ty {
            $(setters!(@own $(#[$m])* $field [$($sub)?] $kind);)*
        }
        impl<Driver, $($g),*> $crate::client::CallBuilder<Driver, $ty> {
            $(setters!(@fwd $(#[$m])* $field $kind);)*
        }
    };
    (@own $(#[$m:meta])* $field:ident [$($sub:ident)?] [list]) => {
        $(#[$m])*
        pub fn $field<I, S>(mut self, values: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self$(.$sub)?.$field = Some(values.into_iter().map(Into::into).collect());
            self
        }
    };
    (@own $(#[$m:meta])* $field:ident [$($sub:ident)?] $t:ty) => {
        $(#[$m])*
        pub fn $field(mut self, value: impl Into<$t>) -> Self {
            self$(.$sub)?.$field = Some(value.into());
            self
        }
    };
    (@fwd $(#[$m:meta])* $field:ident [list]) => {
        $(#[$m])*
        pub fn $field<I, S>(self, values: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.map_op(|o| o.$field(values))
        }
    };
    (@fwd $(#[$m:meta])* $field:ident $t:ty) => {
        $(#[$m])*
        pub fn $field(self, value: impl Into<$t>) -> Self {
            self.map_op(|o| o.$field(value))
        }
    };
}
pub(crate) use setters;
