//! Runs: `client.runs()`, `client.run(id)`, `actor.runs()`, `actor.last_run()`, and the
//! storages and log of a run.

use std::time::Duration;

use super::base::{Base, resource_client};
use super::builder::CallBuilder;
use super::log::{LogClient, LogScope};
use super::paginator::Paginator;
use super::plan_stream::PlanStream;
use super::redirect::{StatusMessageWatcher, StreamedLog};
use super::storage::{DatasetClient, KeyValueStoreClient, RequestQueueClient};
use crate::models::{ActorJobStatus, Run, RunOrigin};
use crate::ops::api::ApiOp;
use crate::ops::dataset::ItemFilters;
use crate::ops::jobs::{Charge, WaitForFinish};
use crate::ops::kinds::{AbortRun, Delete, GetRun, ListRuns, Metamorph, Reboot, Resurrect, UpdateRun};
use crate::ops::live::LiveItems;
use crate::ops::registry::{self as r, OpSpec};
use crate::path::{Query, safe_id};

/// Where a run collection is: all runs, an Actor's or a task's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunScope {
    Global,
    Actor,
    Task,
    ActorLast,
    TaskLast,
}

resource_client!(
    /// Runs: `client.runs()`, `actor.runs()`, `task.runs()`.
    RunCollectionClient,
    RunScope
);

impl<D> RunCollectionClient<D> {
    pub(crate) fn new(base: Base<D>, scope: RunScope) -> Self {
        Self { base, scope }
    }

    fn list_spec(&self) -> &'static OpSpec {
        match self.scope {
            RunScope::Actor => &r::ACTORS_RUNS_GET,
            RunScope::Task => &r::ACTOR_TASK_RUNS_GET,
            _ => &r::ACTOR_RUNS_GET,
        }
    }

    /// One page of runs (`status`, `started_after`, `started_before`, `offset`, `limit`,
    /// `desc`).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListRuns>> {
        self.base.op(self.list_spec())
    }

    /// Every run, page by page.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListRuns>> {
        self.base.iterate(self.list_spec())
    }
}

/// A run: `client.run(id)`, `actor.last_run()`, ...
pub struct RunClient<D> {
    base: Base<D>,
    scope: RunScope,
    status: Option<ActorJobStatus>,
    origin: Option<RunOrigin>,
}

impl<D> Clone for RunClient<D> {
    fn clone(&self) -> Self {
        Self { base: self.base.clone(), scope: self.scope, status: self.status.clone(), origin: self.origin.clone() }
    }
}

impl<D> std::fmt::Debug for RunClient<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunClient")
            .field("path", &self.base.target.as_ref().map(crate::path::ResourcePath::as_str))
            .field("status", &self.status)
            .field("origin", &self.origin)
            .finish()
    }
}

impl<D> RunClient<D> {
    pub(crate) fn new(base: Base<D>, scope: RunScope) -> Self {
        Self { base, scope, status: None, origin: None }
    }

    /// The ID this client was built with (`last` for a last run).
    pub fn resource_id(&self) -> Option<&str> {
        self.base.resource_id()
    }

    /// A last run: count only runs with this status. Every request of this client and of
    /// the clients chained from it sends it (`?status=SUCCEEDED`).
    pub fn status(mut self, status: impl Into<ActorJobStatus>) -> Self {
        self.status = Some(status.into());
        self.inherit()
    }

    /// A last run: count only runs started this way (`DEVELOPMENT`, `API`, `SCHEDULER`, ...).
    pub fn origin(mut self, origin: impl Into<RunOrigin>) -> Self {
        self.origin = Some(origin.into());
        self.inherit()
    }

    fn inherit(mut self) -> Self {
        let mut q = Query::new();
        q.opt("status", self.status.as_ref().map(ActorJobStatus::as_str))
            .opt("origin", self.origin.as_ref().map(RunOrigin::as_str));
        self.base = self.base.with_inherited(&q);
        self
    }

    /// Where operations the Actor-scoped run routes lack are sent: the run's own path.
    fn own(&self) -> Base<D> {
        match (self.scope, self.base.resource_id()) {
            (RunScope::Actor, Some(id)) => Base::resource(self.base.inner.clone(), "actor-runs", id),
            _ => self.base.clone(),
        }
    }

