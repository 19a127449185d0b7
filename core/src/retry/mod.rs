//! Retry decisions as a pure state machine (client-behaviour §11).
//!
//! Inputs are the outcome of an attempt, the current [`Instant`], the wall clock (only to
//! read an HTTP-date `Retry-After`) and a [`JitterSource`]; the output is a [`Decision`].
//! Nothing here sleeps or reads a clock, so schedules are tested exactly, with no runtime.
//!
//! Defaults are those of the official clients: 429, every 5xx and transient transport errors
//! are retried for every method, up to 4 retries, waiting a random time in `[d, 2d]` with
//! `d = 500 ms` doubling. On top of that, always: a `Retry-After` on 429/503 is a floor
//! (a hint above `max_retry_after` stops retrying), and waits are capped at `max_backoff`.
//! Options: [`NonIdempotentRetry::SafeOnly`], full jitter for non-throttling errors, a
//! per-call deadline across attempts and waits, and a shared [`RetryBudget`].

mod budget;
mod jitter;
mod retry_after;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};

pub use budget::{RetryBudget, THROTTLE_COST, TRANSIENT_COST};
#[cfg(any(test, feature = "test-util"))]
pub use jitter::{FixedJitter, SeqJitter};
pub use jitter::{JitterSource, SeededJitter};
pub use retry_after::parse_retry_after;

use crate::config::{Timeout, Timeouts};
use crate::error::{GiveUpReason, TransportErrorKind};
use crate::time::Instant;

/// What to do with non-idempotent operations (POST that creates or appends) after a failure
/// that may have been processed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonIdempotentRetry {
    /// Retry them like any other call, as the official clients do. A retried dataset push
    /// that timed out after the server stored it can store the items twice.
    #[default]
    ApifyCompat,
    /// Retry them only after outcomes proving the request was not processed (connect
    /// failure, refused stream, 429).
    SafeOnly,
}

/// How the wait is drawn for non-throttling failures (429 always uses `[d, 2d]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JitterMode {
    /// Uniform in `[d, 2d]`, the documented Apify schedule.
    #[default]
    Apify,
    /// Uniform in `[0, d]` ("full jitter"), which spreads a crowd of clients better.
    Full,
}

/// The retry configuration, immutable per client and cloned into each call.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 4).
    pub max_retries: u32,
    /// First backoff step `d` (default 500 ms); it doubles per retry.
    pub min_delay: Duration,
    /// Cap of a single wait (default 20 s).
    pub max_backoff: Duration,
    /// Longest `Retry-After` honoured (default 60 s); a longer hint stops retrying.
    pub max_retry_after: Duration,
    /// Treatment of non-idempotent operations.
    pub non_idempotent: NonIdempotentRetry,
    /// Jitter for non-throttling failures.
    pub transient_jitter: JitterMode,
    /// Deadline of a whole call, attempts and waits included (default none).
    pub deadline: Option<Duration>,
    /// Shared retry budget (default none).
    pub budget: Option<RetryBudget>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            min_delay: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
            non_idempotent: NonIdempotentRetry::ApifyCompat,
            transient_jitter: JitterMode::Apify,
            deadline: None,
            budget: None,
        }
    }
}

/// The outcome of one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// A response head arrived.
    Response {
        /// Its status.
        status: StatusCode,
        /// Its headers (for `Retry-After` and `Date`).
        headers: &'a HeaderMap,
    },
    /// The attempt failed below HTTP.
    Transport(TransportErrorKind),
}

/// A failure that another attempt may cure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// 429: the request was rejected, not processed.
    Throttle,
    /// 5xx or a transient transport error.
    Transient {
        /// Whether the server may have acted on the request.
        maybe_processed: bool,
    },
}

/// How an outcome is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not a failure (1xx/2xx/3xx).
    Success,
    /// A failure no retry can cure (4xx other than 429, permanent transport errors).
    Permanent,
    /// A failure worth another attempt.
    Retryable(FailureKind),
}

/// Classifies an attempt's outcome.
pub fn classify(outcome: &Outcome<'_>) -> Verdict {
    match *outcome {
        Outcome::Response { status, .. } => match status.as_u16() {
            429 => Verdict::Retryable(FailureKind::Throttle),
            s if s >= 500 => Verdict::Retryable(FailureKind::Transient { maybe_processed: true }),
            s if s >= 400 => Verdict::Permanent,
            _ => Verdict::Success,
        },
        Outcome::Transport(kind) if kind.is_transient() => {
            Verdict::Retryable(FailureKind::Transient { maybe_processed: kind.may_have_been_processed() })
        }
        Outcome::Transport(_) => Verdict::Permanent,
    }
}

/// Why a failure was returned as it is, without retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The failure is permanent.
    NotRetryable,
    /// A non-idempotent operation under `SafeOnly` after a maybe-processed failure.
    UnsafeToRetry,
    /// `max_retries` retries were made already.
    AttemptsExhausted,
}

