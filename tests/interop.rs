//! What other tools read: the Community ID of every flow (Zeek, Suricata, Wireshark,
//! Elastic), RFC 3339 times beside the epoch floats, and `--format zeek`, read back
//! the way Zeek's own TSV reader does (header lines, `#fields`/`#types`, unset `-`)
//! and compared with the JSON report of the same capture.

mod common;

use std::collections::HashMap;
use std::net::IpAddr;

use common::*;
use serde_json::Value;
use tcpdiag::model::Endpoint;

fn endpoint(s: &str) -> Endpoint {
    let sa: std::net::SocketAddr = s.parse().unwrap();
    Endpoint::new(sa.ip(), sa.port())
}

#[test]
fn every_flow_has_its_community_id_and_utc_times() {
    for name in all_fixtures() {
        let doc = replay_json(&name, &[]);
        for f in flows(&doc) {
            let id = f["community_id"].as_str().expect("community_id");
            let (c, s) = (
                endpoint(f["client"].as_str().unwrap()),
                endpoint(f["server"].as_str().unwrap()),
            );
            assert_eq!(id, tcpdiag::report::community_id::tcp(&c, &s), "{name}");
            assert_eq!(
                id,
                tcpdiag::report::community_id::tcp(&s, &c),
                "{name}: symmetric"
            );
            assert!(
                id.starts_with("1:") && id.len() == 30 && id.ends_with('='),
                "{id}"
            );
            for (float, text) in [("start", "start_utc"), ("end", "end_utc")] {
                assert_utc(&f[float], &f[text]);
            }
            for ev in timeline(f) {
                assert_utc(&ev["at"], &ev["at_utc"]);
            }
            for finding in f["findings"].as_array().unwrap() {
                assert_utc(&finding["at"], &finding["at_utc"]);
            }
        }
        for finding in doc["findings"].as_array().unwrap() {
            assert_utc(&finding["at"], &finding["at_utc"]);
        }
        let s = &doc["summary"];
        if !s["first_packet"].is_null() {
            assert_utc(&s["first_packet"], &s["first_packet_utc"]);
            assert_utc(&s["last_packet"], &s["last_packet_utc"]);
        }
    }
}

/// `text` is the RFC 3339 UTC form of `epoch` (to the microsecond).
fn assert_utc(epoch: &Value, text: &Value) {
    let epoch = epoch
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {epoch}"));
    let text = text
        .as_str()
        .unwrap_or_else(|| panic!("no RFC 3339 twin for {epoch}"));
    assert_eq!(text.len(), 27, "{text}");
    assert!(text.ends_with('Z') && text.as_bytes()[10] == b'T', "{text}");
    // Back to epoch seconds.
    let days = days_from_civil(
        text[0..4].parse().unwrap(),
        text[5..7].parse().unwrap(),
        text[8..10].parse().unwrap(),
    );
    let secs = days * 86_400
        + text[11..13].parse::<i64>().unwrap() * 3600
        + text[14..16].parse::<i64>().unwrap() * 60
        + text[17..19].parse::<i64>().unwrap();
    let micros: i64 = text[20..26].parse().unwrap();
    let back = secs as f64 + micros as f64 / 1e6;
    assert!((back - epoch).abs() < 2e-6, "{text} is {back}, not {epoch}");
}

/// Days since 1970-01-01 (the proleptic Gregorian calendar, counted plainly).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days = 0;
    for year in 1970..y {
        days += if leap(year) { 366 } else { 365 };
    }
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
    days + len[..(m - 1) as usize].iter().sum::<i64>() + d - 1
}

/// A Zeek TSV log as Zeek's reader sees it: the header's directives, then each
/// record as field name -> value, every value checked against its declared type.
struct ZeekLog {
    directives: HashMap<String, String>,
    fields: Vec<String>,
    records: Vec<HashMap<String, String>>,
    closed: bool,
}

fn read_zeek_tsv(text: &str) -> ZeekLog {
    let mut lines = text.lines();
    let first = lines.next().expect("a header");
    assert_eq!(
        first, "#separator \\x09",
        "the first line names the separator"
    );
    let sep = '\t';
    let mut log = ZeekLog {
        directives: HashMap::new(),
        fields: Vec::new(),
        records: Vec::new(),
        closed: false,
    };
    let mut types: Vec<String> = Vec::new();
    for line in lines {
        if let Some(d) = line.strip_prefix('#') {
            let (k, v) = d
                .split_once(sep)
                .unwrap_or_else(|| panic!("bad directive {line:?}"));
            match k {
                "fields" => log.fields = v.split(sep).map(String::from).collect(),
                "types" => types = v.split(sep).map(String::from).collect(),
                "close" => log.closed = true,
                _ => {}
            }
            log.directives.insert(k.to_string(), v.to_string());
            continue;
        }
        assert!(!log.closed, "a record after #close");
        assert_eq!(log.fields.len(), types.len(), "#fields and #types");
        let values: Vec<&str> = line.split(sep).collect();
        assert_eq!(values.len(), log.fields.len(), "{line:?}");
        let unset = log.directives["unset_field"].as_str();
        let empty = log.directives["empty_field"].as_str();
        let set_sep = log.directives["set_separator"].as_str();
        let mut rec = HashMap::new();
        for ((name, ty), v) in log.fields.iter().zip(&types).zip(&values) {
            if *v != unset {
                check_type(name, ty, v, empty, set_sep);
            }
            rec.insert(name.clone(), v.to_string());
        }
        log.records.push(rec);
    }
    log
}

