//! Shared by the cargo-fuzz target (fuzz_targets/decode_track.rs) and the plain
//! `cargo test` smoke fuzzer (tests/fuzz_smoke.rs, which includes this file with
//! `#[path]`): runs frames through `tcpdiag::decode::decode` and the whole flow
//! engine (flow table, Zeek state, timeline, analyzers) into a real report sink
//! that writes to `io::sink()`, so serialization runs too but nothing is kept.
//!
//! Fuzz input format (`run_input`):
//!   byte 0      link type selector (index into LINKS, modulo)
//!   byte 1      config bits: sink kind, timeline mode, small table limits
//!   then frames: [len: u8][dt: u8][len bytes of frame data]
//!               dt is a signed time step (i8) in units of 37 ms, so time can
//!               jump, stall and go backwards; a short tail is one last frame.

#![allow(dead_code)]

use std::io;

use clap::Parser;
use tcpdiag::analyze::Analyzers;
use tcpdiag::cli::{Cli, Command, ReplayArgs};
use tcpdiag::commands;
use tcpdiag::decode::{self, Decoded, LinkType, Transport};
use tcpdiag::engine::Engine;
use tcpdiag::flow::TableConfig;
use tcpdiag::model::Ts;
use tcpdiag::report::json::{JsonSink, NdjsonSink};
use tcpdiag::report::table::{TableOptions, TableSink};
use tcpdiag::report::Sink;
use tcpdiag::source::RawFrame;

pub const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Null,
    LinkType::Loop,
];

/// One frame to feed: time, wire length and captured bytes.
pub struct Frame<'a> {
    pub ts: Ts,
    pub wire_len: u32,
    pub data: &'a [u8],
}

/// Settings derived from the config byte.
#[derive(Clone, Copy, Debug)]
pub struct Knobs {
    /// 0 JSON, 1 NDJSON, 2 table (with timelines), 3 table.
    pub sink: u8,
    pub full_timeline: bool,
    /// Tiny table and timeline limits so eviction, the timeline cap and the idle
    /// sweep all run on short inputs.
    pub small_limits: bool,
}

impl Knobs {
    pub fn from_byte(b: u8) -> Knobs {
        Knobs {
            sink: b & 3,
            full_timeline: b & 4 != 0,
            small_limits: b & 8 != 0,
        }
    }
}

/// The tool's own replay settings for these knobs, built through its command-line
/// parser and `commands::{table_config, analyzer_config}` (so new config fields need
/// no change here). Small limits make eviction, the timeline cap and the idle sweep
/// run on short inputs.
pub fn replay_args(k: Knobs) -> ReplayArgs {
    let mut argv: Vec<&str> = vec!["tcpdiag", "replay", "fuzz.pcap"];
    if k.full_timeline {
        argv.extend(["--timeline", "full"]);
    }
    if k.small_limits {
        argv.extend([
            "--max-flows",
            "3",
            "--timeline-cap",
            "4",
            "--idle-timeout",
            "2s",
            "--stall-threshold",
            "10ms",
            "--idle-reset",
            "1s",
            "--flood-min",
            "2",
            "--timewait-min",
            "2",
        ]);
    }
    match Cli::try_parse_from(argv).expect("valid arguments") {
        Cli {
            command: Command::Replay(args),
            ..
        } => args,
        _ => unreachable!("replay arguments"),
    }
}

pub fn table_config(k: Knobs) -> TableConfig {
    commands::table_config(&replay_args(k))
}

/// What a run saw: (TCP segments decoded, flows tracked).
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen {
    pub tcp_segments: u64,
    pub flows: u64,
}

/// Runs `frames` (captured on `link`) through decode and the engine, then finishes
/// the report. Panics only if the code under test panics.
pub fn run_frames(
    link: LinkType,
    knobs: Knobs,
    frames: &mut dyn Iterator<Item = Frame<'_>>,
) -> Seen {
    let mut sink: Box<dyn Sink> = match knobs.sink {
        0 => Box::new(JsonSink::new(io::sink(), vec!["fuzz".into()], false, true)),
        1 => Box::new(NdjsonSink::new(io::sink(), false, true)),
        2 => Box::new(TableSink::new(
            io::sink(),
            TableOptions {
                timeline: true,
                ..TableOptions::default()
            },
        )),
        _ => Box::new(TableSink::new(
            io::sink(),
            TableOptions {
                findings_only: true,
                ..TableOptions::default()
            },
        )),
    };
    let args = replay_args(knobs);
    let analyzers = Analyzers::new(commands::analyzer_config(&args));
    let mut engine = Engine::new(commands::table_config(&args), analyzers, &mut *sink);
    let mut number = 0u64;
    for f in frames {
        number += 1;
        // The decoder on its own (what the engine calls), looked at fully.
        match decode::decode(link, f.data) {
            Decoded::Ip(p) => {
                if let Transport::Tcp(t) = &p.transport {
                    let _ = decode::tcp::parse_options(t.options, t.options_cut);
                    assert!(
                        t.payload.len() as u64 <= u64::from(t.payload_len),
                        "captured payload longer than the IP header says"
                    );
                }
            }
            Decoded::NotIp | Decoded::Malformed(_) => {}
        }
        engine.on_frame(RawFrame {
            number,
            ts: f.ts,
            link,
            wire_len: f.wire_len,
            data: f.data,
        });
    }
    let result = engine.finish();
    let seen = Seen {
        tcp_segments: result.decode.tcp_segments,
        flows: result.table.flows,
    };
    // The end of the report as the tool writes it (findings sorted and counted).
    let source = commands::SourceSummary {
        inputs: Vec::new(),
        errors: Vec::new(),
        first_packet: result.first_ts.map(|t| t.secs_f64()),
        capture: None,
    };
    if commands::write_run_report(&mut *sink, result, Vec::new(), source).is_err() {
        panic!("writing to io::sink cannot fail");
    }
    seen
}

/// The fuzz input format described at the top of this file.
pub fn run_input(data: &[u8]) -> Seen {
    if data.len() < 2 {
        return Seen::default();
    }
    let link = LINKS[usize::from(data[0]) % LINKS.len()];
    let knobs = Knobs::from_byte(data[1]);
    let mut rest = &data[2..];
    let mut ts: i64 = 1_700_000_000_000_000_000;
    let mut iter = std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() < 2 {
            let f = Frame {
                ts: Ts(ts),
                wire_len: rest.len() as u32,
                data: rest,
            };
            rest = &[];
            return Some(f);
        }
        let len = usize::from(rest[0]);
        let dt = i64::from(rest[1] as i8) * 37_000_000;
        ts = ts.saturating_add(dt);
        let body = &rest[2..];
        let take = len.min(body.len());
        let (frame, tail) = body.split_at(take);
        rest = tail;
        // An odd length byte claims the frame was longer on the wire (snaplen cut).
        let wire_len = if len % 2 == 1 {
            take as u32 + 1000
        } else {
            take as u32
        };
        Some(Frame {
            ts: Ts(ts),
            wire_len,
            data: frame,
        })
    });
    run_frames(link, knobs, &mut iter)
}
