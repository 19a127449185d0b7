//! An SDK request queue: `add_request(s)`, `fetch_next_request`,
//! `mark_request_as_handled`, `reclaim_request`, `is_empty`, `is_finished`.
//!
//! Requests are taken with `head/lock` under this run's client key, locally and on the
//! platform alike, so several consumers (processes sharing an emulator, or Actor runs
//! sharing a queue) never get the same request.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apify_core::models::{Request, RequestQueue as QueueInfo};
use apify_local::storage::Kind;
use apify_local::unique_key::request_id;
use time::OffsetDateTime;

use crate::backend::{Backend, dispatch};
use crate::error::{Error, Result};
use crate::request::IntoRequest;

/// How long `fetch_next_request` locks requests for.
const LOCK: Duration = Duration::from_secs(180);
/// A request handed out with less lock time left than this is locked again first.
const RELOCK_BELOW: Duration = Duration::from_secs(90);
/// Requests locked per `head/lock` call (the API's maximum).
const LOCK_BATCH: u64 = 25;

/// What adding a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedRequest {
    /// Request ID.
    pub id: String,
    /// Unique key.
    pub unique_key: String,
    /// Whether it was already in the queue.
    pub was_already_present: bool,
    /// Whether it was already handled.
    pub was_already_handled: bool,
}

/// A request locked ahead of time: its ID, lock expiry, and the whole request when the
/// head carried it (the local driver's does; the platform's is a summary).
type Locked = (String, Option<OffsetDateTime>, Option<Request>);

/// The head item as a whole request, with the local driver only: it is known to put the
/// whole request in head items. From a server, a summary that happened to carry some
/// fields would otherwise pass for the request and lose the others (headers, payload).
fn full_request(item: apify_core::models::HeadRequest, local: bool) -> Locked {
    let (id, expires) = (item.id.clone(), item.lock_expires_at);
    if !local {
        return (id, expires, None);
    }
    let request = serde_json::to_value(&item).ok().and_then(|v| serde_json::from_value::<Request>(v).ok());
    (id, expires, request)
}

#[derive(Default)]
struct State {
    // Locked by us, not handed out yet: ID → lock expiry.
    buffer: VecDeque<Locked>,
    // Handed out and not yet handled or reclaimed.
    in_progress: HashMap<String, ()>,
}

/// A request queue of the run.
#[derive(Clone)]
pub struct RequestQueue {
    backend: Backend,
    id: String,
    name: Option<String>,
    client_key: String,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for RequestQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestQueue").field("id", &self.id).field("backend", &self.backend).finish_non_exhaustive()
    }
}

macro_rules! rq {
    ($self:ident, $c:ident) => {
        $c.request_queue(&$self.id).with_client_key(&$self.client_key)
    };
}

