//! The block reader for classic pcap files (source::pcap_file) must deliver exactly what
//! libpcap delivers: same frames, timestamps, lengths and bytes, for every fixture and
//! for the other classic variants (nanosecond magic, big-endian), and hand over to
//! libpcap for records it does not take (cut by the snaplen) without losing or
//! repeating a frame.

mod common;

use std::path::Path;

use common::pcap::Pcap;
use tcpdiag::model::Ts;
use tcpdiag::source::pcap_file;

type Frame = (u64, Ts, u32, Vec<u8>);

fn via_tcpdiag(path: &str) -> Vec<Frame> {
    let mut out = Vec::new();
    let (summary, err) = pcap_file::read(path, None, 1, &mut |f| {
        out.push((f.number, f.ts, f.wire_len, f.data.to_vec()))
    });
    assert!(err.is_none(), "{path}: {err:?}");
    assert_eq!(summary.frames, out.len() as u64);
    out
}

fn via_libpcap(path: &str) -> Vec<Frame> {
    let mut cap =
        pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano).expect("open");
    let mut out = Vec::new();
    let mut n = 0;
    while let Ok(p) = cap.next_packet() {
        n += 1;
        let ts = Ts::from_secs_nanos(p.header.ts.tv_sec, p.header.ts.tv_usec);
        out.push((n, ts, p.header.len, p.data.to_vec()));
    }
    out
}

/// Paths of the classic pcap fixtures.
fn fixtures() -> Vec<String> {
    common::all_fixtures()
        .into_iter()
        .filter(|n| n.ends_with(".pcap"))
        .map(|n| common::fixture_arg(&n))
        .collect()
}

#[test]
fn same_frames_as_libpcap_on_every_fixture() {
    for f in fixtures() {
        assert_eq!(via_tcpdiag(&f), via_libpcap(&f), "{f}");
    }
}

/// Rewrites a little-endian microsecond pcap as big-endian, or with the nanosecond
/// magic (fractions scaled to nanoseconds, plus 7 ns so they are not whole microseconds).
fn variant(src: &str, big_endian: bool, nanos: bool) -> tempfile::NamedTempFile {
    let mut p = Pcap::read(Path::new(src));
    assert!(!p.big_endian && !p.nanos, "{src}: expected LE usec");
    p.big_endian = big_endian;
    if nanos {
        p.nanos = true;
        for r in &mut p.records {
            r.ts_frac = r.ts_frac * 1000 + 7;
        }
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    p.write(file.path());
    file
}

#[test]
fn same_frames_for_big_endian_and_nanosecond_files() {
    for name in ["fast_retransmit.pcap", "vlan.pcap", "raw_ip.pcap"] {
        let src = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        for (be, ns) in [(true, false), (false, true), (true, true)] {
            let v = variant(&src, be, ns);
            let p = v.path().to_str().unwrap();
            let ours = via_tcpdiag(p);
            assert!(!ours.is_empty());
            assert_eq!(ours, via_libpcap(p), "{name} big-endian {be} nanos {ns}");
        }
    }
}

#[test]
fn records_longer_than_the_snaplen_go_to_libpcap_at_the_right_frame() {
    // Lower the file's snaplen below some records' length: libpcap cuts those records
    // to the snaplen. The fast path leaves them (and everything after) to libpcap; the
    // frames before come from the fast path.
    let src = format!("{}/fixtures/http_clean.pcap", env!("CARGO_MANIFEST_DIR"));
    let mut b = std::fs::read(&src).unwrap();
    b[16..20].copy_from_slice(&100u32.to_le_bytes());
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &b).unwrap();
    let p = file.path().to_str().unwrap();
    let ours = via_tcpdiag(p);
    let theirs = via_libpcap(p);
    let first_cut = theirs.iter().position(|f| f.3.len() == 100 && f.2 > 100);
    assert!(
        first_cut.is_some_and(|i| i > 0),
        "a cut record after whole ones"
    );
    assert_eq!(ours, theirs);
}
