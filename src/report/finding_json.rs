//! Findings written straight into a byte buffer: the same bytes as serializing
//! `FindingOut` / `FindingsOut` with serde_json (unit tests here and
//! tests/flow_json_same_as_serde.rs compare the two), without serde's flattened map
//! and its byte-by-byte escaping of the long summaries and hints. Every flow with a
//! finding goes through here (a SYN flood: every flow).

use serde_json::ser::{CompactFormatter, Formatter};
use serde_json::{Map, Value};

use super::json_time::TimeWriter;
use crate::analyze::Finding;

/// `[finding,...]`, as `FindingsOut` serializes. `times` writes the `at_utc` strings
/// (and keeps the last second's date for the next one).
pub fn write_findings(out: &mut Vec<u8>, findings: &[Finding], times: &mut TimeWriter) {
    out.push(b'[');
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_finding(out, f, None, times);
    }
    out.push(b']');
}

/// One finding's object, as `FindingOut` serializes: its own keys, then `at_utc`.
/// With `tag`, the object starts with `"type":tag` (the NDJSON line form, as
/// `json::write_tagged_line` writes it, without the newline).
pub fn write_finding(out: &mut Vec<u8>, f: &Finding, tag: Option<&str>, times: &mut TimeWriter) {
    out.push(b'{');
    if let Some(tag) = tag {
        out.extend_from_slice(b"\"type\":");
        write_str(out, tag);
        out.push(b',');
    }
    out.extend_from_slice(b"\"id\":");
    write_str(out, f.id);
    out.extend_from_slice(b",\"severity\":\"");
    out.extend_from_slice(f.severity.as_str().as_bytes());
    out.extend_from_slice(b"\",\"flow\":");
    match f.flow {
        Some(id) => write_u64(out, id),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"at\":");
    write_f64(out, f.at);
    out.extend_from_slice(b",\"summary\":");
    write_str(out, &f.summary);
    out.extend_from_slice(b",\"evidence\":");
    write_map(out, &f.evidence);
    out.extend_from_slice(b",\"confidence\":\"");
    out.extend_from_slice(f.confidence.as_str().as_bytes());
    out.extend_from_slice(b"\",\"hint\":");
    write_str(out, &f.hint);
    out.extend_from_slice(b",\"at_utc\":");
    if f.at.is_finite() {
        // RFC 3339 is ASCII without quotes or backslashes: nothing to escape.
        out.push(b'"');
        times.utc_epoch(out, f.at);
        out.push(b'"');
    } else {
        out.extend_from_slice(b"null");
    }
    out.push(b'}');
}

/// A JSON string, escaped as serde_json escapes it. Most strings need no escaping;
/// they are checked 16 bytes at a time and copied whole.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        // Rare: serde_json's own escaping. Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether serde_json would escape any byte of `b`: control characters, `"`, `\`.
#[inline]
fn needs_escape(b: &[u8]) -> bool {
    if b.len() < 16 {
        // Short (keys, ids): padded with a byte that needs no escaping.
        let mut padded = [b'a'; 16];
        padded[..b.len()].copy_from_slice(b);
        return chunk_needs_escape(&padded);
    }
    let mut chunks = b.chunks_exact(16);
    if chunks.any(|c| chunk_needs_escape(c.try_into().unwrap_or(&[0; 16]))) {
        return true;
    }
    // The last 16 bytes (overlapping the chunks) cover the remainder.
    chunk_needs_escape(b[b.len() - 16..].try_into().unwrap_or(&[0; 16]))
}

/// 16 bytes in a few SSE2 instructions (x86-64 always has them).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn chunk_needs_escape(chunk: &[u8; 16]) -> bool {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86-64; the load reads exactly the 16 bytes of `chunk`
    // (unaligned load).
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned v >= 0x20 exactly where max(v, 0x20) == v.
        let printable = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x20)), v);
        let special = _mm_movemask_epi8(_mm_or_si128(quote, backslash));
        special != 0 || _mm_movemask_epi8(printable) != 0xffff
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn chunk_needs_escape(chunk: &[u8; 16]) -> bool {
    chunk
        .iter()
        .fold(false, |acc, &c| acc | (c < 0x20 || c == b'"' || c == b'\\'))
}

