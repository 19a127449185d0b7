//! Runs and builds as pure plans: waiting for a job to finish, starting a run (waiting for
//! resources when asked), `call` = start + wait, and charging with an idempotency key
//! (client-behaviour §15–16). Time and randomness come from the executor ([`PlanCx`]), so
//! every decision here is tested without sleeping.

use std::time::Duration;

use http::StatusCode;
use http::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::api::{ApiOp, WaitForResources};
use super::kinds::{RunCall, RunStart};
use super::plan::{IntoPlan, Plan, PlanCx, Step};
use super::registry::{self, OpSpec};
use crate::config::{Timeout, TimeoutTier};
use crate::error::Error;
use crate::models::{ActorJobStatus, Build, Run};
use crate::path::{Query, ResourcePath};
use crate::request::{ApiRequest, RequestBuilder};
use crate::response::Response;
use crate::time::Instant;

/// Pause between two polls (database replicas may lag behind).
pub const POLL_PAUSE: Duration = Duration::from_millis(250);
/// How long a job may be missing (404) before waiting gives up on it.
pub const NOT_FOUND_GRACE: Duration = Duration::from_secs(3);
/// `waitForFinish` sent when the wait has no deadline (the server holds ≤ 60 s anyway).
pub const WAIT_FOREVER_SECS: u64 = 999_999;
/// Pause between starts refused for lack of resources.
pub const RESOURCES_COOLDOWN: Duration = Duration::from_secs(10);
/// API error types of a start refused for lack of resources.
pub const RESOURCE_LIMIT_ERRORS: [&str; 2] = ["actor-memory-limit-exceeded", "concurrent-runs-limit-exceeded"];

impl ActorJobStatus {
    /// `SUCCEEDED`, `FAILED`, `TIMED-OUT` or `ABORTED`: the job will not change again
    /// (`TIMING-OUT` and `ABORTING` are on their way there).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimedOut | Self::Aborted)
    }
}

/// A job that finishes: a run or a build.
pub trait Job: DeserializeOwned + Send + 'static {
    /// Model name for errors.
    const NAME: &'static str;
    /// Its ID.
    fn id(&self) -> &str;
    /// Its status.
    fn status(&self) -> &ActorJobStatus;
}

impl Job for Run {
    const NAME: &'static str = "Run";
    fn id(&self) -> &str {
        &self.id
    }
    fn status(&self) -> &ActorJobStatus {
        &self.status
    }
}

impl Job for Build {
    const NAME: &'static str = "Build";
    fn id(&self) -> &str {
        &self.id
    }
    fn status(&self) -> &ActorJobStatus {
        &self.status
    }
}

#[derive(Debug)]
enum WaitState<J> {
    Poll,
    Got(J),
    NotFound,
    Pause,
    Done(Option<J>),
    Finished,
}

/// `wait_for_finish`: long polls of the job until it is terminal, the wait is over, or it
/// has been missing for [`NOT_FOUND_GRACE`] (then `None`). Each poll asks the server to hold
/// it for the remaining whole seconds (or [`WAIT_FOREVER_SECS`]); 429s and 5xx inside a
/// poll are retried by the core like any call.
#[derive(Debug)]
pub struct WaitForFinish<J> {
    spec: &'static OpSpec,
    // The job's path when it is not the client's (a run just started by `call`).
    target: Option<ResourcePath>,
    wait: Option<Duration>,
    deadline: Option<Instant>,
    not_found_until: Option<Instant>,
    // Pauses so far (and since the first 404): a driver without a clock still ends the
    // wait, since each pause counts as at least 250 ms.
    pauses: u32,
    not_found_pauses: Option<u32>,
    last: Option<J>,
    state: WaitState<J>,
    started: bool,
}

impl<J: Job> WaitForFinish<J> {
    /// Waits for the job the client points at, through `spec` (its `get`), at most `wait`.
    pub fn new(spec: &'static OpSpec, wait: Option<Duration>) -> Self {
        Self {
            spec,
            target: None,
            wait,
            deadline: None,
            not_found_until: None,
            pauses: 0,
            not_found_pauses: None,
            last: None,
            state: WaitState::Poll,
            started: false,
        }
    }

    /// Waits for the job at `target` instead of the client's.
    pub fn at(mut self, target: ResourcePath) -> Self {
        self.target = Some(target);
        self
    }

