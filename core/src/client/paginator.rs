//! Iteration over every page: a `futures::Stream` on async drivers, an `Iterator` on
//! blocking ones. The paging decisions come from [`Paginated`].

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::exec::{ClientInner, run_plan, run_plan_blocking};
use super::http::{BlockingHttpClient, BoxFuture, HttpClient};
use crate::config::Timeout;
use crate::error::Error;
use crate::ops::paginate::Paginated;
use crate::ops::plan::IntoPlan;
use crate::path::ResourcePath;

/// Every item of a paginated listing, fetched page by page as it is consumed.
#[must_use = "iteration does nothing until it is polled"]
pub struct Paginator<D, O: Paginated> {
    client: Arc<ClientInner<D>>,
    parts: Option<Result<(ResourcePath, O), Error>>,
    chunk_size: Option<u64>,
    timeout: Option<Timeout>,
    run: Option<Box<Run<O>>>,
}

struct Run<O: Paginated> {
    target: ResourcePath,
    op: O,
    state: O::State,
    buffer: VecDeque<O::Item>,
    fetch: Option<BoxFuture<'static, Result<O::Output, Error>>>,
    done: bool,
}

impl<D, O: Paginated> std::fmt::Debug for Paginator<D, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paginator")
            .field("chunk_size", &self.chunk_size)
            .field("state", &self.run.as_ref().map(|r| &r.state))
            .finish_non_exhaustive()
    }
}

impl<D, O: Paginated> Paginator<D, O> {
    pub(crate) fn new(client: Arc<ClientInner<D>>, parts: Result<(ResourcePath, O), Error>) -> Self {
        Self { client, parts: Some(parts), chunk_size: None, timeout: None, run: None }
    }

    pub(crate) fn map_op(mut self, f: impl FnOnce(O) -> O) -> Self {
        self.parts = self.parts.map(|p| p.map(|(t, o)| (t, f(o))));
        self
    }

    /// Items per request (defaults: 1000 for dataset items, KVS keys and requests; the
    /// API's default for storage lists).
    pub fn chunk_size(mut self, chunk_size: u64) -> Self {
        self.chunk_size = Some(chunk_size);
        self
    }

    /// Timeout of each page request.
    pub fn timeout(mut self, timeout: impl Into<Timeout>) -> Self {
        self.timeout = Some(timeout.into());
        self
    }

    /// Starts iterating; `Err` if building the first page failed.
    fn run(&mut self) -> Option<Result<&mut Run<O>, Error>> {
        if self.run.is_none() {
            match self.parts.take()? {
                Err(e) => return Some(Err(e)),
                Ok((target, op)) => {
                    let state = op.start(self.chunk_size);
                    self.run =
                        Some(Box::new(Run { target, op, state, buffer: VecDeque::new(), fetch: None, done: false }));
                }
            }
        }
        self.run.as_deref_mut().map(Ok)
    }
}

impl<D: HttpClient, O: Paginated + Unpin> Stream for Paginator<D, O> {
    type Item = Result<O::Item, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let client = this.client.clone();
        let timeout = this.timeout;
        let run = match this.run() {
            None => return Poll::Ready(None),
            Some(Err(e)) => return Poll::Ready(Some(Err(e))),
            Some(Ok(run)) => run,
        };
        loop {
            if let Some(item) = run.buffer.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if run.done {
                return Poll::Ready(None);
            }
            if let Some(fetch) = &mut run.fetch {
                match fetch.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => {
                        run.fetch = None;
                        match result {
                            Ok(page) => run.buffer.extend(O::on_page(&mut run.state, page)),
                            Err(e) => {
                                run.done = true;
                                return Poll::Ready(Some(Err(e)));
                            }
                        }
                    }
                }
            } else {
                match run.op.next_page(&mut run.state) {
                    None => run.done = true,
                    Some(page) => {
                        let (client, target) = (client.clone(), run.target.clone());
                        run.fetch =
                            Some(Box::pin(async move { run_plan(&client, &target, page.into_plan(), timeout).await }));
                    }
                }
            }
        }
    }
}

impl<D: BlockingHttpClient, O: Paginated> Iterator for Paginator<D, O> {
    type Item = Result<O::Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let run = match self.run()? {
            Err(e) => return Some(Err(e)),
            Ok(run) => run,
        };
        loop {
            if let Some(item) = run.buffer.pop_front() {
                return Some(Ok(item));
            }
            if run.done {
                return None;
            }
            let Some(page) = run.op.next_page(&mut run.state) else {
                run.done = true;
                continue;
            };
            match run_plan_blocking(&client, &run.target, page.into_plan(), timeout) {
                Ok(page) => run.buffer.extend(O::on_page(&mut run.state, page)),
                Err(e) => {
                    run.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
