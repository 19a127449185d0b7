//! `run-sync-get-dataset-items`: run an Actor or a task and stream its dataset's items in
//! the same request (held open until the run ends).

use super::body::StreamBody;
use super::builder::{StreamCall, StreamOperation};
use crate::config::Config;
use crate::error::Error;
use crate::models::RecordValue;
use crate::ops::api::ApiOp;
use crate::ops::dataset::DownloadItems;
use crate::ops::kinds::RunSync;
use crate::ops::registry::OpSpec;
use crate::path::{Query, ResourcePath};
use crate::request::ApiRequest;
use crate::response::Response;

/// The run options and input (as `run_sync` takes them) and the item options (as
/// `stream_items` takes them) of one synchronous run.
#[derive(Debug, Clone)]
pub struct RunSyncItems {
    run: ApiOp<RunSync>,
    items: DownloadItems,
}

impl RunSyncItems {
    /// A synchronous run through `spec`.
    pub fn new(spec: &'static OpSpec) -> Self {
        Self { run: ApiOp::new(spec), items: DownloadItems::new() }
    }

    /// Sets run options (`build`, `memory_mbytes`, `run_timeout`, `webhooks`, ...).
    pub fn options(mut self, f: impl FnOnce(ApiOp<RunSync>) -> ApiOp<RunSync>) -> Self {
        self.run = f(self.run);
        self
    }

    /// Sets item options (`format`, `limit`, `fields`, `clean`, ...).
    pub fn items(mut self, f: impl FnOnce(DownloadItems) -> DownloadItems) -> Self {
        self.items = f(self.items);
        self
    }
}

impl<D> StreamCall<D, RunSyncItems> {
    /// The run's input (client-behaviour §3.2).
    pub fn input(self, input: impl Into<RecordValue>) -> Self {
        self.map_op(|o| o.options(|r| r.input(input)))
    }

    /// Sets run options: `.options(|o| o.build("beta").memory_mbytes(1024u64))`.
    pub fn options(self, f: impl FnOnce(ApiOp<RunSync>) -> ApiOp<RunSync>) -> Self {
        self.map_op(|o| o.options(f))
    }

    /// Sets item options: `.items(|d| d.limit(100u64).fields(["url"]))`.
    pub fn items(self, f: impl FnOnce(DownloadItems) -> DownloadItems) -> Self {
        self.map_op(|o| o.items(f))
    }

    /// Sends the run as `GET` (no input: the Actor's or task's own input is used).
    pub fn with_get(self) -> Self {
        self.map_op(|o| o.options(ApiOp::with_get))
    }
}

impl StreamOperation for RunSyncItems {
    type Output<B: StreamBody> = B;
    fn request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error> {
        let mut req = self.run.request(config, target, false)?;
        // The run options, then the item options, in one query.
        let items = self.items.query();
        let mut q = Query::new();
        if let Some(existing) = req.uri.query() {
            q.extend_encoded(existing);
        }
        q.extend(&items);
        let path = format!("{}?{}", req.uri.path(), q.as_str());
        let mut parts = req.uri.clone().into_parts();
        parts.path_and_query =
            Some(path.parse().map_err(|e| Error::invalid_argument(format!("request URL is invalid: {e}")))?);
        req.uri = http::Uri::from_parts(parts)
            .map_err(|e| Error::invalid_argument(format!("request URL is invalid: {e}")))?;
        req.meta.streamed = true;
        Ok(req)
    }
    fn output<B: StreamBody>(self, head: Response, body: Option<B>) -> Result<B, Error> {
        match body {
            Some(b) if head.is_success() => Ok(b),
            _ => Err(head.to_api_error()),
        }
    }
}
