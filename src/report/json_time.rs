//! Times of the flow JSON written from integer nanoseconds: the same bytes as the
//! float path (`round_us(ns as f64 / 1e9)` through serde_json's shortest float
//! formatter, and `clock::rfc3339_utc_to`), without the float formatting, for the
//! common case of whole microseconds (classic pcap) in this era. Every time of a flow
//! goes through here, a few dozen per flow.
//!
//! Why the integer path gives the float path's bytes, for |ns| < 2^31 s and ns a
//! multiple of 1,000: `ns as f64` is off by at most 128 ns (its ulp below 2^61 is
//! 256), the division by 1e9 by at most 0.12 us (ulp 2^-22 s below 2^31 s), the
//! multiplication by 1e6 by at most 0.125 us (ulp 0.25 below 2^51): 0.37 us in all,
//! so `round` gives the exact microsecond count M, and `M / 1e6` is the double
//! nearest to the decimal M x 10^-6. Its shortest representation is that decimal:
//! a double this size has an ulp below 10^-6, and any shorter decimal is at least
//! 10^-6 away. serde_json (zmij) prints it in fixed notation from 10^-5 up (`0.00001`,
//! `12.5`, `3.0`) and as `4e-6` below. The unit tests hold both paths equal.

use serde_json::ser::{CompactFormatter, Formatter};

use crate::model::time::round_us;

/// Room `TimeWriter::secs_in` needs: a sign and the 24 bytes of `fixed`.
pub const SECS_MAX: usize = 25;

/// Largest |ns| the integer path takes (2^31 s: the year 2038).
const EXACT_NS: u64 = (1 << 31) * 1_000_000_000;

/// Whether `ns` is whole microseconds in the range where the integer path is exact.
#[inline]
fn exact(ns: i64) -> bool {
    ns % 1000 == 0 && ns.unsigned_abs() < EXACT_NS
}

/// The JSON number of `round_us(ns as f64 / 1e9)`: seconds rounded to microseconds.
/// (`TimeWriter::secs` without its cache.)
pub fn write_secs(out: &mut Vec<u8>, ns: i64) {
    TimeWriter::default().secs(out, ns);
}

/// Writes the times of one flow: seconds (`secs`) and RFC 3339 UTC strings (`utc`),
/// keeping the digits of the last whole second of each, which a flow's times mostly
/// share.
pub struct TimeWriter {
    /// Whole seconds (10 or more) and their digits, left-aligned.
    whole: u64,
    whole_digits: [u8; 16],
    whole_len: usize,
    utc_secs: i64,
    /// `YYYY-MM-DDTHH:MM:SS.` of `utc_secs`.
    utc_prefix: [u8; 20],
}

impl Default for TimeWriter {
    fn default() -> TimeWriter {
        TimeWriter {
            whole: 0,
            whole_digits: [0; 16],
            whole_len: 0,
            utc_secs: i64::MIN,
            utc_prefix: [0; 20],
        }
    }
}

impl TimeWriter {
    /// The JSON number of `round_us(ns as f64 / 1e9)`.
    #[inline]
    pub fn secs(&mut self, out: &mut Vec<u8>, ns: i64) {
        if !exact(ns) {
            // A finite double: serde_json's formatter, as before.
            let _ = CompactFormatter.write_f64(out, round_us(ns as f64 / 1e9));
            return;
        }
        if ns < 0 {
            out.push(b'-');
        }
        let us = ns.unsigned_abs() / 1000;
        match us {
            0 => out.extend_from_slice(b"0.0"),
            1..=9 => {
                out.push(b'0' + us as u8);
                out.extend_from_slice(b"e-6");
            }
            _ => self.fixed(out, us / 1_000_000, (us % 1_000_000) as u32),
        }
    }

