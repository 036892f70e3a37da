//! A deterministic smoke fuzzer that runs in plain `cargo test`: the same harness as
//! the cargo-fuzz target (fuzz/fuzz_targets/harness.rs) fed with
//!   1. random fuzz inputs (random link type, knobs, frames of random bytes),
//!   2. random but well-formed Ethernet/IPv4/IPv6 TCP frames over a small set of
//!      endpoints with random flags, sequence numbers, windows, options, lengths and
//!      times, re-encapsulated on every supported link type, so the flow engine's
//!      state machines see hostile but decodable traffic,
//!   3. the real fixtures' frames with bit flips, byte stores, truncations,
//!      duplications and swaps,
//! asserting nothing panics (debug builds also catch arithmetic overflow). About
//! 200k frames in all; a xorshift generator with fixed seeds keeps it reproducible.
#![allow(
    clippy::doc_lazy_continuation,
    clippy::explicit_counter_loop,
    clippy::manual_range_patterns,
    clippy::type_complexity
)]

mod common;

#[path = "../fuzz/fuzz_targets/harness.rs"]
mod harness;

use std::time::Instant;

use common::pcap::{self, Pcap};
use harness::{Frame, Knobs, LINKS};
use tcpdiag::decode::LinkType;
use tcpdiag::model::Ts;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
    fn bytes_upto(&mut self, max: u64) -> Vec<u8> {
        let n = self.below(max) as usize;
        self.bytes(n)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

fn feed(link: LinkType, knobs: Knobs, frames: &[(i64, u32, Vec<u8>)]) -> harness::Seen {
    let mut it = frames.iter().map(|(ts, wire, d)| Frame {
        ts: Ts(*ts),
        wire_len: *wire,
        data: d,
    });
    harness::run_frames(link, knobs, &mut it)
}

fn random_knobs(rng: &mut Rng) -> Knobs {
    Knobs::from_byte(rng.byte())
}

// ---------------------------------------------------------------------------------
// 1. Random fuzz inputs

#[test]
fn random_inputs_do_not_panic() {
    let t = Instant::now();
    let mut rng = Rng::new(0x5eed_0001);
    let mut frames = 0u64;
    for _ in 0..4_000 {
        let len = rng.below(3_000) as usize;
        let data = rng.bytes(len);
        frames += (len / 40) as u64;
        harness::run_input(&data);
    }
    // Degenerate inputs.
    for data in [
        &[][..],
        &[0][..],
        &[1, 2][..],
        &[0, 0, 255][..],
        &[3, 8, 0, 0][..],
    ] {
        harness::run_input(data);
    }
    eprintln!("random inputs: ~{frames} frames in {:?}", t.elapsed());
}

// ---------------------------------------------------------------------------------
// 2. Random well-formed TCP frames

const V4: [[u8; 4]; 3] = [[192, 0, 2, 10], [192, 0, 2, 1], [198, 51, 100, 7]];
const V6: [[u8; 16]; 2] = [
    [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ],
    [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
    ],
];
const PORTS: [u16; 5] = [40001, 40002, 80, 8080, 53];

/// Sequence state per endpoint pair, so segments are often plausible.
struct TcpGen {
    seqs: Vec<u32>,
    ts: i64,
    /// Calm rounds: few endpoints and rare control flags, so connections live long
    /// (timelines, dup-ACK runs, window tracking); wild rounds: anything goes.
    calm: bool,
}

fn tcp_options(rng: &mut Rng) -> Vec<u8> {
    let mut o = Vec::new();
    match rng.below(6) {
        0 => {}
        1 => o.extend_from_slice(&[2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10]),
        2 => {
            o.extend_from_slice(&[8, 10]);
            o.extend(rng.bytes(8));
        }
        3 => o.extend(rng.bytes_upto(40)),
        4 => o.extend_from_slice(&[3, 3, rng.byte(), 2, 4, rng.byte(), rng.byte()]),
        _ => o.extend_from_slice(&[5, 10, 0, 0, 0, 1, 0, 0, 0, 2]),
    }
    // Pad to a multiple of 4 (sometimes not: the data offset then lies).
    if !rng.chance(10) {
        while o.len() % 4 != 0 {
            o.push(1);
        }
    }
    o.truncate(40);
    o
}

impl TcpGen {
    fn frame(&mut self, rng: &mut Rng) -> (i64, u32, Vec<u8>) {
        // Time: mostly small steps, sometimes long silences or going backwards.
        self.ts += match rng.below(20) {
            0 => -(rng.below(5_000_000_000) as i64),
            1 => rng.below(400_000_000_000) as i64,
            2 => 0,
            _ => rng.below(50_000_000) as i64,
        };
        let v6 = rng.chance(4);
        let a = rng.below(if v6 { 2 } else { 3 }) as usize;
        let mut b = rng.below(if v6 { 2 } else { 3 }) as usize;
        if b == a && !rng.chance(20) {
            b = (a + 1) % if v6 { 2 } else { 3 };
        }
        let ports: &[u16] = if self.calm { &PORTS[1..3] } else { &PORTS };
        let sport = *rng.pick(ports);
        let dport = *rng.pick(ports);
        let key = (a * 7 + b * 3 + usize::from(sport % 5) * 11 + usize::from(dport % 5))
            % self.seqs.len();
        let flags: u8 = match rng.below(if self.calm { 80 } else { 12 }) {
            0 => 0x02,       // SYN
            1 => 0x12,       // SYN-ACK
            2 => 0x11,       // FIN-ACK
            3 => 0x04,       // RST
            4 => 0x14,       // RST-ACK
            5 => rng.byte(), // anything, SYN+FIN+RST included
            6 | 7 => 0x18,   // PSH-ACK
            _ => 0x10,       // ACK
        };
        let payload_len = match rng.below(6) {
            0 | 1 | 2 => 0usize,
            3 => 1,
            4 => rng.below(1460) as usize,
            _ => rng.below(200) as usize,
        };
        let seq = match rng.below(8) {
            0 => rng.next() as u32,
            1 => self.seqs[key].wrapping_sub(rng.below(3000) as u32),
            2 => self.seqs[key].wrapping_sub(1),
            _ => self.seqs[key],
        };
        let seq_len =
            payload_len as u32 + u32::from(flags & 0x02 != 0) + u32::from(flags & 0x01 != 0);
        if !rng.chance(5) {
            self.seqs[key] = seq.wrapping_add(seq_len);
        }
        let rev = (a * 7 + b * 3 + usize::from(dport % 5) * 11 + usize::from(sport % 5))
            % self.seqs.len();
        let ack = match rng.below(6) {
            0 => rng.next() as u32,
            1 => 0,
            _ => self.seqs[rev]
                .wrapping_add(rng.below(3) as u32)
                .wrapping_sub(1),
        };
        let window: u16 = match rng.below(6) {
            0 => 0,
            1 => rng.next() as u16,
            _ => 502,
        };
        let opts = tcp_options(rng);
        let doff = if rng.chance(30) {
            rng.byte() >> 4
        } else {
            ((20 + opts.len()) / 4) as u8
        };
        let mut tcp = Vec::with_capacity(20 + opts.len());
        tcp.extend_from_slice(&sport.to_be_bytes());
        tcp.extend_from_slice(&dport.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.push(doff << 4);
        tcp.push(flags);
        tcp.extend_from_slice(&window.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        tcp.extend_from_slice(&opts);
        let seg_total = tcp.len() + payload_len;
        // Capture only part of the payload sometimes (snaplen).
        let captured = if rng.chance(3) {
            rng.below(payload_len as u64 + 1) as usize
        } else {
            payload_len
        };
        tcp.extend(rng.bytes(captured));
        let mut ip = Vec::new();
        if v6 {
            let mut next = 6u8;
            let mut ext = Vec::new();
            if rng.chance(4) {
                // Destination options (16 bytes) before TCP.
                ext.extend_from_slice(&[6, 1, 0x1e, 12]);
                ext.extend(rng.bytes(12));
                next = 60;
            }
            let plen = (ext.len() + seg_total) as u16;
            let plen = if rng.chance(20) {
                rng.next() as u16
            } else {
                plen
            };
            ip.extend_from_slice(&[0x60, 0, 0, 0]);
            ip.extend_from_slice(&plen.to_be_bytes());
            ip.push(next);
            ip.push(64);
            ip.extend_from_slice(&V6[a]);
            ip.extend_from_slice(&V6[b]);
            ip.extend(ext);
        } else {
            let total = (20 + seg_total) as u16;
            let total = if rng.chance(20) {
                rng.next() as u16
            } else {
                total
            };
            let frag: u16 = if rng.chance(30) {
                rng.next() as u16
            } else {
                0x4000
            };
            ip.extend_from_slice(&[0x45, 0]);
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&(rng.next() as u16).to_be_bytes());
            ip.extend_from_slice(&frag.to_be_bytes());
            ip.push(if rng.chance(10) { rng.byte() } else { 64 });
            ip.push(if rng.chance(40) { 17 } else { 6 });
            ip.extend_from_slice(&[0, 0]);
            ip.extend_from_slice(&V4[a]);
            ip.extend_from_slice(&V4[b]);
        }
        ip.extend(tcp);
        let mut frame = pcap::ethernet_frame([2, 0, 0, 0, 0, (a as u8) + 1], &ip)
            .expect("IP version set above");
        if rng.chance(25) {
            let cut = rng.below(frame.len() as u64) as usize;
            frame.truncate(cut);
        }
        let wire = (14 + 20 + seg_total) as u32;
        (self.ts, wire, frame)
    }
}

/// Re-encapsulates Ethernet frames on `link` (frames the converters cannot carry,
/// such as ones cut inside the Ethernet header, are left out).
fn relink(frames: &[(i64, u32, Vec<u8>)], link: LinkType) -> Vec<(i64, u32, Vec<u8>)> {
    if link == LinkType::Ethernet {
        return frames.to_vec();
    }
    frames
        .iter()
        .filter_map(|(ts, wire, d)| {
            let p = Pcap {
                big_endian: false,
                nanos: true,
                version: (2, 4),
                snaplen: 262_144,
                linktype: pcap::LINKTYPE_ETHERNET,
                records: vec![pcap::Record {
                    ts_sec: 0,
                    ts_frac: 0,
                    orig_len: *wire,
                    data: d.clone(),
                }],
            };
            let converted = match link {
                LinkType::Ethernet => unreachable!(),
                LinkType::LinuxSll => pcap::to_sll(&p),
                LinkType::LinuxSll2 => pcap::to_sll2(&p),
                LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 => pcap::to_raw(&p),
                LinkType::Null => pcap::to_null(&p, 30, false),
                LinkType::Loop => pcap::to_null(&p, 24, true),
            };
            let r = converted.records.into_iter().next()?;
            Some((*ts, r.orig_len, r.data))
        })
        .collect()
}

#[test]
fn random_tcp_frames_do_not_panic() {
    let t = Instant::now();
    let mut rng = Rng::new(0x5eed_0002);
    let mut total = 0usize;
    let mut seen = harness::Seen::default();
    for round in 0..60 {
        let mut gen = TcpGen {
            seqs: (0..64).map(|_| rng.next() as u32).collect(),
            ts: 1_700_000_000_000_000_000,
            calm: round % 2 == 0,
        };
        let n = 1_000 + rng.below(1_000) as usize;
        let frames: Vec<_> = (0..n).map(|_| gen.frame(&mut rng)).collect();
        let link = LINKS[round % LINKS.len()];
        let frames = relink(&frames, link);
        total += frames.len();
        let s = feed(link, random_knobs(&mut rng), &frames);
        seen.tcp_segments += s.tcp_segments;
        seen.flows += s.flows;
    }
    eprintln!(
        "random TCP frames: {total} frames, {} TCP segments, {} flows in {:?}",
        seen.tcp_segments,
        seen.flows,
        t.elapsed()
    );
    // The generator must reach the flow engine, not just the decoder's error paths.
    assert!(
        seen.tcp_segments as usize > total / 2,
        "too few frames decoded as TCP"
    );
    assert!(seen.flows > 1_000, "too few flows");
}

// ---------------------------------------------------------------------------------
// 3. Mutated fixture frames

fn link_of(linktype: u32) -> Option<LinkType> {
    Some(match linktype {
        pcap::LINKTYPE_ETHERNET => LinkType::Ethernet,
        pcap::LINKTYPE_LINUX_SLL => LinkType::LinuxSll,
        pcap::LINKTYPE_LINUX_SLL2 => LinkType::LinuxSll2,
        pcap::LINKTYPE_RAW => LinkType::RawIp,
        pcap::LINKTYPE_NULL => LinkType::Null,
        _ => return None,
    })
}

/// The frames (timestamp ns, wire length, bytes) of every classic-pcap fixture with
/// a link type the decoder knows, with that link type.
fn classic_fixtures() -> Vec<(LinkType, Vec<(i64, u32, Vec<u8>)>)> {
    let mut out = Vec::new();
    for name in common::all_fixtures() {
        if !name.ends_with(".pcap") {
            continue;
        }
        // Skip files that are not (or not yet completely) classic pcaps.
        let Some(p) = Pcap::try_read(&common::fixture(&name)) else {
            continue;
        };
        let Some(link) = link_of(p.linktype) else {
            continue;
        };
        let scale = if p.nanos { 1 } else { 1_000 };
        let frames = p
            .records
            .iter()
            .map(|r| {
                (
                    i64::from(r.ts_sec) * 1_000_000_000 + i64::from(r.ts_frac) * scale,
                    r.orig_len,
                    r.data.clone(),
                )
            })
            .collect();
        out.push((link, frames));
    }
    out
}

fn mutate(rng: &mut Rng, d: &mut Vec<u8>) {
    if d.is_empty() {
        d.extend(rng.bytes_upto(64));
        return;
    }
    match rng.below(6) {
        0 | 1 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(d.len() as u64) as usize;
                d[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            let i = rng.below(d.len() as u64) as usize;
            d[i] = *rng.pick(&[0u8, 0xff, 0x7f, 0x80, 1, 0x45, 0x60]);
        }
        3 => {
            let cut = rng.below(d.len() as u64) as usize;
            d.truncate(cut);
        }
        4 => {
            // Rewrite a 16/32-bit field somewhere in the headers.
            let i = rng.below(d.len().min(80) as u64) as usize;
            for (k, b) in rng.bytes(4).into_iter().enumerate() {
                if let Some(x) = d.get_mut(i + k) {
                    *x = b;
                }
            }
        }
        _ => {
            let extra = rng.bytes_upto(100);
            d.extend(extra);
        }
    }
}

#[test]
fn mutated_fixture_frames_do_not_panic() {
    let t = Instant::now();
    let mut rng = Rng::new(0x5eed_0003);
    let sources = classic_fixtures();
    assert!(!sources.is_empty(), "no classic pcap fixtures to mutate");
    let mut total = 0usize;
    let target = 100_000usize;
    while total < target {
        let (link, frames) = rng.pick(&sources).clone();
        // Heavier or lighter mutation rates per pass.
        let rate = *rng.pick(&[2u64, 5, 20, 100]);
        let mut out: Vec<(i64, u32, Vec<u8>)> = Vec::with_capacity(frames.len());
        for (ts, wire, d) in frames {
            let mut d = d;
            let mut ts = ts;
            let mut wire = wire;
            if rng.chance(rate) {
                mutate(&mut rng, &mut d);
            }
            if rng.chance(rate * 4) {
                ts += (rng.next() as i64) >> 20;
            }
            if rng.chance(rate * 4) {
                wire = rng.next() as u32;
            }
            if rng.chance(rate * 5) {
                out.push((ts, wire, d.clone()));
            }
            if rng.chance(rate * 5) && !out.is_empty() {
                let j = rng.below(out.len() as u64) as usize;
                out.push((ts, wire, d));
                let last = out.len() - 1;
                out.swap(j, last);
                continue;
            }
            out.push((ts, wire, d));
        }
        total += out.len();
        // Sometimes feed on the wrong link type.
        let link = if rng.chance(10) {
            *rng.pick(&LINKS)
        } else {
            link
        };
        feed(link, random_knobs(&mut rng), &out);
    }
    eprintln!(
        "mutated fixture frames: {total} frames in {:?}",
        t.elapsed()
    );
}

#[test]
fn whole_fixtures_under_every_knob_setting() {
    // The unmutated fixtures with every sink / timeline / limit combination.
    let mut total_tcp = 0u64;
    for (link, frames) in classic_fixtures() {
        for k in 0..16u8 {
            let seen = feed(link, Knobs::from_byte(k), &frames);
            total_tcp += seen.tcp_segments;
        }
    }
    assert!(total_tcp > 0, "the fixtures decode to TCP segments");
}

// ---------------------------------------------------------------------------------
// 4. Mutated capture files through the file readers (classic pcap via libpcap and
//    the fast path, the pcapng block walker, gzip/zstd streams)

/// Damages the container itself: record/block headers (lengths, types, interface
/// ids, timestamps), cuts, splices.
fn mutate_file(rng: &mut Rng, f: &mut Vec<u8>, boundaries: &[usize]) {
    match rng.below(5) {
        0 => {
            // A 32-bit field at a record or block start: length, type, caplen...
            let at = *rng.pick(boundaries) + 4 * rng.below(6) as usize;
            let any = rng.next() as u32;
            let v: u32 = *rng.pick(&[0, 7, 12, 13, 0xffff_fff0, 0x7fff_ffff, 262_145, any]);
            if at + 4 <= f.len() {
                f[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        1 => {
            let cut = rng.below(f.len() as u64 + 1) as usize;
            f.truncate(cut);
        }
        2 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(f.len() as u64) as usize;
                f[i] ^= 1 << rng.below(8);
            }
        }
        3 => {
            // Splice: a copy of some stretch elsewhere (duplicated or misaligned blocks).
            let a = rng.below(f.len() as u64) as usize;
            let b = (a + rng.below(300) as usize).min(f.len());
            let piece = f[a..b].to_vec();
            let at = rng.below(f.len() as u64) as usize;
            f.splice(at..at, piece);
        }
        _ => {
            // Time going backwards: a record's seconds field lowered.
            let at = *rng.pick(boundaries);
            if at + 4 <= f.len() {
                let v = u32::from_le_bytes(f[at..at + 4].try_into().unwrap());
                f[at..at + 4]
                    .copy_from_slice(&v.wrapping_sub(rng.below(100_000) as u32).to_le_bytes());
            }
        }
    }
}

#[test]
fn mutated_capture_files_do_not_panic() {
    use common::pcapng;
    let t = Instant::now();
    let mut rng = Rng::new(0x5eed_0004);
    let http = Pcap::read(&common::fixture("http_clean.pcap"));
    let cooked = Pcap::read(&common::fixture("cooked_any_v2.pcap"));
    let classic = http.to_bytes();
    let classic_bounds: Vec<usize> = http.record_offsets();
    let ng = pcapng::merge(&[&http, &cooked], false, 6);
    let ng_bytes = ng.bytes();
    let ng_bounds: Vec<usize> = ng.blocks.iter().map(|(o, _)| *o).collect();
    let dir = common::tempdir();
    let path = dir.path().join("m");
    let path_s = path.to_str().unwrap().to_string();
    let mut errors = 0;
    for round in 0..1_500u32 {
        let (mut f, bounds) = if round % 2 == 0 {
            (classic.clone(), &classic_bounds)
        } else {
            (ng_bytes.clone(), &ng_bounds)
        };
        for _ in 0..1 + rng.below(3) {
            if !f.is_empty() {
                mutate_file(&mut rng, &mut f, bounds);
            }
        }
        let f = match round % 5 {
            3 => {
                use std::io::Write;
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&f).unwrap();
                let mut z = e.finish().unwrap();
                if rng.chance(2) {
                    let cut = rng.below(z.len() as u64) as usize;
                    z.truncate(cut);
                }
                z
            }
            4 => zstd::encode_all(&f[..], 1).unwrap(),
            _ => f,
        };
        std::fs::write(&path, &f).unwrap();
        let filter = if round % 7 == 0 { Some("tcp") } else { None };
        let mut frames = 0u64;
        let (summary, err) = tcpdiag::source::pcap_file::read(&path_s, filter, 1, &mut |fr| {
            frames += 1;
            assert!(fr.data.len() <= 16 << 20);
        });
        assert!(frames <= summary.frames);
        if let Some(e) = err {
            errors += 1;
            assert!(!e.message.contains('\n'), "one-line error: {e}");
            if let Some(n) = e.frame {
                assert_eq!(
                    n,
                    1 + summary.frames,
                    "error frame follows the last read: {e}"
                );
            }
        }
    }
    eprintln!(
        "mutated capture files: 1500 files, {errors} with errors, in {:?}",
        t.elapsed()
    );
    assert!(errors > 100, "the mutations should damage many files");
}
