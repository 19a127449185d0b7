//! Time as the core sees it: values handed in by the driver, never read from a clock.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point on the driver's monotonic clock, measured from an origin the driver chose.
///
/// The core never reads a clock: drivers convert their own clock readings with
/// [`ClockOrigin`], and tests build instants from plain numbers (`Instant::from_millis(1500)`).
/// A driver without a clock may pass [`Instant::ZERO`] forever: time then stands still, so
/// deadlines never pass and any non-zero wait is reported as unsupported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// The origin of the clock.
    pub const ZERO: Self = Self(Duration::ZERO);

    /// The instant `since_origin` after the origin.
    pub const fn from_duration(since_origin: Duration) -> Self {
        Self(since_origin)
    }

    /// The instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    /// Time elapsed since the origin.
    pub const fn since_origin(self) -> Duration {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + d`, saturating at the far future instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d))
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    fn add(self, rhs: Duration) -> Self {
        self.saturating_add(rhs)
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

/// Converts between `std::time::Instant` readings taken by a driver and core [`Instant`]s.
///
/// Drivers keep one origin per client and pass `origin.to_core(std::time::Instant::now())`
/// into the core; a wait decided by the core becomes `origin.to_std(at)` for their timer.
#[derive(Clone, Copy, Debug)]
pub struct ClockOrigin(std::time::Instant);

impl ClockOrigin {
    /// Uses `origin` (a reading of the driver's clock) as the zero point.
    pub const fn new(origin: std::time::Instant) -> Self {
        Self(origin)
    }

    /// A driver clock reading as a core instant.
    pub fn to_core(&self, reading: std::time::Instant) -> Instant {
        Instant(reading.saturating_duration_since(self.0))
    }

    /// A core instant as a driver clock value (for timers).
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.0.checked_add(at.0).unwrap_or(self.0 + Duration::from_secs(86_400 * 365))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let a = Instant::from_millis(1000);
        let b = Instant::from_millis(2500);
        assert_eq!(b - a, Duration::from_millis(1500));
        assert_eq!(a - b, Duration::ZERO);
        assert_eq!(a + Duration::from_millis(500), Instant::from_millis(1500));
        assert_eq!(
            Instant::from_duration(Duration::MAX) + Duration::from_secs(1),
            Instant::from_duration(Duration::MAX)
        );
    }
}
