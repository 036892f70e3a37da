//! Arbitrary bytes as a capture file: format sniffing (source::open, gzip/zstd
//! included) and, for pcapng, the whole block walk (source::pcapng). Run with
//!   cargo +nightly fuzz run read_capture
//! Classic pcap files are libpcap's (and tests/fuzz_smoke.rs mutates them through
//! source::pcap_file); this target covers the code that is this crate's own.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use tcpdiag::source::open::{sniff, Format};
use tcpdiag::source::pcapng::{Item, Walker};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = sniff(Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    if input.format != Format::Pcapng {
        return;
    }
    let mut walker = Walker::new(input.reader);
    let mut packets = 0u64;
    while let Ok(Some(item)) = walker.next_item() {
        if let Item::Packet(p) = item {
            assert!(p.data.len() <= tcpdiag::source::pcapng::MAX_BLOCK);
            packets += 1;
        }
    }
    std::hint::black_box(packets);
});
