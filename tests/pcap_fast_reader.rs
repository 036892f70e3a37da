//! The block reader for classic pcap files (source::pcap_file) must deliver exactly what
//! libpcap delivers: same frames, timestamps, lengths and bytes, for every fixture and
//! for the other classic variants (nanosecond magic, big-endian), and hand over to
//! libpcap for records it does not take (cut by the snaplen) without losing or
//! repeating a frame.

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

fn fixtures() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_string())
        .filter(|p| p.ends_with(".pcap"))
        .collect();
    v.sort();
    v
}

#[test]
fn same_frames_as_libpcap_on_every_fixture() {
    for f in fixtures() {
        assert_eq!(via_tcpdiag(&f), via_libpcap(&f), "{f}");
    }
}

/// Rewrites a little-endian microsecond pcap as big-endian, or with the nanosecond magic.
fn variant(src: &str, big_endian: bool, nanos: bool) -> tempfile::NamedTempFile {
    let b = std::fs::read(src).unwrap();
    assert_eq!(
        &b[0..4],
        &0xa1b2_c3d4u32.to_le_bytes(),
        "{src}: expected LE usec"
    );
    let word = |x: &[u8]| u32::from_le_bytes(x.try_into().unwrap());
    let put = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let mut out = Vec::new();
    put(&mut out, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    let (maj, min) = (
        u16::from_le_bytes([b[4], b[5]]),
        u16::from_le_bytes([b[6], b[7]]),
    );
    for v in [maj, min] {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }
    for i in [8, 12, 16, 20] {
        put(&mut out, word(&b[i..i + 4]));
    }
    let mut at = 24;
    while at + 16 <= b.len() {
        let caplen = word(&b[at + 8..at + 12]) as usize;
        put(&mut out, word(&b[at..at + 4]));
        let frac = word(&b[at + 4..at + 8]);
        put(&mut out, if nanos { frac * 1000 + 7 } else { frac });
        put(&mut out, word(&b[at + 8..at + 12]));
        put(&mut out, word(&b[at + 12..at + 16]));
        out.extend_from_slice(&b[at + 16..at + 16 + caplen]);
        at += 16 + caplen;
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), out).unwrap();
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