/// The decision after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Decision {
    /// Retry after waiting `delay`.
    Retry {
        /// The wait before the next attempt.
        delay: Duration,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
        /// The failure being retried.
        kind: FailureKind,
    },
    /// Return the failure as it is.
    Stop(StopReason),
    /// Stop retrying early; the failure is wrapped with the reason.
    GiveUp(GiveUpReason),
}

/// Retry bookkeeping of one logical call.
#[derive(Debug, Clone)]
pub struct RetryState {
    attempts: u32,
    deadline: Option<Instant>,
    budget_spent: u32,
}

impl RetryState {
    /// State of a call started at `now`.
    pub fn new(policy: &RetryPolicy, now: Instant) -> Self {
        Self { attempts: 0, deadline: policy.deadline.map(|d| now + d), budget_spent: 0 }
    }

    /// Attempts started so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The call's deadline, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Marks the start of the next attempt and returns its 1-based number.
    pub fn start_attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    /// Timeout of the current attempt: the tier's (doubling per attempt, capped), further
    /// limited by what remains of the deadline.
    pub fn attempt_timeout(&self, timeouts: &Timeouts, timeout: Timeout, now: Instant) -> Option<Duration> {
        let tier = timeouts.for_attempt(timeout, self.attempts.max(1));
        match (tier, self.deadline) {
            (t, None) => t,
            (None, Some(dl)) => Some(dl - now),
            (Some(t), Some(dl)) => Some(t.min(dl - now)),
        }
    }

    /// Decides what follows a failed attempt (checks in the documented order: classify,
    /// attempts, backoff and `Retry-After`, deadline, budget).
    pub fn on_failure(
        &mut self,
        policy: &RetryPolicy,
        outcome: &Outcome<'_>,
        idempotent: bool,
        now: Instant,
        wall: Option<SystemTime>,
        jitter: &mut dyn JitterSource,
    ) -> Decision {
        let kind = match classify(outcome) {
            Verdict::Retryable(kind) => kind,
            Verdict::Success | Verdict::Permanent => return Decision::Stop(StopReason::NotRetryable),
        };
        if let FailureKind::Transient { maybe_processed: true } = kind
            && !idempotent
            && policy.non_idempotent == NonIdempotentRetry::SafeOnly
        {
            return Decision::Stop(StopReason::UnsafeToRetry);
        }
        if self.attempts > policy.max_retries {
            return Decision::Stop(StopReason::AttemptsExhausted);
        }

        let step = 1u32.checked_shl(self.attempts.saturating_sub(1)).unwrap_or(u32::MAX);
        let base = policy.min_delay.saturating_mul(step).min(policy.max_backoff);
        let u = jitter.next_unit().clamp(0.0, 1.0);
        let mut delay = match (kind, policy.transient_jitter) {
            (FailureKind::Transient { .. }, JitterMode::Full) => base.mul_f64(u),
            _ => base + base.mul_f64(u),
        }
        .min(policy.max_backoff);

        let retry_after = match outcome {
            Outcome::Response { status, headers } if matches!(status.as_u16(), 429 | 503) => {
                parse_retry_after(headers, wall)
            }
            _ => None,
        };
        if let Some(ra) = retry_after {
            if ra > policy.max_retry_after {
                return Decision::GiveUp(GiveUpReason::RetryAfterTooLong { retry_after: ra });
            }
            delay = delay.max(ra);
        }

        if let Some(deadline) = self.deadline
            && now + delay >= deadline
        {
            // Said apart when the server's hint set the wait: no retry policy would help.
            if let Some(ra) = retry_after.filter(|ra| *ra == delay) {
                let remaining = deadline.saturating_duration_since(now);
                return Decision::GiveUp(GiveUpReason::RetryAfterPastDeadline { retry_after: ra, remaining });
            }
            return Decision::GiveUp(GiveUpReason::DeadlineWouldPass { delay });
        }

        if let Some(budget) = &policy.budget {
            let cost = match kind {
                FailureKind::Throttle => THROTTLE_COST,
                FailureKind::Transient { .. } => TRANSIENT_COST,
            };
            if !budget.try_acquire(cost) {
                return Decision::GiveUp(GiveUpReason::BudgetExhausted);
            }
            self.budget_spent += cost;
        }

        Decision::Retry { delay, retry_after, kind }
    }

    /// Records success: a retried call gives back the budget it took, a first-attempt
    /// success adds one token.
    pub fn on_success(&mut self, policy: &RetryPolicy) {
        if let Some(budget) = &policy.budget {
            budget.release(if self.budget_spent > 0 { self.budget_spent } else { 1 });
            self.budget_spent = 0;
        }
    }
}

#[cfg(test)]
mod tests;
