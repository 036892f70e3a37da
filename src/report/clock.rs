//! Wall-clock renderings of epoch seconds: RFC 3339 UTC for JSON (`*_utc` keys),
//! local time for people (the table's START column, finding times, `--time abs`),
//! Zeek's `#open` stamp. Local time comes from the C library (`localtime_r`: TZ,
//! else /etc/localtime), so it matches `date` and the application logs it is
//! compared with.

use std::fmt::Write as _;

/// Civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A moment broken into calendar fields, with its offset from UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
    /// Seconds east of UTC.
    pub offset_s: i64,
}

/// Whole seconds and microseconds of `epoch`, rounded to the microsecond.
pub(crate) fn split(epoch: f64) -> (i64, u32) {
    let us = (epoch * 1e6).round() as i64;
    (us.div_euclid(1_000_000), us.rem_euclid(1_000_000) as u32)
}

fn fields(secs: i64, micros: u32, offset_s: i64) -> Civil {
    let t = secs + offset_s;
    let (year, month, day) = civil(t.div_euclid(86_400));
    let sod = t.rem_euclid(86_400);
    Civil {
        year,
        month,
        day,
        hour: (sod / 3600) as u32,
        minute: (sod % 3600 / 60) as u32,
        second: (sod % 60) as u32,
        micros,
        offset_s,
    }
}

pub fn utc(epoch: f64) -> Civil {
    let (secs, micros) = split(epoch);
    fields(secs, micros, 0)
}

/// The local time of `epoch` (the C library's idea of the zone).
pub fn local(epoch: f64) -> Civil {
    let (secs, micros) = split(epoch);
    fields(secs, micros, local_offset(secs))
}

/// Seconds east of UTC in the local zone at `secs` (0 when unknown).
fn local_offset(secs: i64) -> i64 {
    let t = secs as libc::time_t;
    // SAFETY: localtime_r only writes the `tm` it is given; both live on this stack.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff
    }
}

/// `2026-11-22T10:30:51.307055Z`: RFC 3339, UTC, microseconds. Appended to `out`.
pub fn rfc3339_utc_to(out: &mut Vec<u8>, epoch: f64) {
    if !epoch.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let c = utc(epoch);
    let mut b = [0u8; 27];
    write_prefix(&mut b[..20], &c);
    let mut us = c.micros;
    for i in (20..26).rev() {
        b[i] = b'0' + (us % 10) as u8;
        us /= 10;
    }
    b[26] = b'Z';
    if (0..=9999).contains(&c.year) {
        out.extend_from_slice(&b);
    } else {
        // Outside RFC 3339's four-digit years (a damaged timestamp): still say it.
        let _ = write!(
            Adapter(out),
            "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            c.micros
        );
    }
}

/// `2026-11-22T10:30:51.`: the date and time of day of `rfc3339_utc_to` for whole
/// seconds since the epoch in 1970-9999 (the caller appends the microseconds).
pub fn rfc3339_prefix(secs: i64) -> [u8; 20] {
    let mut b = [0u8; 20];
    write_prefix(&mut b, &fields(secs, 0, 0));
    b
}

/// `YYYY-MM-DDThh:mm:ss.` into 20 bytes.
fn write_prefix(b: &mut [u8], c: &Civil) {
    write_date(&mut b[0..10], c);
    b[10] = b'T';
    two(&mut b[11..13], c.hour);
    b[13] = b':';
    two(&mut b[14..16], c.minute);
    b[16] = b':';
    two(&mut b[17..19], c.second);
    b[19] = b'.';
}

pub fn rfc3339_utc(epoch: f64) -> String {
    let mut out = Vec::with_capacity(27);
    rfc3339_utc_to(&mut out, epoch);
    String::from_utf8(out).expect("ASCII")
}

fn write_date(b: &mut [u8], c: &Civil) {
    let y = c.year.clamp(0, 9999) as u32;
    two(&mut b[0..2], y / 100);
    two(&mut b[2..4], y % 100);
    b[4] = b'-';
    two(&mut b[5..7], c.month);
    b[7] = b'-';
    two(&mut b[8..10], c.day);
}

fn two(b: &mut [u8], v: u32) {
    b[0] = b'0' + (v / 10 % 10) as u8;
    b[1] = b'0' + (v % 10) as u8;
}

struct Adapter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Adapter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// `10:30:51.307` (local time of day, milliseconds).
pub fn local_clock(epoch: f64) -> String {
    let c = local(epoch);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        c.hour,
        c.minute,
        c.second,
        c.micros / 1000
    )
}

/// `2026-11-22 10:30:51` (local), for the START column and finding times.
pub fn local_datetime(epoch: f64) -> String {
    let c = local(epoch);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// `2026-11-22 10:30:51.307` (local), for finding times.
pub fn local_datetime_ms(epoch: f64) -> String {
    let c = local(epoch);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.micros / 1000
    )
}

/// `2026-11-22 10:30:51.307055+01:00`: local, with its offset (timelines, --time abs).
pub fn local_precise(epoch: f64) -> String {
    let c = local(epoch);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}{}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.micros,
        offset(c.offset_s)
    )
}

/// The local zone's offset at `epoch`, as `+01:00`.
pub fn local_offset_text(epoch: f64) -> String {
    offset(local(epoch).offset_s)
}

fn offset(s: i64) -> String {
    let sign = if s < 0 { '-' } else { '+' };
    let a = s.abs();
    format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
}

/// `2026-11-22 10:30:51.307055Z` (UTC, --time utc).
pub fn utc_precise(epoch: f64) -> String {
    let c = utc(epoch);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
    )
}

/// Zeek's `#open`/`#close` stamp: `2026-11-22-10-30-51` (local time).
pub fn zeek_stamp(epoch: f64) -> String {
    let c = local(epoch);
    format!(
        "{}-{:02}-{:02}-{:02}-{:02}-{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// Now, as epoch seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_matches_known_instants() {
        assert_eq!(rfc3339_utc(0.0), "1970-01-01T00:00:00.000000Z");
        // date -u -d @1795304651.307055 +%FT%T.%6NZ
        assert_eq!(
            rfc3339_utc(1_795_304_651.307_055),
            "2026-11-21T23:44:11.307055Z"
        );
        assert_eq!(rfc3339_utc(951_782_400.5), "2000-02-29T00:00:00.500000Z");
        assert_eq!(rfc3339_utc(-1.0), "1969-12-31T23:59:59.000000Z");
        // Rounded to the microsecond, carrying into the second.
        assert_eq!(rfc3339_utc(1.999_999_7), "1970-01-01T00:00:02.000000Z");
        assert_eq!(utc_precise(86_400.25), "1970-01-02 00:00:00.250000Z");
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        // civil() against a day-by-day calendar walk from 1970.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for days in 0..146_097 {
            assert_eq!(civil(days), (y, m, d), "day {days}");
            let len = [
                31,
                if leap(y) { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > len[m as usize - 1] {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn local_time_follows_the_c_library() {
        // Whatever the zone, local = UTC shifted by the offset the C library reports.
        let t = 1_795_304_651.307_055;
        let l = local(t);
        let shifted = fields(1_795_304_651 + l.offset_s, 307_055, 0);
        assert_eq!(
            (l.year, l.month, l.day, l.hour, l.minute),
            (
                shifted.year,
                shifted.month,
                shifted.day,
                shifted.hour,
                shifted.minute
            )
        );
        assert_eq!(local_clock(t).len(), "21:04:11.307".len());
        assert!(local_precise(t).ends_with(&local_offset_text(t)));
        assert_eq!(zeek_stamp(t).len(), "2026-11-21-21-04-11".len());
    }
}
