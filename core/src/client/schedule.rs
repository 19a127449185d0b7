//! Schedules: `client.schedules()`, `client.schedule(id)`.

use super::base::{Base, resource_client};
use super::builder::CallBuilder;
use super::paginator::Paginator;
use crate::ops::api::ApiOp;
use crate::ops::kinds::{CreateSchedule, Delete, GetSchedule, ListSchedules, ScheduleLog, UpdateSchedule};
use crate::ops::registry as r;

resource_client!(
    /// The schedule collection: `client.schedules()`.
    ScheduleCollectionClient
);

impl<D> ScheduleCollectionClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// One page of schedules (`offset`, `limit`, `desc`).
    pub fn list(&self) -> CallBuilder<D, ApiOp<ListSchedules>> {
        self.base.op(&r::SCHEDULES_GET)
    }

    /// Every schedule, page by page.
    pub fn iterate(&self) -> Paginator<D, ApiOp<ListSchedules>> {
        self.base.iterate(&r::SCHEDULES_GET)
    }

    /// Creates a schedule firing at `cron_expression` (`actions`, `name`, `timezone`, ...).
    pub fn create(
        &self,
        cron_expression: &str,
        is_enabled: bool,
        is_exclusive: bool,
    ) -> CallBuilder<D, ApiOp<CreateSchedule>> {
        let op = ApiOp::<CreateSchedule>::new(&r::SCHEDULES_POST)
            .cron_expression(cron_expression)
            .is_enabled(is_enabled)
            .is_exclusive(is_exclusive);
        self.base.call(op)
    }
}

resource_client!(
    /// A schedule: `client.schedule(id)`.
    ScheduleClient
);

impl<D> ScheduleClient<D> {
    pub(crate) fn new(base: Base<D>) -> Self {
        Self { base }
    }

    /// The schedule, or `None`.
    pub fn get(&self) -> CallBuilder<D, ApiOp<GetSchedule>> {
        self.base.op(&r::SCHEDULE_GET)
    }

    /// Changes the fields set with the setters.
    pub fn update(&self) -> CallBuilder<D, ApiOp<UpdateSchedule>> {
        self.base.op(&r::SCHEDULE_PUT)
    }

    /// Deletes the schedule.
    pub fn delete(&self) -> CallBuilder<D, ApiOp<Delete>> {
        self.base.op(&r::SCHEDULE_DELETE)
    }

    /// The schedule's invocation log.
    pub fn get_log(&self) -> CallBuilder<D, ApiOp<ScheduleLog>> {
        self.base.op(&r::SCHEDULE_LOG_GET)
    }
}
