//! How values are written for people and for JSON: MAC addresses, durations,
//! byte counts and timestamps. Shared by the analyzers (finding sentences) and the
//! reports, so it lives below both.

use serde::Serializer;

use super::Ts;

/// "02:00:00:00:00:14"
pub fn format_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// "43us", "1.5ms", "3.01s"
/// "1 flow", "3 flows": a count with its noun, plural by adding "s".
pub fn plural(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub fn human_secs(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0}us", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1}ms", s * 1e3)
    } else {
        format!("{s:.2}s")
    }
}

/// "512 B", "1.5 KiB", "195.3 MiB"
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Serializes a timestamp as epoch seconds rounded to microseconds.
pub fn ser_ts<S: Serializer>(t: &Ts, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(super::time::round_us(t.secs_f64()))
}

/// An optional timestamp as epoch seconds, or null.
pub fn ser_opt_ts<S: Serializer>(t: &Option<Ts>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser_ts(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_units() {
        assert_eq!(format_mac(&[2, 0, 0, 0, 0, 0x14]), "02:00:00:00:00:14");
        assert_eq!(human_secs(0.000043), "43us");
        assert_eq!(human_secs(3.005), "3.00s");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
