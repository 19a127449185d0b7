//! Actor tasks: `client.tasks()`, `client.task(id)`.

use serde_json::Value;

use super::base::{Base, resource_client};
use super::builder::{CallBuilder, StreamCall};
use super::paginator::Paginator;
use super::run::{RunClient, RunCollectionClient, RunScope};
use super::run_sync::RunSyncItems;
use super::webhook::{WebhookCollectionClient, WebhookScope};
use crate::ops::api::ApiOp;
use crate::ops::kinds::{
    CreateTask, Delete, GetTask, GetTaskInput, ListTasks, RunCall, RunStart, RunSync, UpdateTask, UpdateTaskInput,
};
use crate::ops::registry as r;

resource_client!(
    /// The task collection: `client.tasks()`.
    TaskCollectionClient
);

impl<D> TaskCollectionClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// One page of tasks (`offset`, `limit`, `desc`).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListTasks>> {
        self.base.op(&r::ACTOR_TASKS_GET)
    }

    /// Every task, page by page.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListTasks>> {
        self.base.iterate(&r::ACTOR_TASKS_GET)
    }

    /// Creates task `name` of Actor `actor_id` (`task_input`, `build`, `memory_mbytes`, ...).
    pub fn create(&self, actor_id: &str, name: &str) -> CallBuilder<D, ApiOp<CreateTask>> {
        let op = ApiOp::<CreateTask>::new(&r::ACTOR_TASKS_POST).body_field("actId", actor_id.into()).name(name);
        self.base.call(op)
    }
}

resource_client!(
    /// A task: `client.task("username/name")` or by ID.
    TaskClient
);

impl<D> TaskClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// The task, or `None`.
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetTask>> {
        self.base.op(&r::ACTOR_TASK_GET)
    }

    /// Changes the fields set with the setters.
    pub fn update(&self) -> CallBuilder<D, ApiOp<UpdateTask>> {
        self.base.op(&r::ACTOR_TASK_PUT)
    }

    /// Publishes the task on its public page (`update` with `is_public = true`).
    pub fn publish(&self) -> CallBuilder<D, ApiOp<UpdateTask>> {
        self.update().is_public(true)
    }

    /// Takes the task off its public page (`update` with `is_public = false`).
    pub fn unpublish(&self) -> CallBuilder<D, ApiOp<UpdateTask>> {
        self.update().is_public(false)
    }

    /// Deletes the task.
    pub fn delete(&self) -> CallBuilder<D, ApiOp<Delete>> {
        self.base.op(&r::ACTOR_TASK_DELETE)
    }

    /// Starts a run of the task (its input merged with `.input(..)` by the platform).
    pub fn start(&self) -> CallBuilder<D, ApiOp<RunStart>> {
        self.base.op(&r::ACTOR_TASK_RUNS_POST)
    }

    /// Starts a run and waits for it to finish.
    pub fn call(&self) -> CallBuilder<D, ApiOp<RunCall>> {
        self.base.op(&r::ACTOR_TASK_RUNS_POST)
    }

    /// Runs the task and returns its output record, in one request held open until the
    /// run ends.
    pub fn run_sync(&self) -> CallBuilder<D, ApiOp<RunSync>> {
        self.base.op(&r::ACTOR_TASK_RUN_SYNC_POST)
    }

    /// Runs the task and streams the items of its default dataset.
    pub fn run_sync_get_dataset_items(&self) -> StreamCall<D, RunSyncItems> {
        StreamCall::new(self.base.call(RunSyncItems::new(&r::ACTOR_TASK_RUN_SYNC_GET_DATASET_ITEMS_POST)))
    }

    /// The task's input (a missing task is an error).
    pub fn get_input(&self) -> CallBuilder<D, ApiOp<GetTaskInput>> {
        self.base.op(&r::ACTOR_TASK_INPUT_GET)
    }

    /// Replaces fields of the task's input; returns the whole input.
    pub fn update_input(&self, task_input: Value) -> CallBuilder<D, ApiOp<UpdateTaskInput>> {
        // Sent as given: empty objects in an input are values, not unset options.
        self.base.call(ApiOp::<UpdateTaskInput>::new(&r::ACTOR_TASK_INPUT_PUT).json_verbatim(&task_input))
    }

    /// The task's runs.
    pub fn runs(&self) -> RunCollectionClient<D> {
        RunCollectionClient::new(self.base.chained("runs"), RunScope::Task)
    }

    /// The task's last run (`.status(..)`, `.origin(..)`, inherited by chained clients).
    pub fn last_run(&self) -> RunClient<D> {
        RunClient::new(self.base.child("runs", "last"), RunScope::TaskLast)
    }

    /// The task's webhooks.
    pub fn webhooks(&self) -> WebhookCollectionClient<D> {
        WebhookCollectionClient::new(self.base.chained("webhooks"), WebhookScope::Task)
    }
}