    fn past_deadline(&self, now: Instant) -> bool {
        let Some(wait) = self.wait else { return false };
        self.deadline.is_some_and(|d| now >= d) || POLL_PAUSE * self.pauses >= wait
    }

    fn grace_over(&self, now: Instant) -> bool {
        let by_clock = self.not_found_until.is_some_and(|until| now > until);
        let by_pauses = self.not_found_pauses.is_some_and(|p| POLL_PAUSE * (self.pauses - p) > NOT_FOUND_GRACE);
        by_clock || by_pauses
    }

    fn poll(&self, cx: &PlanCx<'_>) -> Result<ApiRequest, Error> {
        let secs = match self.deadline {
            Some(d) => d.saturating_duration_since(cx.now).as_secs(),
            None => WAIT_FOREVER_SECS,
        };
        let mut q = Query::new();
        q.push("waitForFinish", &secs);
        let target = self.target.as_ref().unwrap_or(cx.target);
        RequestBuilder::for_op(cx.config, self.spec, target, &[])
            .query(q)
            // The server holds the request: no timeout of ours, whatever the caller set.
            .timeout(Timeout::Tier(TimeoutTier::None))
            .own_timeout()
            .build()
    }
}

/// A copy that has not polled yet.
impl<J: Job> Clone for WaitForFinish<J> {
    fn clone(&self) -> Self {
        Self { target: self.target.clone(), ..Self::new(self.spec, self.wait) }
    }
}

impl<J: Job> IntoPlan for WaitForFinish<J> {
    type Plan = Self;
    fn into_plan(self) -> Self {
        self
    }
}

impl<J: Job> Plan for WaitForFinish<J> {
    type Output = Option<J>;

    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        if !self.started {
            self.started = true;
            self.deadline = self.wait.map(|w| cx.now + w);
        }
        loop {
            match std::mem::replace(&mut self.state, WaitState::Finished) {
                WaitState::Poll => return Ok(Step::Send(self.poll(cx)?)),
                WaitState::Got(job) => {
                    self.not_found_until = None;
                    self.not_found_pauses = None;
                    if job.status().is_terminal() || self.past_deadline(cx.now) {
                        self.state = WaitState::Done(Some(job));
                        return Ok(Step::Done);
                    }
                    self.last = Some(job);
                    self.state = WaitState::Pause;
                }
                WaitState::NotFound => {
                    if self.past_deadline(cx.now) {
                        self.state = WaitState::Done(self.last.take());
                        return Ok(Step::Done);
                    }
                    if self.not_found_until.is_none() {
                        self.not_found_until = Some(cx.now + NOT_FOUND_GRACE);
                        self.not_found_pauses = Some(self.pauses);
                    } else if self.grace_over(cx.now) {
                        self.state = WaitState::Done(None);
                        return Ok(Step::Done);
                    }
                    self.state = WaitState::Pause;
                }
                WaitState::Pause => {
                    self.state = WaitState::Poll;
                    self.pauses += 1;
                    return Ok(Step::Wait { duration: POLL_PAUSE, optional: true });
                }
                done @ WaitState::Done(_) => {
                    self.state = done;
                    return Ok(Step::Done);
                }
                WaitState::Finished => return Ok(Step::Done),
            }
        }
    }

    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        self.state = if response.status == StatusCode::NOT_FOUND {
            WaitState::NotFound
        } else {
            WaitState::Got(response.success()?.data(J::NAME)?)
        };
        Ok(())
    }

    fn finish(self) -> Result<Option<J>, Error> {
        match self.state {
            WaitState::Done(job) => Ok(job),
            _ => Err(Error::invalid_argument("plan: wait_for_finish finished early")),
        }
    }
}

/// A run start, retried every [`RESOURCES_COOLDOWN`] while the API refuses it for lack of
/// memory or run slots, when [`WaitForResources`] says so.
#[derive(Debug)]
pub struct StartPlan {
    op: ApiOp<RunStart>,
    // `call()` starts with no timeout of its own (§10.3), unless the caller sets one.
    timeout: Option<Timeout>,
    until: Option<Option<Instant>>,
    retry_after: Option<(Error, bool)>,
    run: Option<Run>,
}

