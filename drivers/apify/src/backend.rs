//! Where a storage lives: the local folder (through the in-process API driver) or the
//! platform (through the hyper driver). Both speak the same API, so every storage method is
//! written once and dispatched to one of two client types.

use std::sync::Arc;

use apify_core::client::ApifyClient;
use apify_hyper::HyperClient;
use apify_local::LocalClient;
use apify_local::storage::Storages;

/// A client of one backend.
#[derive(Clone)]
pub(crate) enum Backend {
    Local(ApifyClient<LocalClient>, Arc<Storages>),
    Cloud(ApifyClient<HyperClient>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_local() { "Local" } else { "Cloud" })
    }
}

impl Backend {
    pub(crate) fn is_local(&self) -> bool {
        matches!(self, Self::Local(..))
    }

    pub(crate) fn storages(&self) -> Option<&Arc<Storages>> {
        match self {
            Self::Local(_, s) => Some(s),
            Self::Cloud(_) => None,
        }
    }
}

/// Runs the same client code on whichever client the backend holds.
macro_rules! dispatch {
    ($backend:expr, $client:ident => $body:expr) => {
        match &$backend {
            $crate::backend::Backend::Local($client, _) => $body,
            $crate::backend::Backend::Cloud($client) => $body,
        }
    };
}
pub(crate) use dispatch;
