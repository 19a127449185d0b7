//! Items of a running Actor's dataset, as they are pushed (client-behaviour §9.5):
//! `run.iterate_dataset_items()` reads what there is, waits for the run (a long poll of
//! `poll_interval`), reads again, and once the run has ended keeps reading past the
//! dataset's `itemCount` (which lags) until a page comes back empty.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;

use super::Operation;
use super::dataset::{ItemFilters, ListItems, items_page};
use super::jobs::Job;
use super::plan::{PlanCx, Step};
use super::registry;
use crate::config::{Timeout, TimeoutTier};
use crate::error::Error;
use crate::models::{Dataset, ListPage, Run};
use crate::path::{Query, ResourcePath};
use crate::request::RequestBuilder;
use crate::response::Response;

/// A plan that yields items as its responses arrive (a stream on async drivers, an
/// iterator on blocking ones).
pub trait ItemPlan: Send + 'static {
    /// What it yields.
    type Item: Send + 'static;
    /// The next step.
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error>;
    /// Takes the final response of the request last sent; returns the items it brought.
    fn on_response(&mut self, response: Response) -> Result<Vec<Self::Item>, Error>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    ResolveRun,
    Count,
    Page,
    WaitRun,
    Drain,
    Confirm,
    Done,
}

/// The state of a live iteration.
#[derive(Debug)]
pub struct LiveItems {
    filters: ItemFilters,
    get_spec: &'static registry::OpSpec,
    chunk: u64,
    poll: Duration,
    phase: Phase,
    sent: Phase,
    run: Option<ResourcePath>,
    terminal: bool,
    pos: u64,
    end: Option<u64>,
    target: u64,
    pending: VecDeque<Value>,
}

impl LiveItems {
    /// Every item of the run read through `get_spec` (its `get`), in pages of 1000,
    /// polling the run every 5 s.
    pub fn new(get_spec: &'static registry::OpSpec, filters: ItemFilters) -> Self {
        let pos = filters.offset.unwrap_or(0);
        let end = filters.limit.map(|l| pos + l);
        Self {
            filters,
            get_spec,
            chunk: 1000,
            poll: Duration::from_secs(5),
            phase: Phase::ResolveRun,
            sent: Phase::ResolveRun,
            run: None,
            terminal: false,
            pos,
            end,
            target: 0,
            pending: VecDeque::new(),
        }
    }

    /// Items per request (default 1000).
    pub fn chunk_size(mut self, n: u64) -> Self {
        self.chunk = n.max(1);
        self
    }

    /// How long each wait for the run lasts (default 5 s).
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll = d.max(Duration::from_secs(1));
        self
    }

    /// The filters (`offset`, `limit`, `clean`, `fields`, `omit`, `unwind`, `skip_empty`,
    /// `skip_hidden`).
    pub fn filters_mut(&mut self) -> &mut ItemFilters {
        &mut self.filters
    }

    fn left(&self) -> Option<u64> {
        self.end.map(|e| e.saturating_sub(self.pos))
    }

    fn page(&self, cx: &PlanCx<'_>, limit: u64, plain: bool) -> Result<Step, Error> {
        let run = self.run.as_ref().unwrap_or(cx.target);
        let mut filters = if plain { ItemFilters::default() } else { self.filters.clone() };
        filters.offset = Some(self.pos);
        filters.limit = Some(limit);
        let mut op = ListItems::new();
        op.filters = filters;
        let mut req = op.build(cx.config, &run.chained("dataset"))?.request;
        req.meta.client_method = "RunClient.iterate_dataset_items";
        Ok(Step::Send(req))
    }
}

impl ItemPlan for LiveItems {
    type Item = Value;

    #[inline]
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        if let Some(0) = self.left() {
            self.phase = Phase::Done;
        }
        self.sent = self.phase;
        let run = self.run.as_ref().unwrap_or(cx.target);
        match self.phase {
            Phase::Done => Ok(Step::Done),
            Phase::ResolveRun | Phase::WaitRun => {
                let mut q = Query::new();
                if self.phase == Phase::WaitRun {
                    q.push("waitForFinish", &self.poll.as_secs());
                }
                // The client's own `get` until `last` is resolved, the run's after.
                let spec = if self.run.is_some() { &registry::ACTOR_RUN_GET } else { self.get_spec };
                let req = RequestBuilder::for_op(cx.config, spec, run, &[])
                    .client_method("RunClient.iterate_dataset_items")
                    .query(q)
                    .timeout(if self.phase == Phase::WaitRun {
                        Timeout::Tier(TimeoutTier::None)
                    } else {
                        Timeout::Tier(TimeoutTier::Short)
                    })
                    .own_timeout()
                    .build()?;
                Ok(Step::Send(req))
            }
            Phase::Count => {
                let req = RequestBuilder::for_op(cx.config, &registry::DATASET_GET, &run.chained("dataset"), &[])
                    .client_method("RunClient.iterate_dataset_items")
                    .build()?;
                Ok(Step::Send(req))
            }
            Phase::Page => {
                let n = self.chunk.min(self.target - self.pos);
                self.page(cx, self.left().map_or(n, |l| l.min(n)), false)
            }
            Phase::Drain => {
                let n = self.left().map_or(self.chunk, |l| l.min(self.chunk));
                self.page(cx, n, false)
            }
            Phase::Confirm => self.page(cx, 1, true),
        }
    }

    #[inline]
    fn on_response(&mut self, response: Response) -> Result<Vec<Value>, Error> {
        match self.sent {
            Phase::ResolveRun | Phase::WaitRun => {
                let run: Run = response.success()?.data("Run")?;
                self.terminal = run.status().is_terminal();
                // `last` resolved: later requests name the run itself.
                self.run = Some(ResourcePath::resource("actor-runs", &run.id)?);
                self.phase = Phase::Count;
            }
            Phase::Count => {
                let ds: Dataset = response.success()?.data("Dataset")?;
                self.target = self.end.map_or(ds.item_count, |e| ds.item_count.min(e));
                self.phase = if self.pos < self.target {
                    Phase::Page
                } else if self.terminal {
                    Phase::Drain
                } else {
                    Phase::WaitRun
                };
            }
            Phase::Page | Phase::Drain | Phase::Confirm => {
                let page: ListPage<Value> = items_page(&response.success()?)?;
                let scanned = page.count.max(page.items.len() as u64);
                if self.sent == Phase::Confirm {
                    // A plain read found a row the filters skipped: keep draining.
                    self.phase = if scanned == 0 { Phase::Done } else { Phase::Drain };
                    return Ok(Vec::new());
                }
                self.pos += scanned;
                let mut items = page.items;
                if let Some(l) = self.end.map(|e| e.saturating_sub(self.pos - scanned)) {
                    items.truncate(l as usize);
                }
                self.pending.extend(items);
                self.phase = match self.sent {
                    Phase::Page if self.pos < self.target => Phase::Page,
                    Phase::Page if self.terminal => Phase::Drain,
                    Phase::Page => Phase::WaitRun,
                    _ if scanned > 0 => Phase::Drain,
                    _ => {
                        let filtered = self.filters.clean == Some(true)
                            || self.filters.skip_empty == Some(true)
                            || self.filters.unwind.is_some();
                        if filtered { Phase::Confirm } else { Phase::Done }
                    }
                };
                return Ok(self.pending.drain(..).collect());
            }
            Phase::Done => {}
        }
        Ok(Vec::new())
    }
}
