//! Per-client counters, shared by every sub-client of one root client (client-behaviour §18).

use std::sync::atomic::{AtomicU64, Ordering};

const TRACKED_ATTEMPTS: usize = 16;

/// Live counters; read them with [`Stats::snapshot`].
#[derive(Debug, Default)]
pub struct Stats {
    calls: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limit_errors: [AtomicU64; TRACKED_ATTEMPTS],
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Logical calls (one per method call, whatever its retries).
    pub calls: u64,
    /// HTTP requests sent (one per attempt).
    pub requests: u64,
    /// Retries decided.
    pub retries: u64,
    /// 429 answers by 0-based attempt index (the last slot also counts later attempts).
    pub rate_limit_errors: Vec<u64>,
}

impl Stats {
    pub(crate) fn record_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_rate_limit(&self, attempt: u32) {
        let i = (attempt.saturating_sub(1) as usize).min(TRACKED_ATTEMPTS - 1);
        self.rate_limit_errors[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now; trailing zero slots of `rate_limit_errors` are trimmed.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut rle: Vec<u64> = self.rate_limit_errors.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        while rle.last() == Some(&0) {
            rle.pop();
        }
        StatsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limit_errors: rle,
        }
    }
}
