//! Capture timestamps in nanoseconds since the Unix epoch. Reports print seconds as
//! floats; keeping integers internally avoids drift when subtracting close times.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ts(pub i64);

impl Ts {
    pub const ZERO: Ts = Ts(0);

    pub fn from_secs_nanos(secs: i64, nanos: i64) -> Ts {
        Ts(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    pub fn from_secs_f64(secs: f64) -> Ts {
        Ts((secs * 1e9).round() as i64)
    }

    pub fn secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// `self - earlier` in seconds (negative when out of order).
    pub fn since(self, earlier: Ts) -> f64 {
        (self.0 - earlier.0) as f64 / 1e9
    }

    pub fn nanos_since(self, earlier: Ts) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}", self.secs_f64())
    }
}

/// Seconds rounded to microseconds, the precision of most captures, for JSON output.
pub fn round_us(secs: f64) -> f64 {
    (secs * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_exact() {
        let a = Ts::from_secs_nanos(1_700_000_000, 123_456_000);
        let b = Ts::from_secs_nanos(1_700_000_011, 123_457_000);
        assert_eq!(b.nanos_since(a), 11_000_001_000);
        assert!((b.since(a) - 11.000001).abs() < 1e-9);
        assert_eq!(round_us(0.0000004), 0.0);
    }
}
