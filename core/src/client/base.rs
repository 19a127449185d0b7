//! What every resource client holds: the shared client state and the path it points at.
//! A resource method only picks an operation spec (and maybe a sub-path) and returns the
//! builder; nothing here is generic over anything but the driver type.

use std::borrow::Cow;
use std::sync::Arc;

use super::builder::CallBuilder;
use super::exec::ClientInner;
use super::paginator::Paginator;
use crate::error::Error;
use crate::ops::api::ApiOp;
use crate::ops::paginate::Paginated;
use crate::ops::registry::OpSpec;
use crate::path::{Query, ResourcePath};

/// A resource path, or why it could not be made (reported when a call runs).
pub(crate) type Target = Result<ResourcePath, Cow<'static, str>>;

pub(crate) fn target_error(e: Error) -> Cow<'static, str> {
    match e {
        Error::InvalidArgument(m) => m,
        other => other.to_string().into(),
    }
}

/// The client state and target of one resource client.
pub(crate) struct Base<D> {
    pub(crate) inner: Arc<ClientInner<D>>,
    pub(crate) target: Target,
}

impl<D> Clone for Base<D> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), target: self.target.clone() }
    }
}

impl<D> std::fmt::Debug for Base<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("path", &self.target.as_ref().map(ResourcePath::as_str)).finish()
    }
}

impl<D> Base<D> {
    pub(crate) fn new(inner: Arc<ClientInner<D>>, target: Target) -> Self {
        Self { inner, target }
    }

    /// A collection at the root (`actors`).
    pub(crate) fn collection(inner: Arc<ClientInner<D>>, name: &'static str) -> Self {
        Self::new(inner, Ok(ResourcePath::collection(name)))
    }

    /// A resource at the root addressed by ID (`actors/{id}`).
    pub(crate) fn resource(inner: Arc<ClientInner<D>>, collection: &str, id: &str) -> Self {
        Self::new(inner, ResourcePath::resource(collection, id).map_err(target_error))
    }

    /// A fixed sub-path (`runs`, `dataset`, `log`).
    pub(crate) fn chained(&self, segment: &'static str) -> Self {
        Self::new(self.inner.clone(), self.target.as_ref().map(|t| t.chained(segment)).map_err(Clone::clone))
    }

    /// A sub-resource addressed by ID (`versions/{n}`).
    pub(crate) fn child(&self, collection: &str, id: &str) -> Self {
        let target = match &self.target {
            Ok(t) => t.child(collection, id).map_err(target_error),
            Err(e) => Err(e.clone()),
        };
        Self::new(self.inner.clone(), target)
    }

    /// The same path, with query parameters every request below it sends.
    pub(crate) fn with_inherited(mut self, query: &Query) -> Self {
        self.target = self.target.map(|t| t.with_inherited_query(query));
        self
    }

    pub(crate) fn parts<O>(&self, op: O) -> Result<(ResourcePath, O), Error> {
        match &self.target {
            Ok(t) => Ok((t.clone(), op)),
            Err(m) => Err(Error::InvalidArgument(m.clone())),
        }
    }

    /// A call of `op` on this path.
    pub(crate) fn call<O>(&self, op: O) -> CallBuilder<D, O> {
        CallBuilder::new(self.inner.clone(), self.parts(op))
    }

    /// A call of operation `spec` with no options set.
    pub(crate) fn op<K>(&self, spec: &'static OpSpec) -> CallBuilder<D, ApiOp<K>> {
        self.call(ApiOp::new(spec))
    }

    /// Iteration over operation `spec`.
    pub(crate) fn iterate<K>(&self, spec: &'static OpSpec) -> Paginator<D, ApiOp<K>>
    where
        ApiOp<K>: Paginated,
    {
        Paginator::new(self.inner.clone(), self.parts(ApiOp::new(spec)))
    }

    /// The ID the client was built with.
    pub(crate) fn resource_id(&self) -> Option<&str> {
        self.target.as_ref().ok().and_then(ResourcePath::resource_id)
    }
}

/// Declares a resource client type around a [`Base`] (and a scope, for clients reached
/// from several places whose operations differ by place).
macro_rules! resource_client {
    ($(#[$meta:meta])* $name:ident $(, $scope:ty)?) => {
        $(#[$meta])*
        pub struct $name<D> {
            base: $crate::client::base::Base<D>,
            $(scope: $scope,)?
        }

        impl<D> Clone for $name<D> {
            fn clone(&self) -> Self {
                Self { base: self.base.clone(), $(scope: <$scope as Clone>::clone(&self.scope),)? }
            }
        }

        impl<D> std::fmt::Debug for $name<D> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("path", &self.base.target.as_ref().map($crate::path::ResourcePath::as_str))
                    .finish()
            }
        }

        impl<D> $name<D> {
            /// The ID this client was built with (`None` for collections and chained
            /// clients).
            pub fn resource_id(&self) -> Option<&str> {
                self.base.resource_id()
            }

            /// The path it points at, below `/v2`.
            pub fn path(&self) -> Option<&str> {
                self.base.target.as_ref().ok().map($crate::path::ResourcePath::as_str)
            }
        }
    };
}
pub(crate) use resource_client;

impl<D: super::http::Environment> Base<D> {
    pub(crate) fn wall_clock(&self) -> Option<std::time::SystemTime> {
        self.inner.driver.wall_clock()
    }
}

impl<D: super::http::HttpClient> Base<D> {
    /// The driver's timer (`None` without one).
    pub(crate) fn sleep(&self, d: std::time::Duration) -> Option<super::http::BoxFuture<'static, ()>> {
        super::http::HttpClient::sleep(&self.inner.driver, d)
    }
}

impl<D: super::http::BlockingHttpClient> Base<D> {
    /// Blocks on the driver's timer; `false` without one.
    pub(crate) fn sleep_blocking(&self, d: std::time::Duration) -> bool {
        super::http::BlockingHttpClient::sleep(&self.inner.driver, d)
    }
}
