//! The optional shared retry budget (a token bucket, the AWS "retry quota").

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// A token bucket shared by every call that holds a clone of it. A retry takes tokens
/// (5 after a 429, 14 after other failures); a call that succeeds after retries gives back
/// what it took, and a first-attempt success adds one. When the bucket is empty, calls stop
/// retrying instead of piling load on a struggling server.
#[derive(Debug, Clone)]
pub struct RetryBudget {
    tokens: Arc<AtomicU32>,
    capacity: u32,
}

/// Cost of a retry after a 429.
pub const THROTTLE_COST: u32 = 5;
/// Cost of a retry after a 5xx, transport error or timeout.
pub const TRANSIENT_COST: u32 = 14;

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new(500)
    }
}

impl RetryBudget {
    /// A full bucket of `capacity` tokens.
    pub fn new(capacity: u32) -> Self {
        Self { tokens: Arc::new(AtomicU32::new(capacity)), capacity }
    }

    /// Tokens left.
    pub fn remaining(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }

    /// Size of the bucket.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Takes `cost` tokens if there are that many.
    pub fn try_acquire(&self, cost: u32) -> bool {
        self.tokens.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| t.checked_sub(cost)).is_ok()
    }

    /// Returns `amount` tokens, never above capacity.
    pub fn release(&self, amount: u32) {
        let cap = self.capacity;
        let _ =
            self.tokens.fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| Some(t.saturating_add(amount).min(cap)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_stays_within_bounds() {
        let b = RetryBudget::new(20);
        assert!(b.try_acquire(TRANSIENT_COST));
        assert!(!b.try_acquire(TRANSIENT_COST));
        assert!(b.try_acquire(THROTTLE_COST));
        assert_eq!(b.remaining(), 1);
        b.release(100);
        assert_eq!(b.remaining(), 20);
        let shared = b.clone();
        assert!(shared.try_acquire(20));
        assert_eq!(b.remaining(), 0);
    }
}