#[inline]
fn write_u64(out: &mut Vec<u8>, v: u64) {
    if v < 10 {
        out.push(b'0' + v as u8);
    } else {
        let _ = CompactFormatter.write_u64(out, v);
    }
}

/// As serde_json: non-finite numbers are `null`.
#[inline]
fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let _ = CompactFormatter.write_f64(out, v);
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_map(out: &mut Vec<u8>, m: &Map<String, Value>) {
    out.push(b'{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write_value(out, v);
    }
    out.push(b'}');
}

/// A JSON value as serde_json writes it (numbers as their own kind: unsigned,
/// signed, float).
fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                write_u64(out, u);
            } else if let Some(i) = n.as_i64() {
                let _ = CompactFormatter.write_i64(out, i);
            } else if let Some(f) = n.as_f64() {
                write_f64(out, f);
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, v);
            }
            out.push(b']');
        }
        Value::Object(m) => write_map(out, m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Confidence, Severity};
    use crate::report::json::write_tagged_line;
    use crate::report::{FindingOut, FindingsOut};

    fn findings() -> Vec<Finding> {
        let long = "a fairly long sentence that spans more than sixteen bytes, twice over";
        vec![
            Finding::new(
                "handshake.unanswered",
                Severity::Error,
                Some(12),
                1.7e9 + 0.25,
            )
            .summary("plain")
            .hint(long)
            .evidence("attempts", 3u64)
            .evidence("neg", -5i64)
            .evidence("float", 0.1)
            .evidence("big", u64::MAX)
            .evidence("small_f", 4e-6)
            .evidence("list", vec![1.0, 2.5, 1e300])
            .evidence("none", Option::<u64>::None)
            .evidence("yes", true)
            .evidence("nested", serde_json::json!({"a": [1, "x\"y"], "b": {}}))
            .evidence("empty", Vec::<u64>::new()),
            Finding::new("capture.wide", Severity::Warning, None, f64::NAN)
                .summary(format!(
                    "quote \" backslash \\ tab \t nl \n bell \u{7} {long}"
                ))
                .hint(format!("{long}\u{1f}"))
                .evidence("k\"ey", "é ünïcode ✓ \u{7f}")
                .confidence(Confidence::Low),
            Finding::new("x", Severity::Info, Some(0), -12.5)
                .summary(format!("{long}\""))
                .confidence(Confidence::Medium),
            Finding::new("y", Severity::Info, Some(u64::MAX), f64::INFINITY),
            Finding::new("z", Severity::Info, Some(7), 253402300800.5),
        ]
    }

    #[test]
    fn same_bytes_as_serde() {
        let all = findings();
        for f in &all {
            let mut out = Vec::new();
            write_finding(&mut out, f, None, &mut TimeWriter::default());
            let expected = serde_json::to_vec(&FindingOut(f)).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected)
            );
            let mut out = Vec::new();
            write_finding(&mut out, f, Some("finding"), &mut TimeWriter::default());
            let mut expected = Vec::new();
            write_tagged_line(&mut expected, "finding", &FindingOut(f)).unwrap();
            expected.pop();
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&expected)
            );
        }
        for n in 0..=all.len() {
            let mut out = Vec::new();
            write_findings(&mut out, &all[..n], &mut TimeWriter::default());
            assert_eq!(out, serde_json::to_vec(&FindingsOut(&all[..n])).unwrap());
        }
    }

    #[test]
    fn escaping_found_at_any_offset() {
        for len in 0..40 {
            for at in 0..len {
                for c in ['"', '\\', '\n', '\u{0}', '\u{1f}'] {
                    let mut s: String = "x".repeat(len);
                    s.replace_range(at..at + 1, &c.to_string());
                    let mut out = Vec::new();
                    write_str(&mut out, &s);
                    assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
                }
            }
            let s = "y".repeat(len);
            let mut out = Vec::new();
            write_str(&mut out, &s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }
    }
}
