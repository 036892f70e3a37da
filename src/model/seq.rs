//! TCP sequence numbers: 32-bit values compared and subtracted modulo 2^32
//! (RFC 1982 serial arithmetic), so a connection that wraps stays ordered.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// Signed distance `self - other`, valid while the two are within 2^31 of each other.
    #[inline]
    pub fn diff(self, other: SeqNum) -> i64 {
        self.0.wrapping_sub(other.0) as i32 as i64
    }

    #[inline]
    pub fn plus(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }

    #[inline]
    pub fn minus(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }

    /// Offset from a base (usually the ISN), as Wireshark's relative sequence numbers.
    #[inline]
    pub fn rel(self, base: SeqNum) -> u32 {
        self.0.wrapping_sub(base.0)
    }

    #[inline]
    pub fn lt(self, other: SeqNum) -> bool {
        self.diff(other) < 0
    }

    #[inline]
    pub fn le(self, other: SeqNum) -> bool {
        self.diff(other) <= 0
    }

    #[inline]
    pub fn gt(self, other: SeqNum) -> bool {
        self.diff(other) > 0
    }

    /// The later of two sequence numbers in serial order.
    #[inline]
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.gt(other) {
            self
        } else {
            other
        }
    }

    pub fn serial_cmp(self, other: SeqNum) -> Ordering {
        self.diff(other).cmp(&0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around_2_32() {
        let near_end = SeqNum(u32::MAX - 10);
        let after_wrap = near_end.plus(20);
        assert_eq!(after_wrap, SeqNum(9));
        assert!(near_end.lt(after_wrap));
        assert!(after_wrap.gt(near_end));
        assert_eq!(after_wrap.diff(near_end), 20);
        assert_eq!(near_end.diff(after_wrap), -20);
        assert_eq!(after_wrap.rel(near_end), 20);
        assert_eq!(near_end.max(after_wrap), after_wrap);
    }

    #[test]
    fn equal_and_ordering() {
        let a = SeqNum(1000);
        assert!(a.le(a));
        assert!(!a.lt(a));
        assert_eq!(a.serial_cmp(SeqNum(999)), Ordering::Greater);
        assert_eq!(a.minus(1001), SeqNum(u32::MAX));
    }
}
