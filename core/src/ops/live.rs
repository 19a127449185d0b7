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
    // The limit of the page last asked for: the position advances by it (filters may
    // return fewer items, `unwind` more), as the official client does.
    last_limit: u64,
    started: bool,
    pending: VecDeque<Value>,
}

impl LiveItems {
    /// Every item of the run read through `get_spec` (its `get`), in pages of 1000,
    /// polling the run every 5 s.
    pub fn new(get_spec: &'static registry::OpSpec, filters: ItemFilters) -> Self {
        Self {
            filters,
            get_spec,
            chunk: 1000,
            poll: Duration::from_secs(5),
            phase: Phase::ResolveRun,
            sent: Phase::ResolveRun,
            run: None,
            terminal: false,
            pos: 0,
            end: None,
            target: 0,
            last_limit: 0,
            started: false,
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
    /// `skip_hidden`); `offset` and `limit` bound the whole iteration.
    pub fn filters_mut(&mut self) -> &mut ItemFilters {
        &mut self.filters
    }

    /// Start at this item.
    pub fn offset(mut self, n: u64) -> Self {
        self.filters.offset = Some(n);
        self
    }

    /// At most this many items in all.
    pub fn limit(mut self, n: u64) -> Self {
        self.filters.limit = Some(n);
        self
    }

    /// Only clean items (no empty ones, no hidden fields).
    pub fn clean(mut self, clean: bool) -> Self {
        self.filters.clean = Some(clean);
        self
    }

    /// Only these fields.
    pub fn fields<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.filters.fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Leave out these fields.
    pub fn omit<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.filters.omit = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Unwind these fields.
    pub fn unwind<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.filters.unwind = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Skip empty items.
    pub fn skip_empty(mut self, skip: bool) -> Self {
        self.filters.skip_empty = Some(skip);
        self
    }

    /// Skip fields starting with `#`.
    pub fn skip_hidden(mut self, skip: bool) -> Self {
        self.filters.skip_hidden = Some(skip);
        self
    }

    fn filtered(&self) -> bool {
        self.filters.clean == Some(true) || self.filters.skip_empty == Some(true) || self.filters.unwind.is_some()
    }

    fn left(&self) -> Option<u64> {
        self.end.map(|e| e.saturating_sub(self.pos))
    }

    fn page(&mut self, cx: &PlanCx<'_>, limit: u64, plain: bool) -> Result<Step, Error> {
        if !plain {
            self.last_limit = limit;
        }
        let run = self.run.as_ref().unwrap_or(cx.target);
        let mut filters = if plain { ItemFilters::default() } else { self.filters.clone() };
        filters.offset = Some(self.pos);
        filters.limit = Some(limit);
        let mut op = ListItems::new();
        op.filters = filters;
        let mut req = op.build(cx.config, &run.chained("dataset"))?.request;
        req.meta.client_method = "RunClient.iterate_dataset_items";
        req.timeout = Timeout::Tier(TimeoutTier::Long);
        Ok(Step::Send(req))
    }
}

impl ItemPlan for LiveItems {
    type Item = Value;

    #[inline]
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        if !self.started {
            self.started = true;
            self.pos = self.filters.offset.unwrap_or(0);
            self.end = self.filters.limit.map(|l| self.pos.saturating_add(l));
        }
        if let Some(0) = self.left() {
            self.phase = Phase::Done;
        }
        self.sent = self.phase;
        let run = self.run.clone().unwrap_or_else(|| cx.target.clone());
        match self.phase {
            Phase::Done => Ok(Step::Done),
            Phase::ResolveRun | Phase::WaitRun => {
                let mut q = Query::new();
                if self.phase == Phase::WaitRun {
                    q.push("waitForFinish", &self.poll.as_secs());
                }
                // The client's own `get` until `last` is resolved, the run's after.
                let spec = if self.run.is_some() { &registry::ACTOR_RUN_GET } else { self.get_spec };
                let mut b = RequestBuilder::for_op(cx.config, spec, &run, &[])
                    .client_method("RunClient.iterate_dataset_items")
                    .query(q)
                    .timeout(Timeout::Tier(TimeoutTier::Long));
                if self.phase == Phase::WaitRun {
                    // A long poll held by the server: no timeout of ours.
                    b = b.timeout(Timeout::Tier(TimeoutTier::None)).own_timeout();
                }
                let req = b.build()?;
                Ok(Step::Send(req))
            }
            Phase::Count => {
                let req = RequestBuilder::for_op(cx.config, &registry::DATASET_GET, &run.chained("dataset"), &[])
                    .client_method("RunClient.iterate_dataset_items")
                    .timeout(Timeout::Tier(TimeoutTier::Long))
                    .build()?;
                Ok(Step::Send(req))
            }
            Phase::Page => {
                let n = self.chunk.min(self.target.saturating_sub(self.pos));
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
                match self.sent {
                    Phase::Confirm => {
                        // A plain read found a row the filters skipped: read on past it.
                        if page.items.is_empty() {
                            self.phase = Phase::Done;
                        } else {
                            self.pos = self.pos.saturating_add(self.last_limit);
                            self.phase = Phase::Drain;
                        }
                        return Ok(Vec::new());
                    }
                    Phase::Page => {
                        self.pos = self.pos.saturating_add(self.last_limit);
                        self.phase = if self.pos < self.target {
                            Phase::Page
                        } else if self.left() == Some(0) {
                            Phase::Done
                        } else if self.terminal {
                            Phase::Drain
                        } else {
                            Phase::WaitRun
                        };
                    }
                    _ => {
                        // Only an empty page ends the drain; filters may empty a full one.
                        self.phase = if scanned > 0 {
                            self.pos = self.pos.saturating_add(self.last_limit);
                            Phase::Drain
                        } else if self.filtered() {
                            Phase::Confirm
                        } else {
                            Phase::Done
                        };
                    }
                }
                self.pending.extend(page.items);
                return Ok(self.pending.drain(..).collect());
            }
            Phase::Done => {}
        }
        Ok(Vec::new())
    }
}