    /// `secs` written at the start of `b` (at least `SECS_MAX` bytes; bytes past
    /// the returned length are scratch), when `ns` takes the integer path; `None`
    /// for the float path, which the caller takes through `secs`.
    #[inline(always)]
    pub fn secs_in(&mut self, b: &mut [u8], ns: i64) -> Option<usize> {
        if !exact(ns) {
            return None;
        }
        let b = &mut b[..SECS_MAX];
        let sign = usize::from(ns < 0);
        b[0] = b'-';
        let us = ns.unsigned_abs() / 1000;
        let n = match us {
            0 => {
                b[sign..sign + 3].copy_from_slice(b"0.0");
                3
            }
            1..=9 => {
                b[sign] = b'0' + us as u8;
                b[sign + 1..sign + 4].copy_from_slice(b"e-6");
                4
            }
            _ => {
                let f: &mut [u8; 24] = (&mut b[sign..sign + 24]).try_into().expect("24");
                self.fixed_in(f, us / 1_000_000, (us % 1_000_000) as u32)
            }
        };
        Some(sign + n)
    }

    /// `secs`, then `mid`, then `utc` and a closing quote, of one time (the
    /// timeline's `at` and `at_utc`): one check and one split into seconds and
    /// microseconds for both. `b` needs `SECS_MAX + mid.len() + 28` bytes; `None`
    /// where either takes the float path.
    #[inline(always)]
    pub fn secs_utc_in(&mut self, b: &mut [u8], ns: i64, mid: &str) -> Option<usize> {
        if ns < 0 || !exact(ns) {
            return None;
        }
        let us = ns as u64 / 1000;
        let secs = us / 1_000_000;
        let frac = (us % 1_000_000) as u32;
        let d = six_digits(frac);
        let n = match us {
            0 => {
                b[..3].copy_from_slice(b"0.0");
                3
            }
            1..=9 => {
                b[0] = b'0' + us as u8;
                b[1..4].copy_from_slice(b"e-6");
                4
            }
            _ => {
                let f: &mut [u8; 24] = (&mut b[..24]).try_into().expect("24");
                self.fixed_with(f, secs, frac, d)
            }
        };
        let b = &mut b[n..];
        b[..mid.len()].copy_from_slice(mid.as_bytes());
        let b = &mut b[mid.len()..];
        if secs as i64 != self.utc_secs {
            self.utc_secs = secs as i64;
            self.utc_prefix = super::clock::rfc3339_prefix(secs as i64);
        }
        let b = &mut b[..28];
        b[..20].copy_from_slice(&self.utc_prefix);
        b[20..26].copy_from_slice(&d);
        b[26] = b'Z';
        b[27] = b'"';
        Some(n + mid.len() + 28)
    }

    /// `utc` written at the start of `b` (at least 27 bytes) when `ns` takes the
    /// integer path (27 bytes written); `None` for the float path.
    #[inline]
    pub fn utc_in(&mut self, b: &mut [u8], ns: i64) -> Option<usize> {
        if ns < 0 || !exact(ns) {
            return None;
        }
        let us = ns / 1000;
        let secs = us / 1_000_000;
        if secs != self.utc_secs {
            self.utc_secs = secs;
            self.utc_prefix = super::clock::rfc3339_prefix(secs);
        }
        let b = &mut b[..27];
        b[..20].copy_from_slice(&self.utc_prefix);
        b[20..26].copy_from_slice(&six_digits((us % 1_000_000) as u32));
        b[26] = b'Z';
        Some(27)
    }

    /// `whole.fraction`, the fraction's trailing zeros cut (`.0` when it is zero),
    /// composed in a fixed-size buffer and appended in one copy.
    #[inline]
    fn fixed(&mut self, out: &mut Vec<u8>, whole: u64, frac: u32) {
        let mut b = [0u8; 24];
        let len = self.fixed_in(&mut b, whole, frac);
        let at = out.len();
        out.extend_from_slice(&b);
        out.truncate(at + len);
    }

    /// `fixed` into `b`; returns its length.
    #[inline]
    fn fixed_in(&mut self, b: &mut [u8; 24], whole: u64, frac: u32) -> usize {
        self.fixed_with(b, whole, frac, six_digits(frac))
    }

