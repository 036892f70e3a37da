//! Decoder micro-benchmark: real frames from the fixtures (Ethernet, VLAN, Linux
//! cooked v1/v2, raw IP, IPv6) through `decode::decode` and `Segment::from_packet`,
//! the per-frame work of a replay before the flow table.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tcpdiag::decode::{self, Decoded, LinkType};
use tcpdiag::flow::Segment;
use tcpdiag::model::Ts;

/// Every frame of a fixture, with its link type.
fn frames(name: &str) -> (LinkType, Vec<Vec<u8>>) {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut cap = pcap::Capture::from_file(&path).expect("fixture");
    let link = LinkType::from_dlt(cap.get_datalink().0).expect("known link type");
    let mut out = Vec::new();
    while let Ok(p) = cap.next_packet() {
        out.push(p.data.to_vec());
    }
    (link, out)
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for name in [
        "clean_bulk.pcap",
        "fast_retransmit.pcap",
        "vlan.pcap",
        "cooked_any_v2.pcap",
        "raw_ip.pcap",
        "ipv6.pcap",
    ] {
        let (link, frames) = frames(name);
        group.throughput(Throughput::Elements(frames.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut segments = 0u32;
                for (i, f) in frames.iter().enumerate() {
                    if let Decoded::Ip(p) = decode::decode(link, black_box(f)) {
                        if let Some(s) = Segment::from_packet(i as u64, Ts::ZERO, &p) {
                            segments += black_box(s).payload_len.min(1);
                        }
                    }
                }
                segments
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