impl RequestQueue {
    pub(crate) fn new(backend: Backend, id: String, name: Option<String>, client_key: String) -> Self {
        Self { backend, id, name, client_key, state: Arc::default() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Storage ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Name (`None` for the default and alias queues).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Adds a request (a URL, a [`RequestSpec`](crate::RequestSpec) or a ready request);
    /// a request whose unique key is known is not added again.
    pub async fn add_request(&self, request: impl IntoRequest, forefront: bool) -> Result<ProcessedRequest> {
        let request = request.into_request()?;
        let unique_key = request.unique_key.clone();
        let r = dispatch!(self.backend, c => rq!(self, c).add_request(request).forefront(forefront).await?);
        if forefront && !r.was_already_handled {
            self.release_buffer().await;
        }
        Ok(ProcessedRequest {
            id: r.request_id,
            unique_key,
            was_already_present: r.was_already_present,
            was_already_handled: r.was_already_handled,
        })
    }

    /// Adds requests in batches of 25; requests the API leaves unprocessed are retried up
    /// to 5 times with a growing pause before the error is returned.
    pub async fn add_requests<R: IntoRequest>(
        &self,
        requests: impl IntoIterator<Item = R>,
        forefront: bool,
    ) -> Result<Vec<ProcessedRequest>> {
        let mut pending: Vec<Request> = requests.into_iter().map(IntoRequest::into_request).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(pending.len());
        for attempt in 0..=5u32 {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            let result =
                dispatch!(self.backend, c => rq!(self, c).batch_add_requests(&pending).forefront(forefront).await?);
            if forefront {
                self.release_buffer().await;
            }
            out.extend(result.processed_requests.into_iter().map(|p| ProcessedRequest {
                id: p.request_id,
                unique_key: p.unique_key,
                was_already_present: p.was_already_present,
                was_already_handled: p.was_already_handled,
            }));
            let unprocessed: std::collections::HashSet<String> =
                result.unprocessed_requests.into_iter().filter_map(|u| u.unique_key).collect();
            pending.retain(|r| unprocessed.contains(&r.unique_key));
        }
        if !pending.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{} request(s) could not be added after 5 retries",
                pending.len()
            )));
        }
        Ok(out)
    }

    /// A request by ID.
    pub async fn get_request(&self, id: &str) -> Result<Option<Request>> {
        Ok(dispatch!(self.backend, c => rq!(self, c).get_request(id).await?))
    }

    /// A request by its unique key (its ID is derived from the key, as on the platform).
    pub async fn get_request_by_unique_key(&self, unique_key: &str) -> Result<Option<Request>> {
        self.get_request(&request_id(unique_key)).await
    }

    /// The next request to process, locked for this run; `None` when none is waiting
    /// (which does not mean the queue is finished: see [`RequestQueue::is_finished`]).
    pub async fn fetch_next_request(&self) -> Result<Option<Request>> {
        loop {
            let next = self.state().buffer.pop_front();
            let Some((id, expires, known)) = next else {
                let head = dispatch!(self.backend, c => rq!(self, c).list_and_lock_head(LOCK).limit(LOCK_BATCH).await?);
                if head.items.is_empty() {
                    return Ok(None);
                }
                let local = self.backend.is_local();
                self.state().buffer.extend(head.items.into_iter().map(|item| full_request(item, local)));
                continue;
            };
            let now = OffsetDateTime::now_utc();
            if expires.is_some_and(|t| t - now < RELOCK_BELOW) {
                // Waited in the buffer too long: extend the lock before handing it out.
                if dispatch!(self.backend, c => rq!(self, c).prolong_request_lock(&id, LOCK).await).is_err() {
                    continue;
                }
            }
            let request = match known {
                Some(r) => Some(r),
                None => self.get_request(&id).await?,
            };
            match request {
                Some(r) if r.handled_at.is_none() => {
                    self.state().in_progress.insert(id, ());
                    return Ok(Some(r));
                }
                // Handled or deleted meanwhile by someone else.
                _ => continue,
            }
        }
    }

    /// Unlocks the requests locked ahead of time but not handed out, so that a request
    /// just put at the front is served next (as the Python SDK serves it).
    async fn release_buffer(&self) {
        let ids: Vec<String> = self.state().buffer.drain(..).map(|(id, ..)| id).collect();
        for id in ids {
            let _ = dispatch!(self.backend, c => rq!(self, c).delete_request_lock(&id).await);
        }
    }

    fn take_in_progress(&self, request: &Request) -> Option<String> {
        let id = request.id.clone()?;
        self.state().in_progress.remove(&id).map(|()| id)
    }

    /// Marks a fetched request handled (changes made to it, like `user_data`, are saved).
    /// `None` if it was not in progress.
    pub async fn mark_request_as_handled(&self, request: &Request) -> Result<Option<ProcessedRequest>> {
        let Some(id) = self.take_in_progress(request) else {
            tracing::warn!(unique_key = %request.unique_key, "the request is not in progress; not marked as handled");
            return Ok(None);
        };
        let mut r = request.clone();
        r.handled_at.get_or_insert_with(OffsetDateTime::now_utc);
        let reg = dispatch!(self.backend, c => rq!(self, c).update_request(r).await?);
        Ok(Some(ProcessedRequest {
            id,
            unique_key: request.unique_key.clone(),
            was_already_present: reg.was_already_present,
            was_already_handled: reg.was_already_handled,
        }))
    }

    /// Returns a fetched request to the queue (at the end, or the front with `forefront`),
    /// saving its changes (e.g. a raised `retry_count`). `None` if it was not in progress.
    pub async fn reclaim_request(&self, request: &Request, forefront: bool) -> Result<Option<ProcessedRequest>> {
        let Some(id) = self.take_in_progress(request) else {
            tracing::info!(unique_key = %request.unique_key, "the request is not in progress; not reclaimed");
            return Ok(None);
        };
        let mut r = request.clone();
        r.handled_at = None;
        let reg = dispatch!(self.backend, c => rq!(self, c).update_request(r).forefront(forefront).await?);
        // Release our lock too (the platform may keep it after an update); already free is fine.
        let _ = dispatch!(self.backend, c => rq!(self, c).delete_request_lock(&id).forefront(forefront).await);
        if forefront {
            self.release_buffer().await;
        }
        Ok(Some(ProcessedRequest {
            id,
            unique_key: request.unique_key.clone(),
            was_already_present: reg.was_already_present,
            was_already_handled: reg.was_already_handled,
        }))
    }

    /// Whether no request is waiting to be fetched (all are handled or in progress).
    pub async fn is_empty(&self) -> Result<bool> {
        if !self.state().buffer.is_empty() {
            return Ok(false);
        }
        let head = dispatch!(self.backend, c => rq!(self, c).list_head().limit(1u64).await?);
        Ok(head.items.is_empty())
    }

    /// Whether every request is handled: nothing waiting and nothing in progress.
    pub async fn is_finished(&self) -> Result<bool> {
        if !self.state().in_progress.is_empty() || !self.is_empty().await? {
            return Ok(false);
        }
        Ok(self.get_info().await?.is_none_or(|q| q.pending_request_count == 0))
    }

    /// The queue's metadata (counts).
    pub async fn get_info(&self) -> Result<Option<QueueInfo>> {
        Ok(dispatch!(self.backend, c => c.request_queue(&self.id).get().await?))
    }

    /// Releases the locks this run holds (e.g. before exiting with work left).
    pub async fn unlock_requests(&self) -> Result<u64> {
        {
            let mut st = self.state();
            st.buffer.clear();
            st.in_progress.clear();
        }
        Ok(dispatch!(self.backend, c => rq!(self, c).unlock_requests().await?).unlocked_count)
    }

    /// Deletes the queue.
    pub async fn drop(self) -> Result<()> {
        crate::Actor::drop_storage(&self.backend, Kind::RequestQueue, &self.id).await
    }
}
