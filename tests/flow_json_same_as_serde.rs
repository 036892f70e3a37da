//! The fast flow writer (report::flow_json) must produce exactly the bytes of the
//! serde-derived contract struct (report::record::FlowRecord) for every flow of every
//! fixture, in both the JSON and the NDJSON form, with and without a full timeline.

use std::io;

use clap::Parser;
use serde::Serialize;
use tcpdiag::analyze::{Analyzers, Finding};
use tcpdiag::cli::{Cli, Command};
use tcpdiag::commands::{analyzer_config, table_config};
use tcpdiag::engine::Engine;
use tcpdiag::flow::Connection;
use tcpdiag::report::flow_json::write_flow;
use tcpdiag::report::record::FlowRecord;
use tcpdiag::report::{ReportEnd, Sink};
use tcpdiag::source::pcap_file;

struct Compare {
    flows: u64,
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

            #[derive(Serialize)]
            struct Tagged<'a, T> {
                #[serde(rename = "type")]
                kind: &'a str,
                #[serde(flatten)]
                value: &'a T,
            }
            let expected = serde_json::to_vec(&Tagged {
                kind: "flow",
                value: &record,
            })
            .unwrap();
            self.buf.clear();
            write_flow(&mut self.buf, conn, findings, with_timeline, Some("flow"));
            assert_eq!(
                String::from_utf8_lossy(&self.buf),
                String::from_utf8_lossy(&expected)
            );
        }
        self.flows += 1;
        Ok(())
    }
    fn finish(&mut self, _: &ReportEnd<'_>) -> io::Result<()> {
        Ok(())
    }
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
            let cli = Cli::parse_from(["tcpdiag", "replay", "--timeline", timeline, &file]);
            let Command::Replay(args) = cli.command else {
                unreachable!()
            };
            let mut sink = Compare {
                flows: 0,
                buf: Vec::new(),
            };
            let analyzers = Analyzers::new(analyzer_config(&args));
            let mut engine = Engine::new(table_config(&args), analyzers, &mut sink);
            let (_, err) = pcap_file::read(&file, None, 1, &mut |f| engine.on_frame(f));
            assert!(err.is_none(), "{file}: {err:?}");
            let result = engine.finish();
            assert!(result.sink_error.is_none());
            total += sink.flows;
        }
    }
    assert!(total > 100, "only {total} flows compared");
}
