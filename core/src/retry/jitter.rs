//! Random numbers for backoff jitter, always supplied from outside the core.

/// A source of uniform numbers in `[0, 1)` for backoff jitter.
pub trait JitterSource {
    /// The next number, uniform in `[0, 1)`.
    fn next_unit(&mut self) -> f64;
}

impl<J: JitterSource + ?Sized> JitterSource for &mut J {
    fn next_unit(&mut self) -> f64 {
        (**self).next_unit()
    }
}

/// A small deterministic generator (SplitMix64) seeded by the caller.
///
/// The core never seeds it itself: drivers seed it from the operating system, tests from a
/// constant, so a retry schedule can be reproduced exactly.
#[derive(Debug, Clone)]
pub struct SeededJitter(u64);

impl SeededJitter {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl JitterSource for SeededJitter {
    fn next_unit(&mut self) -> f64 {
        // 53 high bits give every representable double in [0, 1) with equal spacing.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Always the same number (clamped into `[0, 1)`): `FixedJitter(0.0)` gives the plain
/// schedule 500 ms, 1 s, 2 s, 4 s.
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Clone, Copy)]
pub struct FixedJitter(pub f64);

#[cfg(any(test, feature = "test-util"))]
impl JitterSource for FixedJitter {
    fn next_unit(&mut self) -> f64 {
        self.0.clamp(0.0, 1.0 - f64::EPSILON)
    }
}

/// Yields the given numbers in order, then repeats the last one (0.0 if empty).
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Clone)]
pub struct SeqJitter {
    values: Vec<f64>,
    next: usize,
}

#[cfg(any(test, feature = "test-util"))]
impl SeqJitter {
    /// A sequence of numbers in `[0, 1)`.
    pub fn new(values: impl Into<Vec<f64>>) -> Self {
        Self { values: values.into(), next: 0 }
    }
}

#[cfg(any(test, feature = "test-util"))]
impl JitterSource for SeqJitter {
    fn next_unit(&mut self) -> f64 {
        let v = self.values.get(self.next).or_else(|| self.values.last()).copied().unwrap_or(0.0);
        self.next += 1;
        v.clamp(0.0, 1.0 - f64::EPSILON)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_reproducible_and_in_range() {
        let mut a = SeededJitter::new(42);
        let mut b = SeededJitter::new(42);
        let xs: Vec<f64> = (0..1000).map(|_| a.next_unit()).collect();
        let ys: Vec<f64> = (0..1000).map(|_| b.next_unit()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
        assert_ne!(SeededJitter::new(1).next_u64(), SeededJitter::new(2).next_u64());
    }

    #[test]
    fn seq_repeats_last() {
        let mut s = SeqJitter::new([0.1, 0.9]);
        assert_eq!([s.next_unit(), s.next_unit(), s.next_unit()], [0.1, 0.9, 0.9]);
        assert!(FixedJitter(1.0).next_unit() < 1.0);
    }
}
