//! Builds: `client.builds()`, `client.build(id)`, `actor.builds()`.

use std::time::Duration;

use super::base::{Base, resource_client};
use super::builder::CallBuilder;
use super::log::{LogClient, LogScope};
use super::paginator::Paginator;
use crate::models::Build;
use crate::ops::api::ApiOp;
use crate::ops::jobs::WaitForFinish;
use crate::ops::kinds::{AbortBuild, Delete, GetBuild, ListBuilds, OpenApiDefinition};
use crate::ops::registry::{self as r, OpSpec};

/// Where builds are: all builds or an Actor's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuildScope {
    Global,
    Actor,
}

resource_client!(
    /// Builds: `client.builds()`, `actor.builds()`.
    BuildCollectionClient,
    BuildScope
);

impl<D> BuildCollectionClient<D> {
    pub(crate) fn new(base: Base<D>, scope: BuildScope) -> Self {
        Self { base, scope }
    }

    fn list_spec(&self) -> &'static OpSpec {
        match self.scope {
            BuildScope::Actor => &r::ACTORS_BUILDS_GET,
            BuildScope::Global => &r::ACTOR_BUILDS_GET,
        }
    }

    /// One page of builds (`offset`, `limit`, `desc`).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListBuilds>> {
        self.base.op(self.list_spec())
    }

    /// Every build, page by page.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListBuilds>> {
        self.base.iterate(self.list_spec())
    }
}

resource_client!(
    /// A build: `client.build(id)`.
    BuildClient,
    BuildScope
);

impl<D> BuildClient<D> {
    pub(crate) fn new(base: Base<D>, scope: BuildScope) -> Self {
        Self { base, scope }
    }

    fn get_spec(&self) -> &'static OpSpec {
        match self.scope {
            BuildScope::Actor => &r::ACTORS_BUILD_GET,
            BuildScope::Global => &r::ACTOR_BUILD_GET,
        }
    }

    /// The build, or `None` (`.wait_for_finish(secs)` holds the request).
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetBuild>> {
        self.base.op(self.get_spec())
    }

    /// Deletes the build.
    pub fn delete(&self) -> CallBuilder<D, ApiOp<Delete>> {
        self.base.op(&r::ACTOR_BUILD_DELETE)
    }

    /// Aborts the build.
    pub fn abort(&self) -> CallBuilder<D, ApiOp<AbortBuild>> {
        self.base.op(match self.scope {
            BuildScope::Actor => &r::ACTORS_BUILD_ABORT_POST,
            BuildScope::Global => &r::ACTOR_BUILD_ABORT_POST,
        })
    }

    /// The OpenAPI definition of the built Actor.
    pub fn get_open_api_definition(&self) -> CallBuilder<D, ApiOp<OpenApiDefinition>> {
        self.base.op(match self.scope {
            BuildScope::Actor => &r::ACTOR_OPENAPI_JSON_GET,
            BuildScope::Global => &r::ACTOR_BUILD_OPENAPI_JSON_GET,
        })
    }

    /// Waits until the build finishes, at most `wait_duration`, with long polls
    /// (client-behaviour §16); `None` if it does not exist.
    pub fn wait_for_finish(&self, wait_duration: Option<Duration>) -> CallBuilder<D, WaitForFinish<Build>> {
        self.base.call(WaitForFinish::new(self.get_spec(), wait_duration))
    }

    /// The build's log.
    pub fn log(&self) -> LogClient<D> {
        LogClient::new(self.base.chained("log"), LogScope::Build)
    }
}
