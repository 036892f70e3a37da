//! Flow-table micro-benchmark: the decoded TCP segments of real fixtures fed to a
//! fresh `FlowTable` (lookup, per-direction analysis, Zeek state, timeline), and a
//! synthetic many-connections ingest (short handshakes on distinct 4-tuples) that
//! exercises connection creation, close linger and release.

use clap::Parser;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use tcpdiag::cli::{Cli, Command};
use tcpdiag::commands::table_config;
use tcpdiag::decode::{self, Decoded, LinkType};
use tcpdiag::flow::{FlowTable, Segment, TableConfig};
use tcpdiag::model::{Endpoint, Ts};

/// The flow table of a plain `tcpdiag replay` (its default options).
fn config() -> TableConfig {
    let cli = Cli::parse_from(["tcpdiag", "replay", "bench.pcap"]);
    let Command::Replay(args) = cli.command else {
        unreachable!("parsed a replay command line")
    };
    table_config(&args)
}

fn segments(name: &str) -> Vec<Segment> {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut cap =
        pcap::Capture::from_file_with_precision(&path, pcap::Precision::Nano).expect("fixture");
    let link = LinkType::from_dlt(cap.get_datalink().0).expect("known link type");
    let mut out = Vec::new();
    let mut n = 0;
    while let Ok(p) = cap.next_packet() {
        n += 1;
        let ts = Ts::from_secs_nanos(p.header.ts.tv_sec, p.header.ts.tv_usec);
        if let Decoded::Ip(pkt) = decode::decode(link, p.data) {
            if let Some(s) = Segment::from_packet(n, ts, &pkt) {
                out.push(s);
            }
        }
    }
    out
}

/// `conns` short connections (SYN, SYN-ACK, ACK, request, response, FINs), each on its
/// own client port/address, 100 µs apart: the shape of a busy web server's capture.
fn many_connections(conns: u32) -> Vec<Segment> {
    let server = Endpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 80);
    let template = segments("http_clean.pcap");
    let client0 = template[0].src;
    let mut out = Vec::with_capacity(template.len() * conns as usize);
    for i in 0..conns {
        let client = Endpoint::new(
            IpAddr::V4(Ipv4Addr::from(0xc612_0000 | (i & 0xffff))),
            1024 + (i >> 16) as u16,
        );
        let base = template[0].ts;
        for s in &template {
            let mut s = *s;
            let from_client = s.src == client0;
            s.src = if from_client { client } else { server };
            s.dst = if from_client { server } else { client };
            s.ts = Ts(s.ts.0 - base.0 + i64::from(i) * 100_000);
            s.frame += u64::from(i) * template.len() as u64;
            out.push(s);
        }
    }
    out
}

fn ingest(segs: &[Segment]) -> u64 {
    let mut t = FlowTable::new(config());
    let mut finished = 0u64;
    for s in segs {
        t.on_segment(black_box(s), &mut |c| finished += black_box(c).id.min(1));
    }
    t.finish_all(&mut |c| finished += black_box(c).id.min(1));
    finished
}

fn bench_table(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_table");
    for name in [
        "clean_bulk.pcap",
        "fast_retransmit.pcap",
        "half_open_flood.pcap",
    ] {
        let segs = segments(name);
        group.throughput(Throughput::Elements(segs.len() as u64));
        group.bench_function(name, |b| b.iter(|| ingest(&segs)));
    }
    let segs = many_connections(20_000);
    group.throughput(Throughput::Elements(segs.len() as u64));
    group.bench_function("20k_short_connections", |b| b.iter(|| ingest(&segs)));
    group.finish();
}

criterion_group!(benches, bench_table);
criterion_main!(benches);
