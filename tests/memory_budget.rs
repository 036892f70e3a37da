//! The memory budget (`--memory-limit`): past it, stored timelines go first, and what
//! is found does not change; the report says what was dropped.

mod common;

use std::io::Write;

use serde_json::Value;

/// A pcap of `flows` connections open at once, each sending `segments` data segments
/// and a copy of each (events no timeline can collapse), interleaved.
fn concurrent(path: &std::path::Path, flows: u32, segments: u32) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    w.write_all(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    w.write_all(&96u32.to_le_bytes()).unwrap();
    w.write_all(&1u32.to_le_bytes()).unwrap();
    let mut us: u64 = 1_700_000_000_000_000;
    let mut frame = |w: &mut std::io::BufWriter<std::fs::File>,
                     client: u32,
                     from_client: bool,
                     flags: u8,
                     seq: u32,
                     ack: u32,
                     len: u16| {
        us += 10;
        let (c, s) = (0xc612_0000u32 | (client / 60_000), 0xc000_0201u32);
        let cport = 1024 + (client % 60_000) as u16;
        let (src, dst, sport, dport) = if from_client {
            (c, s, cport, 80)
        } else {
            (s, c, 80, cport)
        };
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0, 0x45, 0];
        f.extend_from_slice(&(40 + len).to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&src.to_be_bytes());
        f.extend_from_slice(&dst.to_be_bytes());
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0x01, 0xf6, 0, 0, 0, 0]);
        let wire = f.len() as u32 + u32::from(len);
        w.write_all(&((us / 1_000_000) as u32).to_le_bytes())
            .unwrap();
        w.write_all(&((us % 1_000_000) as u32).to_le_bytes())
            .unwrap();
        w.write_all(&(f.len() as u32).to_le_bytes()).unwrap();
        w.write_all(&wire.to_le_bytes()).unwrap();
        w.write_all(&f).unwrap();
    };
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const PSH: u8 = 0x08;
    const FIN: u8 = 0x01;
    for i in 0..flows {
        frame(&mut w, i, true, SYN, 1000, 0, 0);
        frame(&mut w, i, false, SYN | ACK, 5000, 1001, 0);
        frame(&mut w, i, true, ACK, 1001, 5001, 0);
    }
    for k in 0..segments {
        let seq = 5001 + k * 1448;
        for i in 0..flows {
            frame(&mut w, i, false, ACK | PSH, seq, 1001, 1448);
            frame(&mut w, i, false, ACK | PSH, seq, 1001, 1448);
        }
    }
    let end = 5001 + segments * 1448;
    for i in 0..flows {
        frame(&mut w, i, true, ACK, 1001, end, 0);
        frame(&mut w, i, false, FIN | ACK, end, 1001, 0);
        frame(&mut w, i, true, FIN | ACK, 1001, end + 1, 0);
        frame(&mut w, i, false, ACK, end + 1, 1002, 0);
    }
}

fn replay(path: &std::path::Path, args: &[&str]) -> Value {
    let mut all = vec![
        "replay".to_string(),
        "--format".into(),
        "json".into(),
        path.to_string_lossy().into_owned(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let r = common::run(all);
    r.assert_code(0);
    r.json()
}

#[test]
fn past_the_limit_timelines_go_and_findings_stay() {
    let dir = common::tempdir();
    let path = dir.path().join("concurrent.pcap");
    concurrent(&path, 1000, 60);
    let free = replay(&path, &[]);
    assert_eq!(free["summary"]["memory"]["limit_reached"], false);
    let tight = replay(&path, &["--memory-limit", "24M"]);
    let m = &tight["summary"]["memory"];
    assert_eq!(m["limit_reached"], true, "{m}");
    assert!(m["timelines_dropped"].as_u64().unwrap() > 0, "{m}");
    // Timelines were enough: no connection was cut short.
    assert_eq!(m["flows_finished_early"], 0, "{m}");
    assert_eq!(tight["summary"]["flows"]["flows"], 1000);
    // What was found does not depend on what was kept.
    let without = |doc: &Value| -> Vec<Value> {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"] != "capture.memory_limit")
            .cloned()
            .collect()
    };
    assert_eq!(without(&tight), without(&free));
    for (a, b) in common::flows(&tight).iter().zip(common::flows(&free)) {
        assert_eq!(a["findings"], b["findings"]);
        assert_eq!(a["client_stats"]["analysis"], b["client_stats"]["analysis"]);
        assert_eq!(a["server_stats"]["analysis"], b["server_stats"]["analysis"]);
    }
    // Some timelines went, and the report says so, once.
    let shed = common::flows(&tight)
        .iter()
        .filter(|f| f["timeline_dropped"].as_u64().unwrap() > 0)
        .count();
    assert!(shed > 0);
    let f = common::first_finding(&tight, "capture.memory_limit");
    assert_eq!(
        f["evidence"]["timelines_dropped"], m["timelines_dropped"],
        "{f}"
    );
    // The budget's own count stays close to the process's resident memory.
    let acc = m["peak_accounted"].as_f64().unwrap();
    let rss = m["peak_resident"].as_f64().unwrap();
    assert!((acc / rss - 1.0).abs() < 0.15, "{acc} vs {rss}");
}

#[test]
fn memory_limit_sizes_parse() {
    let r = common::run(["replay", "--memory-limit", "12 parsecs", "-"]);
    r.assert_code(2);
    assert!(r.stderr.contains("size"), "{}", r.stderr);
}
