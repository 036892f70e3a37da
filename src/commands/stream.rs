//! `replay` of a pipe or FIFO (`tcpdump -i eth0 -U -w - | tcpdiag replay -`): the
//! input is live, so it is read on its own thread and the engine, on this one, moves
//! the flow table's clock with the wall clock between packets (as `capture` does), so
//! closed and idle flows finish, and stream out, while the writer is still running.
//!
//! The clock is the latest packet's timestamp plus the wall time since that packet
//! arrived, less `LAG`: packets still in the pipe are read before a flow could finish
//! without them. A file replayed through a pipe (`cat x.pcap |`) keeps its own times:
//! the clock only moves on by the time the pipe really took.

use std::os::unix::fs::FileTypeExt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::decode::LinkType;
use crate::engine::Engine;
use crate::model::Ts;
use crate::source::pcap_file::FileSummary;
use crate::source::{RawFrame, SourceError};

/// How often the clock moves without a packet.
const TICK: Duration = Duration::from_millis(250);
/// How far the flow table's clock trails the newest packet's time plus wall time.
const LAG_NS: i64 = 1_000_000_000;
/// Frames in flight between the reading thread and the engine.
const QUEUE: usize = 4096;

/// Whether `path` ("-": standard input) is a pipe, FIFO, socket or terminal: input
/// that arrives while it is being written.
pub fn is_stream(path: &str) -> bool {
    let path = if path == "-" { "/proc/self/fd/0" } else { path };
    std::fs::metadata(path).is_ok_and(|m| {
        let t = m.file_type();
        t.is_fifo() || t.is_socket() || t.is_char_device()
    })
}

/// A frame copied out of the reader's buffer to cross threads.
struct Owned {
    number: u64,
    ts: Ts,
    link: LinkType,
    wire_len: u32,
    data: Vec<u8>,
}

/// What the reading thread sends: frames, then what it read and the errors.
enum Item {
    Frame(Owned),
    Done(Vec<FileSummary>, Vec<SourceError>),
}

/// Reads `files` (filtered by `filter`, past damage with `keep_going`) on a thread
/// into `engine`, ticking the engine's clock between packets. If the output fails
/// (`| head`), stops at once and leaves the reader to the end of the process.
pub fn read_live(
    engine: &mut Engine<'_>,
    files: Vec<String>,
    filter: Option<String>,
    keep_going: bool,
) -> (Vec<FileSummary>, Vec<SourceError>) {
    let (tx, rx) = mpsc::sync_channel::<Item>(QUEUE);
    // Not scoped: a reader blocked on a silent pipe must not keep the process alive
    // once there is nowhere left to write.
    std::thread::spawn(move || {
        let mut progress = crate::progress::Progress::new(&[]);
        let read = super::read_inputs(
            &files,
            filter.as_deref(),
            keep_going,
            &mut progress,
            &mut |f: RawFrame<'_>, _| {
                let _ = tx.send(Item::Frame(Owned {
                    number: f.number,
                    ts: f.ts,
                    link: f.link,
                    wire_len: f.wire_len,
                    data: f.data.to_vec(),
                }));
            },
        );
        let _ = tx.send(Item::Done(read.0, read.1));
    });
    // The newest packet's time and when it arrived.
    let mut newest: Option<(Ts, Instant)> = None;
    let mut last_tick = Instant::now();
    loop {
        match rx.recv_timeout(TICK) {
            Ok(Item::Frame(f)) => {
                if newest.is_none_or(|(t, _)| f.ts >= t) {
                    newest = Some((f.ts, Instant::now()));
                }
                engine.on_frame(RawFrame {
                    number: f.number,
                    ts: f.ts,
                    link: f.link,
                    wire_len: f.wire_len,
                    data: &f.data,
                });
            }
            Ok(Item::Done(inputs, errors)) => return (inputs, errors),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // The reader died (a panic): what was delivered stays delivered.
            Err(mpsc::RecvTimeoutError::Disconnected) => return (Vec::new(), Vec::new()),
        }
        if engine.output_failed() {
            return (Vec::new(), Vec::new());
        }
        if last_tick.elapsed() >= TICK {
            last_tick = Instant::now();
            if let Some((ts, arrived)) = newest {
                let waited = i64::try_from(arrived.elapsed().as_nanos()).unwrap_or(i64::MAX);
                engine.tick(Ts(ts.0.saturating_add(waited).saturating_sub(LAG_NS)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipes_and_fifos_are_streams_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.pcap");
        std::fs::write(&file, b"x").unwrap();
        assert!(!is_stream(file.to_str().unwrap()));
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(is_stream(fifo.to_str().unwrap()));
        assert!(!is_stream(dir.path().join("missing").to_str().unwrap()));
    }
}