fn check_type(name: &str, ty: &str, v: &str, empty: &str, set_sep: &str) {
    let ok = match ty {
        "time" | "interval" => {
            v.parse::<f64>().is_ok() && v.split_once('.').is_some_and(|(_, f)| f.len() == 6)
        }
        "count" => v.parse::<u64>().is_ok(),
        "port" => v.parse::<u16>().is_ok(),
        "addr" => v.parse::<IpAddr>().is_ok(),
        "bool" => v == "T" || v == "F",
        "enum" => !v.is_empty() && !v.contains(' '),
        "string" => !v.is_empty(),
        t if t.starts_with("set[") => v == empty || v.split(set_sep).all(|e| !e.is_empty()),
        other => panic!("unknown Zeek type {other}"),
    };
    assert!(ok, "{name} ({ty}): {v:?}");
}

#[test]
fn zeek_conn_log_reads_back_and_matches_the_json() {
    for name in [
        "http_clean.pcap",
        "half_open_flood.pcap",
        "ipv6.pcap",
        "refused.pcap",
        "midstream.pcap",
    ] {
        let r = run(["replay", &fixture_arg(name), "--format", "zeek"]);
        r.assert_code(0);
        let log = read_zeek_tsv(&r.stdout_str());
        assert!(log.closed, "{name}: no #close");
        assert_eq!(log.directives["path"], "conn");
        assert_eq!(
            &log.fields[..21],
            [
                "ts",
                "uid",
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "proto",
                "service",
                "duration",
                "orig_bytes",
                "resp_bytes",
                "conn_state",
                "local_orig",
                "local_resp",
                "missed_bytes",
                "history",
                "orig_pkts",
                "orig_ip_bytes",
                "resp_pkts",
                "resp_ip_bytes",
                "tunnel_parents"
            ],
            "Zeek's documented order"
        );
        let doc = replay_json(name, &[]);
        let by_cid: HashMap<(String, String), &Value> = flows(&doc)
            .iter()
            .map(|f| {
                (
                    (
                        f["community_id"].as_str().unwrap().to_string(),
                        format!("{:.6}", f["start"].as_f64().unwrap()),
                    ),
                    f,
                )
            })
            .collect();
        assert_eq!(log.records.len(), flows(&doc).len(), "{name}");
        let mut uids: Vec<&str> = Vec::new();
        for rec in &log.records {
            let f = by_cid[&(rec["community_id"].clone(), rec["ts"].clone())];
            let client = endpoint(f["client"].as_str().unwrap());
            let server = endpoint(f["server"].as_str().unwrap());
            assert_eq!(rec["id.orig_h"], client.ip.to_string());
            assert_eq!(rec["id.orig_p"], client.port.to_string());
            assert_eq!(rec["id.resp_h"], server.ip.to_string());
            assert_eq!(rec["id.resp_p"], server.port.to_string());
            assert_eq!(rec["proto"], "tcp");
            assert_eq!(rec["conn_state"], f["conn_state"].as_str().unwrap());
            assert_eq!(rec["history"], f["history"].as_str().unwrap());
            assert_eq!(rec["orig_pkts"], f["client_stats"]["packets"].to_string());
            assert_eq!(rec["resp_pkts"], f["server_stats"]["packets"].to_string());
            if f["duration_s"].as_f64().unwrap() > 0.0 {
                assert_eq!(
                    rec["orig_bytes"],
                    f["client_stats"]["seq_bytes"].to_string()
                );
                assert_eq!(
                    rec["resp_bytes"],
                    f["server_stats"]["seq_bytes"].to_string()
                );
            } else {
                assert_eq!(rec["duration"], "-");
            }
            let uid = rec["uid"].as_str();
            assert!(uid.starts_with('C') && uid.len() == 18, "{uid}");
            uids.push(uid);
        }
        uids.sort_unstable();
        uids.dedup();
        assert_eq!(uids.len(), log.records.len(), "{name}: uids are unique");
    }
}