impl StartPlan {
    /// The start of `op`.
    pub fn new(op: ApiOp<RunStart>) -> Self {
        Self { op, timeout: None, until: None, retry_after: None, run: None }
    }
}

impl Plan for StartPlan {
    type Output = Run;

    #[inline]
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        if self.run.is_some() {
            return Ok(Step::Done);
        }
        let until = *self.until.get_or_insert_with(|| match self.op.plan.wait_for_resources {
            WaitForResources::For(d) => Some(cx.now + d),
            _ => None,
        });
        if let Some((error, slept)) = self.retry_after.take()
            && !slept
        {
            let delay = match until {
                Some(u) if cx.now >= u => return Err(error),
                Some(u) => RESOURCES_COOLDOWN.min(u.saturating_duration_since(cx.now)),
                None => RESOURCES_COOLDOWN,
            };
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                "Not enough resources to start the run, retrying in {:.3}s: {}",
                delay.as_secs_f64(),
                error.api_error().map_or("", |e| e.message.as_str())
            );
            self.retry_after = Some((error, true));
            return Ok(Step::Wait { duration: delay, optional: false });
        }
        let mut req = self.op.request(cx.config, cx.target, false)?;
        if let Some(t) = self.timeout {
            req.timeout = t;
        }
        Ok(Step::Send(req))
    }

    #[inline]
    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        if !response.is_success() && self.op.plan.wait_for_resources != WaitForResources::No {
            let error = response.to_api_error();
            let limited = error
                .api_error()
                .and_then(|e| e.error_type.as_ref())
                .is_some_and(|t| RESOURCE_LIMIT_ERRORS.contains(&t.as_str()));
            if limited {
                self.retry_after = Some((error, false));
                return Ok(());
            }
            return Err(error);
        }
        self.run = Some(response.success()?.data("Run")?);
        Ok(())
    }

    #[inline]
    fn finish(self) -> Result<Run, Error> {
        self.run.ok_or_else(|| Error::invalid_argument("plan: the run was not started"))
    }
}

impl IntoPlan for ApiOp<RunStart> {
    type Plan = StartPlan;
    fn into_plan(self) -> StartPlan {
        StartPlan::new(self)
    }
}

/// `call()`: the start (with its own timeout and resource waits), then
/// [`WaitForFinish`] on the new run (`None` if it vanished).
#[derive(Debug)]
pub struct CallPlan {
    start: Option<StartPlan>,
    wait: Option<WaitForFinish<Run>>,
    wait_duration: Option<Duration>,
}

impl IntoPlan for ApiOp<RunCall> {
    type Plan = CallPlan;
    fn into_plan(self) -> CallPlan {
        let wait_duration = self.plan.wait_duration;
        let mut start = StartPlan::new(self.cast());
        start.timeout = Some(Timeout::Tier(TimeoutTier::None));
        CallPlan { start: Some(start), wait: None, wait_duration }
    }
}

impl Plan for CallPlan {
    type Output = Option<Run>;

    #[inline]
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        if let Some(start) = &mut self.start {
            match start.next(cx)? {
                Step::Done => {
                    let Some(start) = self.start.take() else { return Ok(Step::Done) };
                    let run = start.finish()?;
                    let target = ResourcePath::resource("actor-runs", &run.id)?;
                    self.wait = Some(WaitForFinish::new(&registry::ACTOR_RUN_GET, self.wait_duration).at(target));
                }
                step => return Ok(step),
            }
        }
        match &mut self.wait {
            Some(wait) => wait.next(cx),
            None => Ok(Step::Done),
        }
    }

    #[inline]
    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        match (&mut self.start, &mut self.wait) {
            (Some(start), _) => start.on_response(response),
            (None, Some(wait)) => wait.on_response(response),
            (None, None) => Err(Error::invalid_argument("plan: response without a request")),
        }
    }

    #[inline]
    fn finish(self) -> Result<Option<Run>, Error> {
        match self.wait {
            Some(wait) => wait.finish(),
            None => Err(Error::invalid_argument("plan: call finished before the run started")),
        }
    }
}

