//! Logs of runs and builds: `client.log(id)`, `run.log()`, `build.log()`.

use super::base::{Base, resource_client};
use super::body::StreamBody;
use super::builder::{CallBuilder, StreamCall, StreamOperation};
use crate::config::{Config, Timeout, TimeoutTier};
use crate::error::Error;
use crate::ops::api::ApiOp;
use crate::ops::kinds::{GetLog, GetLogBytes};
use crate::ops::registry::{self as r, OpSpec};
use crate::path::{Query, ResourcePath};
use crate::request::{ApiRequest, RequestBuilder};
use crate::response::{NotFound, Response};

/// Whose log: `logs/{id}`, a run's or a build's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogScope {
    ById,
    Run,
    Build,
}

impl LogScope {
    fn spec(self) -> &'static OpSpec {
        match self {
            Self::ById => &r::LOG_GET,
            Self::Run => &r::ACTOR_RUN_LOG_GET,
            Self::Build => &r::ACTOR_BUILD_LOG_GET,
        }
    }
}

resource_client!(
    /// A log: `client.log(run_or_build_id)`, `run.log()`, `build.log()`.
    LogClient,
    LogScope
);

impl<D> LogClient<D> {
    pub(crate) fn new(base: Base<D>, scope: LogScope) -> Self {
        Self { base, scope }
    }

    pub(crate) fn base(&self) -> &Base<D> {
        &self.base
    }

    pub(crate) fn base_call<O>(&self, op: O) -> CallBuilder<D, O> {
        self.base.call(op)
    }

    pub(crate) fn spec(&self) -> &'static OpSpec {
        self.scope.spec()
    }

    /// The log as text, or `None` if a log addressed by ID does not exist (`.raw(true)`
    /// keeps ANSI codes).
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetLog>> {
        self.base.op(self.scope.spec())
    }

    /// The log as bytes, or `None`.
    pub fn get_as_bytes(&self) -> CallBuilder<D, ApiOp<GetLogBytes>> {
        self.base.op(self.scope.spec())
    }

    /// The log line by line as it is written, until the job ends (no timeout): a
    /// `Stream` on async drivers, an `Iterator` on blocking ones; `None` if a log
    /// addressed by ID does not exist.
    pub fn stream(&self) -> StreamCall<D, StreamLog> {
        StreamCall::new(self.base.call(StreamLog { spec: self.scope.spec(), raw: false }))
    }
}

/// `GET …/log?stream=true`: the log followed live, handed over line by line.
#[derive(Debug, Clone)]
pub struct StreamLog {
    spec: &'static OpSpec,
    raw: bool,
}

impl StreamLog {
    /// The log of operation `spec` (`log_get`, `actorRun_log_get`, `actorBuild_log_get`).
    pub fn new(spec: &'static OpSpec) -> Self {
        Self { spec, raw: false }
    }

    /// Keep ANSI escape codes.
    pub fn raw(mut self, raw: bool) -> Self {
        self.raw = raw;
        self
    }
}

impl<D> StreamCall<D, StreamLog> {
    /// Keep ANSI escape codes.
    pub fn raw(self, raw: bool) -> Self {
        self.map_op(|o| o.raw(raw))
    }
}

impl StreamOperation for StreamLog {
    type Output<B: StreamBody> = Option<B::Lines>;
    fn request(&self, config: &Config, target: &ResourcePath) -> Result<ApiRequest, Error> {
        let mut q = Query::new();
        q.push("stream", &true);
        if self.raw {
            q.push("raw", &true);
        }
        RequestBuilder::for_op(config, self.spec, target, &[])
            .client_method("LogClient.stream")
            .query(q)
            // A live log lasts as long as the job and may be quiet for long (§17).
            .timeout(Timeout::Tier(TimeoutTier::None))
            .streamed()
            .build()
    }
    fn output<B: StreamBody>(self, head: Response, body: Option<B>) -> Result<Option<B::Lines>, Error> {
        match body {
            Some(b) if head.is_success() => Ok(Some(b.into_lines())),
            _ if head.status == http::StatusCode::NOT_FOUND
                && NotFound::for_resource(head_resource(&head)) == NotFound::None =>
            {
                Ok(None)
            }
            _ => Err(head.to_api_error()),
        }
    }
}

// A log addressed by ID sits at `/v2/logs/{id}`; a chained log's 404 is ambiguous.
fn head_resource(head: &Response) -> Option<&str> {
    head.url.path().contains("/logs/").then_some("id")
}
