//! The fast flow writer (report::flow_json) must produce exactly the bytes of the
//! serde-derived contract struct (report::record::FlowRecord) for every flow of every
//! fixture, in both the JSON and the NDJSON form, with and without a full timeline.

use std::io;

use clap::Parser;
use tcpdiag::analyze::{Analyzers, Finding};
use tcpdiag::cli::{Cli, Command, ReplayArgs};
use tcpdiag::commands::{analyzer_config, table_config};
use tcpdiag::engine::Engine;
use tcpdiag::flow::nat::NatPair;
use tcpdiag::flow::table::NatJoin;
use tcpdiag::flow::Connection;
use tcpdiag::model::netns::{Container, NetnsLabel};
use tcpdiag::report::flow_json::write_flow;
use tcpdiag::report::json::write_tagged_line;
use tcpdiag::report::record::FlowRecord;
use tcpdiag::report::{ReportEnd, Sink};
use tcpdiag::source::pcap_file;

#[derive(Default)]
struct Compare {
    flows: u64,
    /// Socket snapshot events seen in the compared timelines.
    socket_events: u64,
    /// Flows written with "nat" and "socket_netns".
    with_nat: u64,
    buf: Vec<u8>,
}

impl Sink for Compare {
    fn flow(&mut self, conn: &Connection, findings: &[Finding]) -> io::Result<()> {
        for with_timeline in [true, false] {
            let record = FlowRecord::new(conn, findings, with_timeline);
            let expected = serde_json::to_vec(&record).unwrap();
            self.buf.clear();
            write_flow(&mut self.buf, conn, findings, with_timeline, None);
            assert_eq!(
                String::from_utf8_lossy(&self.buf),
                String::from_utf8_lossy(&expected),
                "flow {}",
                conn.id
            );

            let mut expected = Vec::new();
            write_tagged_line(&mut expected, "flow", &record).unwrap();
            expected.pop(); // write_flow leaves the newline to its caller.
            self.buf.clear();
            write_flow(&mut self.buf, conn, findings, with_timeline, Some("flow"));
            assert_eq!(
                String::from_utf8_lossy(&self.buf),
                String::from_utf8_lossy(&expected)
            );
        }
        self.flows += 1;
        let text = String::from_utf8_lossy(&self.buf);
        if text.contains("\"nat\":{\"original\"")
            && text.contains("\"socket_netns\":{\"client\":null")
        {
            self.with_nat += 1;
        }
        self.socket_events += conn
            .timeline
            .events
            .iter()
            .filter(|e| matches!(e.kind, tcpdiag::flow::EventKind::Socket { .. }))
            .count() as u64;
        Ok(())
    }
    fn finish(&mut self, _: &ReportEnd<'_>) -> io::Result<()> {
        Ok(())
    }
}

/// `tcpdiag replay --timeline TIMELINE FILE`, as the command line parses it.
fn replay_args(timeline: &str, file: &str) -> ReplayArgs {
    let cli = Cli::parse_from(["tcpdiag", "replay", "--timeline", timeline, file]);
    let Command::Replay(args) = cli.command else {
        unreachable!()
    };
    args
}

/// The replay engine those arguments configure, reporting to `sink`.
fn engine_for<'s>(args: &ReplayArgs, sink: &'s mut Compare) -> Engine<'s> {
    Engine::new(
        table_config(args),
        Analyzers::new(analyzer_config(args)),
        sink,
    )
}

#[test]
fn fast_writer_matches_serde_on_every_fixture() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "fixtures missing");
    let mut total = 0;
    for timeline in ["collapsed", "full"] {
        for file in &files {
            let file = file.to_str().unwrap().to_string();
            let args = replay_args(timeline, &file);
            let mut sink = Compare::default();
            let mut engine = engine_for(&args, &mut sink);
            let (_, err) = pcap_file::read(&file, None, 1, &mut |f| engine.on_frame(f));
            assert!(err.is_none(), "{file}: {err:?}");
            let result = engine.finish();
            assert!(result.sink_error.is_none());
            total += sink.flows;
        }
    }
    assert!(total > 100, "only {total} flows compared");
}

/// Socket snapshot events (live capture only) go through the same comparison: the
/// http_clean fixture's first connection gets two kernel snapshots of its server
/// socket between its packets, as a live capture would join them.
#[test]
fn fast_writer_matches_serde_with_socket_events() {
    use tcpdiag::flow::socket::{SockSnap, TcpInfoLite, STATE_ESTABLISHED};
    use tcpdiag::model::{Endpoint, Ts};

    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/http_clean.pcap");
    let args = replay_args("full", file);
    let mut sink = Compare::default();
    let mut engine = engine_for(&args, &mut sink);
    let server = Endpoint::new("192.0.2.1".parse().unwrap(), 8080);
    let client = Endpoint::new("192.0.2.10".parse().unwrap(), 40001);
    // The server is a port forward to a container: the sockets are polled in the
    // container's namespace, under the translated tuple.
    let container = Endpoint::new("10.88.0.2".parse().unwrap(), 80);
    let pair = NatPair {
        orig_src: client,
        orig_dst: server,
        reply_src: container,
        reply_dst: client,
    };
    let netns = std::sync::Arc::new(NetnsLabel {
        inode: 4026532301,
        name: Some("c1".into()),
        pid: Some(812),
        container: Some(Container {
            runtime: "docker".into(),
            id: "3f4c5d8e9a0b".into(),
            pod_uid: None,
        }),
    });
    let mut joined = 0;
    let (_, err) = pcap_file::read(file, None, 1, &mut |f| {
        let (number, ts) = (f.number, f.ts);
        engine.on_frame(f);
        if number == 4 {
            assert_eq!(engine.on_nat(&pair), NatJoin::Joined);
        }
        if number == 4 || number == 8 {
            let snap = SockSnap {
                at: Ts(ts.0 + 1_000),
                local: container,
                remote: client,
                state: STATE_ESTABLISHED,
                timer: if number == 4 { 0 } else { 1 },
                timer_expires_ms: 180,
                timer_retrans: (number == 8) as u8,
                recv_q: 0,
                send_q: 320,
                inode: 4242,
                info: Some(TcpInfoLite {
                    rtt_us: 120,
                    rto_us: 201_000,
                    unacked: (number == 8) as u32,
                    ..TcpInfoLite::default()
                }),
            };
            joined += engine.on_socket_in(snap, Some(&netns)) as u32;
        }
    });
    assert!(err.is_none(), "{err:?}");
    assert_eq!(joined, 2, "both snapshots joined the live flow");
    let result = engine.finish();
    assert!(result.sink_error.is_none());
    assert!(sink.flows >= 2);
    assert_eq!(
        sink.socket_events, 2,
        "both snapshots became timeline events"
    );
    assert_eq!(
        sink.with_nat, 1,
        "the flow carries its NAT pair and namespace"
    );
}