    /// `fixed_in` with the fraction's six digits `d` already composed (inlined: its
    /// callers know the whole part's range).
    #[inline(always)]
    fn fixed_with(&mut self, b: &mut [u8; 24], whole: u64, frac: u32, d: [u8; 6]) -> usize {
        let n = if whole < 10 {
            b[0] = b'0' + whole as u8;
            1
        } else {
            if whole != self.whole {
                let mut digits = itoa::Buffer::new();
                let d = digits.format(whole).as_bytes();
                self.whole = whole;
                self.whole_len = d.len();
                self.whole_digits[..d.len()].copy_from_slice(d);
            }
            b[..16].copy_from_slice(&self.whole_digits);
            self.whole_len
        };
        b[n] = b'.';
        if frac == 0 {
            b[n + 1] = b'0';
            n + 2
        } else {
            b[n + 1..n + 7].copy_from_slice(&d);
            n + 7 - trailing_zero_digits(d)
        }
    }

    /// Appends the time `ns` (epoch nanoseconds) as RFC 3339 UTC, unquoted (what
    /// `clock::rfc3339_utc_to` writes for `ns as f64 / 1e9`).
    #[inline]
    pub fn utc(&mut self, out: &mut Vec<u8>, ns: i64) {
        if ns < 0 || !exact(ns) {
            super::clock::rfc3339_utc_to(out, ns as f64 / 1e9);
            return;
        }
        let us = ns / 1000;
        let secs = us / 1_000_000;
        if secs != self.utc_secs {
            self.utc_secs = secs;
            self.utc_prefix = super::clock::rfc3339_prefix(secs);
        }
        let mut b = [0u8; 27];
        b[..20].copy_from_slice(&self.utc_prefix);
        b[20..26].copy_from_slice(&six_digits((us % 1_000_000) as u32));
        b[26] = b'Z';
        out.extend_from_slice(&b);
    }
}

impl TimeWriter {
    /// Appends the time `epoch` (finite epoch seconds) as RFC 3339 UTC, unquoted:
    /// what `clock::rfc3339_utc_to` writes, with the date and time of day of the
    /// last whole second kept (a finding's time is mostly in its flow's last second).
    #[inline]
    pub fn utc_epoch(&mut self, out: &mut Vec<u8>, epoch: f64) {
        let (secs, micros) = super::clock::split(epoch);
        // rfc3339_prefix's range: 1970 to the end of 9999.
        if !(0..=LAST_SECOND_9999).contains(&secs) {
            super::clock::rfc3339_utc_to(out, epoch);
            return;
        }
        if secs != self.utc_secs {
            self.utc_secs = secs;
            self.utc_prefix = super::clock::rfc3339_prefix(secs);
        }
        let mut b = [0u8; 27];
        b[..20].copy_from_slice(&self.utc_prefix);
        b[20..26].copy_from_slice(&six_digits(micros));
        b[26] = b'Z';
        out.extend_from_slice(&b);
    }
}

/// 9999-12-31T23:59:59Z in seconds since the epoch.
const LAST_SECOND_9999: i64 = 253_402_300_799;

/// Trailing `0` digits of six digits not all zero, from the bytes: the digits read
/// as a little-endian word, `0` bytes turned to zero bytes, the high zero bytes counted.
#[inline]
fn trailing_zero_digits(d: [u8; 6]) -> usize {
    let [a, b, c, e, f, g] = d;
    let w = u64::from_le_bytes([a, b, c, e, f, g, 0, 0]) ^ 0x3030_3030_3030;
    (w.leading_zeros() as usize - 16) / 8
}

/// Trailing zero digits of `frac` written as six digits (`frac` not zero).
#[cfg(test)]
fn trailing_zeros(frac: u32) -> usize {
    let (hi, mid, lo) = (frac / 10_000, frac / 100 % 100, frac % 100);
    match (mid, lo) {
        (0, 0) => 4 + usize::from(hi % 10 == 0),
        (_, 0) => 2 + usize::from(mid % 10 == 0),
        _ => usize::from(lo % 10 == 0),
    }
}