/// `run.charge(event)`: one pay-per-event charge. Without a key of the caller's, the
/// idempotency key `{runId}-{eventName}-{epochMillis}-{6 random [A-Za-z0-9]}` is made once,
/// from the executor's wall clock and random number, and sent on every retry (§15).
#[derive(Debug, Clone)]
pub struct Charge {
    event_name: String,
    count: u64,
    idempotency_key: Option<String>,
    request_id: Option<String>,
    sent: bool,
}

impl Charge {
    /// Charges `event_name` once.
    pub fn new(event_name: impl Into<String>) -> Self {
        Self { event_name: event_name.into(), count: 1, idempotency_key: None, request_id: None, sent: false }
    }

    /// How many events (sent as is, `0` included).
    pub fn count(mut self, count: u64) -> Self {
        self.count = count;
        self
    }

    /// The caller's idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The `X-Actor-Request-ID` of a Standby request being charged.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// The key made for a run, an event, a time and a random number.
    pub fn generated_key(run_id: &str, event_name: &str, epoch_millis: u64, random: u64) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut r = random;
        let suffix: String = (0..6)
            .map(|_| {
                let c = CHARS[(r % CHARS.len() as u64) as usize] as char;
                r /= CHARS.len() as u64;
                c
            })
            .collect();
        format!("{run_id}-{event_name}-{epoch_millis}-{suffix}")
    }

    /// The request, with the key made now if the caller gave none.
    pub fn request(&mut self, cx: &PlanCx<'_>) -> Result<ApiRequest, Error> {
        if self.event_name.is_empty() {
            return Err(Error::invalid_argument("event_name is required for charging an event"));
        }
        let key = self.idempotency_key.get_or_insert_with(|| {
            let millis =
                cx.wall.and_then(|w| w.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_millis() as u64);
            Self::generated_key(cx.target.resource_id().unwrap_or_default(), &self.event_name, millis, cx.random)
        });
        let value = HeaderValue::from_str(key)
            .map_err(|_| Error::invalid_argument(format!("invalid idempotency key {key:?}")))?;
        let mut body = Map::new();
        body.insert("eventName".into(), Value::from(self.event_name.clone()));
        body.insert("count".into(), Value::from(self.count));
        if let Some(id) = &self.request_id {
            body.insert("requestId".into(), Value::from(id.clone()));
        }
        RequestBuilder::for_op(cx.config, &registry::POST_CHARGE_RUN, cx.target, &[])
            .header(HeaderName::from_static("idempotency-key"), value)
            .json(&body, "application/json")?
            // The key makes a retried charge count once.
            .idempotent()
            .build()
    }
}

impl IntoPlan for Charge {
    type Plan = Self;
    fn into_plan(self) -> Self {
        self
    }
}

impl Plan for Charge {
    type Output = ();

    #[inline]
    fn next(&mut self, cx: &PlanCx<'_>) -> Result<Step, Error> {
        if self.sent {
            return Ok(Step::Done);
        }
        self.sent = true;
        Ok(Step::Send(self.request(cx)?))
    }

    #[inline]
    fn on_response(&mut self, response: Response) -> Result<(), Error> {
        response.success().map(drop)
    }

    #[inline]
    fn finish(self) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn generated_keys_are_stable_for_a_seed() {
        let a = Charge::generated_key("r1", "ANALYZE", 1_700_000_000_000, 42);
        assert_eq!(a, Charge::generated_key("r1", "ANALYZE", 1_700_000_000_000, 42));
        assert!(a.starts_with("r1-ANALYZE-1700000000000-"), "{a}");
        let suffix = a.rsplit('-').next().unwrap();
        assert_eq!(suffix.len(), 6);
        assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, Charge::generated_key("r1", "ANALYZE", 1_700_000_000_000, 43));
    }

    #[test]
    fn terminal_statuses() {
        for s in ["SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED"] {
            assert!(ActorJobStatus::from(s).is_terminal(), "{s}");
        }
        for s in ["READY", "RUNNING", "TIMING-OUT", "ABORTING", "NEW-ONE"] {
            assert!(!ActorJobStatus::from(s).is_terminal(), "{s}");
        }
    }

    #[test]
    fn an_empty_event_name_is_refused_before_sending() {
        let config = Config::new();
        let target = ResourcePath::resource("actor-runs", "r").unwrap();
        let cx = PlanCx::new(&config, &target);
        assert!(matches!(Charge::new("").next(&cx), Err(Error::InvalidArgument(_))));
    }
}