    fn get_spec(&self) -> &'static OpSpec {
        match self.scope {
            RunScope::Actor => &r::ACTORS_RUN_GET,
            RunScope::ActorLast => &r::ACTOR_RUNS_LAST_GET,
            RunScope::TaskLast => &r::ACTOR_TASK_RUNS_LAST_GET,
            _ => &r::ACTOR_RUN_GET,
        }
    }

    /// The run, or `None` if it does not exist (`.wait_for_finish(secs)` holds the request).
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetRun>> {
        self.base.op(self.get_spec())
    }

    /// Sets `status_message`, `is_status_message_terminal` or `general_access`.
    pub fn update(&self) -> CallBuilder<D, ApiOp<UpdateRun>> {
        self.own().op(&r::ACTOR_RUN_PUT)
    }

    /// Deletes the run.
    pub fn delete(&self) -> CallBuilder<D, ApiOp<Delete>> {
        self.own().op(&r::ACTOR_RUN_DELETE)
    }

    /// Aborts the run (`.gracefully(true)` lets it persist its state first).
    pub fn abort(&self) -> CallBuilder<D, ApiOp<AbortRun>> {
        self.base.op(if self.scope == RunScope::Actor { &r::ACTORS_RUN_ABORT_POST } else { &r::ACTOR_RUN_ABORT_POST })
    }

    /// Waits until the run finishes, at most `wait_duration` (`None`: as long as it takes),
    /// with long polls the server holds (client-behaviour §16). Returns the run as last seen,
    /// or `None` if it does not exist.
    pub fn wait_for_finish(&self, wait_duration: Option<Duration>) -> CallBuilder<D, WaitForFinish<Run>> {
        self.base.call(WaitForFinish::new(self.get_spec(), wait_duration))
    }

    /// Turns the run into a run of `target_actor_id` (`.target_actor_build(..)`,
    /// `.input(..)`).
    pub fn metamorph(&self, target_actor_id: &str) -> CallBuilder<D, ApiOp<Metamorph>> {
        let spec =
            if self.scope == RunScope::Actor { &r::ACTORS_RUN_METAMORPH_POST } else { &r::ACTOR_RUN_METAMORPH_POST };
        self.base.call(ApiOp::<Metamorph>::new(spec).query_param("targetActorId", &safe_id(target_actor_id)))
    }

    /// Resurrects a finished run (`build`, `memory_mbytes`, `run_timeout`, ...).
    pub fn resurrect(&self) -> CallBuilder<D, ApiOp<Resurrect>> {
        self.base.op(if self.scope == RunScope::Actor { &r::ACTOR_RUN_RESURRECT_POST } else { &r::POST_RESURRECT_RUN })
    }

    /// Restarts the run's container.
    pub fn reboot(&self) -> CallBuilder<D, ApiOp<Reboot>> {
        self.own().op(&r::ACTOR_RUN_REBOOT_POST)
    }

    /// Charges a pay-per-event event (`.count(n)`, `.idempotency_key(..)`,
    /// `.request_id(..)`); a key is generated once per call and reused by its retries.
    pub fn charge(&self, event_name: &str) -> CallBuilder<D, Charge> {
        self.own().call(Charge::new(event_name))
    }

    /// The run's default dataset.
    pub fn dataset(&self) -> DatasetClient<D> {
        DatasetClient::from_base(self.own().chained("dataset"))
    }

    /// The run's default key-value store.
    pub fn key_value_store(&self) -> KeyValueStoreClient<D> {
        KeyValueStoreClient::from_base(self.own().chained("key-value-store"))
    }

    /// The run's default request queue.
    pub fn request_queue(&self) -> RequestQueueClient<D> {
        RequestQueueClient::from_base(self.own().chained("request-queue"))
    }

    /// The run's log.
    pub fn log(&self) -> LogClient<D> {
        LogClient::new(self.own().chained("log"), LogScope::Run)
    }

    /// The items of the run's default dataset as they are pushed, until the run has ended
    /// and every item is read (client-behaviour §9.5): a `Stream` on async drivers, an
    /// `Iterator` on blocking ones. Options with
    /// `.map_plan(|p| p.offset(10).limit(100).clean(true).chunk_size(500).poll_interval(..))`.
    pub fn iterate_dataset_items(&self) -> PlanStream<D, LiveItems> {
        let target = self.base.parts(()).map(|(t, ())| t);
        PlanStream::new(self.base.inner.clone(), target, LiveItems::new(self.get_spec(), ItemFilters::default()))
    }

    pub(crate) fn base(&self) -> &Base<D> {
        &self.base
    }

    fn logger_name(&self) -> String {
        format!("apify.run runId:{}", self.resource_id().unwrap_or("?"))
    }

    /// The run's live log redirected to `tracing` (target `apify::actor_log`), message by
    /// message at the level each suggests, until the log ends (`.from_start(false)`,
    /// `.on_message(..)`); `.await` or `.send()` it, e.g. in a task of its own.
    pub fn get_streamed_log(&self) -> StreamedLog<D> {
        let log = self.log();
        let spec = log.spec();
        StreamedLog::new(log, spec, self.logger_name()).of_run(self.clone())
    }

    /// Logs `Status: .., Message: ..` whenever the run's status or message changes, until
    /// the run ends (`.check_period(..)`, `.on_change(..)`).
    pub fn get_status_message_watcher(&self) -> StatusMessageWatcher<D> {
        StatusMessageWatcher::new(self.clone(), self.logger_name())
    }
}

impl<D> CallBuilder<D, Charge> {
    /// How many events (default 1).
    pub fn count(self, count: u64) -> Self {
        self.map_op(|c| c.count(count))
    }

    /// Your own idempotency key (otherwise one is generated for this call).
    pub fn idempotency_key(self, key: &str) -> Self {
        self.map_op(|c| c.idempotency_key(key))
    }

    /// The `X-Actor-Request-ID` of the Standby request charged for.
    pub fn request_id(self, id: &str) -> Self {
        self.map_op(|c| c.request_id(id))
    }
}