/// `v` (below 1,000,000) as six digits, zero-padded.
#[inline]
fn six_digits(v: u32) -> [u8; 6] {
    let (hi, mid, lo) = (v / 10_000, v / 100 % 100, v % 100);
    let [a, b] = pair(hi);
    let [c, d] = pair(mid);
    let [e, f] = pair(lo);
    [a, b, c, d, e, f]
}

/// Two digits of `v` (below 100), from a table.
#[inline]
fn pair(v: u32) -> [u8; 2] {
    PAIRS[v as usize % 100]
}

/// "00" to "99".
pub(super) const PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    fn float_path(ns: i64) -> String {
        let mut out = Vec::new();
        let _ = CompactFormatter.write_f64(&mut out, round_us(ns as f64 / 1e9));
        String::from_utf8(out).unwrap()
    }

    fn secs(ns: i64) -> String {
        let mut out = Vec::new();
        write_secs(&mut out, ns);
        String::from_utf8(out).unwrap()
    }

    fn utc(w: &mut TimeWriter, ns: i64) -> String {
        let mut out = Vec::new();
        w.utc(&mut out, ns);
        String::from_utf8(out).unwrap()
    }

    /// xorshift64*: reproducible values without a dependency.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    #[test]
    fn known_values() {
        assert_eq!(secs(0), "0.0");
        assert_eq!(secs(4_000), "4e-6");
        assert_eq!(secs(-4_000), "-4e-6");
        assert_eq!(secs(10_000), "0.00001");
        assert_eq!(secs(25_000), "0.000025");
        assert_eq!(secs(1_000_000_000), "1.0");
        assert_eq!(secs(1_796_535_176_781_680_000), "1796535176.78168");
        assert_eq!(secs(1_796_535_176_000_000_000), "1796535176.0");
        // Not whole microseconds: the float path.
        assert_eq!(secs(1_500), float_path(1_500));
    }

    #[test]
    fn seconds_equal_the_float_path() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        // Fresh, and through one writer whose cache carries over from value to value.
        let mut w = TimeWriter::default();
        let mut check = |ns: i64| {
            let want = float_path(ns);
            assert_eq!(secs(ns), want, "ns {ns}");
            let mut out = Vec::new();
            w.secs(&mut out, ns);
            assert_eq!(String::from_utf8(out).unwrap(), want, "ns {ns} (cached)");
        };
        for ns in [
            1,
            999,
            1_000,
            9_000,
            9_999,
            10_000,
            99_999_000,
            999_999_000,
            EXACT_NS as i64 - 1_000,
            EXACT_NS as i64,
            -(EXACT_NS as i64) + 1_000,
            i64::MAX,
            i64::MIN,
        ] {
            check(ns);
            check(-ns.max(i64::MIN + 1));
        }
        for _ in 0..1_000_000 {
            let r = rng(&mut s);
            // Epoch times of this era, relative times of every size, some nanoseconds.
            let ns = match r % 4 {
                0 => {
                    (1_600_000_000 + (r >> 8) % 500_000_000) as i64 * 1_000_000_000
                        + ((r >> 40) % 1_000_000) as i64 * 1_000
                }
                1 => ((r >> 8) % (EXACT_NS / 1_000)) as i64 * 1_000,
                2 => ((r >> 8) % 100_000_000) as i64 * 1_000 * if r & 64 == 0 { 1 } else { -1 },
                _ => (r >> 2) as i64,
            };
            check(ns);
        }
    }

    #[test]
    fn trailing_zero_digits_as_by_division() {
        for frac in 1..1_000_000 {
            assert_eq!(trailing_zero_digits(six_digits(frac)), trailing_zeros(frac));
        }
    }

    #[test]
    fn into_a_slice_as_into_a_vec() {
        let (mut a, mut b) = (TimeWriter::default(), TimeWriter::default());
        let mut s = 0x5151_7e57_0000_0001u64;
        for i in 0..200_000 {
            let r = rng(&mut s);
            let ns = match i % 3 {
                0 => 1_796_535_176_000_000_000 + ((r >> 8) % 5_000_000) as i64 * 1_000,
                1 => ((r >> 8) % 100_000_000) as i64 * 1_000 * if r & 64 == 0 { 1 } else { -1 },
                _ => (r >> 1) as i64 * if r & 1 == 0 { 1 } else { -1 },
            };
            let mut want = Vec::new();
            a.secs(&mut want, ns);
            let mut got = [0u8; SECS_MAX];
            if let Some(n) = b.secs_in(&mut got, ns) {
                assert_eq!(&got[..n], &want[..], "ns {ns}");
            }
            let mut want = Vec::new();
            a.secs(&mut want, ns);
            want.extend_from_slice(b",\"u\":\"");
            a.utc(&mut want, ns);
            want.push(b'"');
            let mut got = [0u8; SECS_MAX + 6 + 28];
            if let Some(n) = b.secs_utc_in(&mut got, ns, ",\"u\":\"") {
                assert_eq!(&got[..n], &want[..], "ns {ns}");
            }
            let mut want = Vec::new();
            a.utc(&mut want, ns);
            let mut got = [0u8; 27];
            if let Some(n) = b.utc_in(&mut got, ns) {
                assert_eq!(&got[..n], &want[..], "ns {ns}");
            }
        }
    }

    #[test]
    fn utc_equals_the_float_path() {
        let mut w = TimeWriter::default();
        let mut s = 0x1234_5678_9abc_def1u64;
        let check = |w: &mut TimeWriter, ns: i64| {
            assert_eq!(
                utc(w, ns),
                super::super::clock::rfc3339_utc(ns as f64 / 1e9),
                "ns {ns}"
            )
        };
        for ns in [
            0,
            1_000,
            999,
            -1_000,
            951_782_400_500_000_000,
            EXACT_NS as i64 - 1_000,
        ] {
            check(&mut w, ns);
        }
        let mut t = 1_796_535_176_000_000_000i64;
        for _ in 0..1_000_000 {
            let r = rng(&mut s);
            // Mostly steps within a second (the cache), sometimes a jump.
            t = match r % 8 {
                0 => (1_000_000_000 + (r >> 8) % 1_100_000_000) as i64 * 1_000_000_000,
                1 => t + (r >> 20) as i64 % 1_000,
                _ => t + ((r >> 8) % 200_000) as i64 * 1_000,
            };
            check(&mut w, t);
        }
    }

    #[test]
    fn utc_of_epoch_seconds_as_clock_writes_it() {
        use super::super::clock::rfc3339_utc_to;
        let mut w = TimeWriter::default();
        let mut s = 0x0bad_cafe_f00d_d00du64;
        let mut check = |epoch: f64| {
            let mut want = Vec::new();
            rfc3339_utc_to(&mut want, epoch);
            let mut got = Vec::new();
            w.utc_epoch(&mut got, epoch);
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap(),
                "{epoch}"
            );
        };
        for epoch in [
            0.0,
            -0.0,
            -0.4e-6,
            -0.6e-6,
            -1.5,
            0.9999995,
            1_700_000_000.999_99,
            1_700_000_000.999_999_6,
            253_402_300_799.999_999,
            253_402_300_799.999_999_7,
            253_402_300_800.5,
            -62_167_219_200.0,
            1e15,
        ] {
            check(epoch);
        }
        let mut t = 1_700_000_000.0f64;
        for _ in 0..200_000 {
            let r = rng(&mut s);
            t = match r % 8 {
                0 => (r >> 11) as f64 / (1u64 << 53) as f64 * 4e9 - 1e9,
                1 => crate::model::time::round_us(t + 0.5e-6),
                _ => crate::model::time::round_us(t + ((r >> 8) % 200_000) as f64 * 1e-6),
            };
            check(t);
        }
    }
}
