//! Items of an [`ItemPlan`] as they arrive: a `futures::Stream` on async drivers, an
//! `Iterator` on blocking ones (`run.iterate_dataset_items()`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::exec::{ClientInner, execute, execute_blocking};
use super::http::{BlockingHttpClient, BoxFuture, HttpClient};
use crate::error::{Error, GiveUpReason};
use crate::ops::live::ItemPlan;
use crate::ops::plan::Step;
use crate::path::ResourcePath;
use crate::response::Response;

/// The items of a plan that reads and waits in turn.
#[must_use = "iteration does nothing until it is polled"]
pub struct PlanStream<D, P: ItemPlan> {
    client: Arc<ClientInner<D>>,
    target: Result<ResourcePath, Option<Error>>,
    plan: P,
    buffer: VecDeque<P::Item>,
    fetch: Option<BoxFuture<'static, Result<Response, Error>>>,
    sleep: Option<BoxFuture<'static, ()>>,
    done: bool,
}

impl<D, P: ItemPlan + std::fmt::Debug> std::fmt::Debug for PlanStream<D, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanStream").field("plan", &self.plan).finish_non_exhaustive()
    }
}

// Nothing is pinned inside: the futures are boxed.
impl<D, P: ItemPlan> Unpin for PlanStream<D, P> {}

impl<D, P: ItemPlan> PlanStream<D, P> {
    pub(crate) fn new(client: Arc<ClientInner<D>>, target: Result<ResourcePath, Error>, plan: P) -> Self {
        Self {
            client,
            target: target.map_err(Some),
            plan,
            buffer: VecDeque::new(),
            fetch: None,
            sleep: None,
            done: false,
        }
    }

    /// Changes the plan's options before iteration starts.
    pub fn map_plan(mut self, f: impl FnOnce(P) -> P) -> Self {
        self.plan = f(self.plan);
        self
    }
}

// Item plans read one page at a time; a concurrent step is a plan bug, not to be dropped.
fn one_at_a_time() -> Error {
    Error::invalid_argument("an item plan sent several requests at once; it must send one at a time")
}

fn no_timer(d: std::time::Duration) -> Error {
    Error::GaveUp {
        reason: GiveUpReason::NoTimer { delay: d },
        attempts: 0,
        last: Box::new(Error::invalid_argument("the iteration had to wait for the run")),
    }
}

impl<D: HttpClient, P: ItemPlan> Stream for PlanStream<D, P> {
    type Item = Result<P::Item, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let target = match &mut this.target {
                Ok(t) => t.clone(),
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(e.take().map(Err));
                }
            };
            if let Some(s) = &mut this.sleep {
                match s.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => this.sleep = None,
                }
            }
            if let Some(f) = &mut this.fetch {
                match f.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => {
                        this.fetch = None;
                        match r.and_then(|resp| this.plan.on_response(resp)) {
                            Ok(items) => this.buffer.extend(items),
                            Err(e) => {
                                this.done = true;
                                return Poll::Ready(Some(Err(e)));
                            }
                        }
                        continue;
                    }
                }
            }
            match this.plan.next(&this.client.plan_cx(&target)) {
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(Step::Done) => this.done = true,
                Ok(Step::Send(req)) => {
                    let client = this.client.clone();
                    this.fetch = Some(Box::pin(async move { execute(&client, req, None).await.map(|(r, _)| r) }));
                }
                Ok(Step::SendAll(_)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(one_at_a_time())));
                }
                Ok(Step::Wait { duration, optional }) => match HttpClient::sleep(&this.client.driver, duration) {
                    Some(s) => this.sleep = Some(s),
                    None if optional => {}
                    None => {
                        this.done = true;
                        return Poll::Ready(Some(Err(no_timer(duration))));
                    }
                },
            }
        }
    }
}

impl<D: BlockingHttpClient, P: ItemPlan> Iterator for PlanStream<D, P> {
    type Item = Result<P::Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.buffer.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            let target = match &mut self.target {
                Ok(t) => t.clone(),
                Err(e) => {
                    self.done = true;
                    return e.take().map(Err);
                }
            };
            let step = match self.plan.next(&self.client.plan_cx(&target)) {
                Ok(s) => s,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            let req = match step {
                Step::Done => {
                    self.done = true;
                    continue;
                }
                Step::Send(req) => req,
                Step::SendAll(_) => {
                    self.done = true;
                    return Some(Err(one_at_a_time()));
                }
                Step::Wait { duration, optional } => {
                    if !BlockingHttpClient::sleep(&self.client.driver, duration) && !optional {
                        self.done = true;
                        return Some(Err(no_timer(duration)));
                    }
                    continue;
                }
            };
            match execute_blocking(&self.client, req, None).and_then(|(r, _)| self.plan.on_response(r)) {
                Ok(items) => self.buffer.extend(items),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
