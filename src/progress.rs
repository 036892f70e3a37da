//! A progress bar on stderr for long replays: bytes of the input read, packets per
//! second, flows and findings so far. Shown only when stderr is a terminal and every
//! input is a regular file (so the total is known); otherwise it does nothing.
//! It looks at the clock once every 4096 frames and redraws at most 10 times a
//! second, so it costs nothing measurable per packet.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Frames between two looks at the clock.
const CHECK_EVERY: u64 = 4096;
const REDRAW: Duration = Duration::from_millis(100);
/// Record header of a classic pcap file: what a frame costs in the file besides its bytes.
const RECORD_HEADER: u64 = 16;

pub struct Progress {
    bar: Option<ProgressBar>,
    frames: u64,
    /// Bytes of the inputs consumed so far (frames plus record headers: exact for
    /// classic pcap, a little low for pcapng, whose blocks carry more).
    bytes: u64,
    started: Instant,
    last_draw: Instant,
}

impl Progress {
    /// A bar for reading `files`, or a silent one when there is no terminal to draw
    /// on or the size of an input is unknown (standard input, a pipe, a compressed file).
    pub fn new(files: &[String]) -> Progress {
        let total = if std::io::stderr().is_terminal() {
            files.iter().try_fold(0u64, |sum, f| {
                let meta = std::fs::metadata(f).ok().filter(|m| {
                    f != "-" && m.is_file() && !crate::source::open::is_compressed(f)
                })?;
                Some(sum + meta.len())
            })
        } else {
            None
        };
        let bar = total.map(|total| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {bytes}/{total_bytes} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            frames: 0,
            bytes: 0,
            started: now,
            last_draw: now,
        }
    }

    /// A new input file begins (its file header counts as read).
    pub fn file_started(&mut self) {
        self.bytes += 24;
    }

    /// Counts one frame of `caplen` bytes. `counts` gives (flows, findings) so far and
    /// is called only when the bar is redrawn.
    #[inline]
    pub fn frame(&mut self, caplen: usize, counts: impl FnOnce() -> (u64, u64)) {
        self.frames += 1;
        self.bytes += RECORD_HEADER + caplen as u64;
        if self.frames % CHECK_EVERY == 0 && self.bar.is_some() {
            self.draw(counts);
        }
    }

    #[cold]
    fn draw(&mut self, counts: impl FnOnce() -> (u64, u64)) {
        let now = Instant::now();
        if now.duration_since(self.last_draw) < REDRAW {
            return;
        }
        self.last_draw = now;
        let Some(bar) = &self.bar else { return };
        let secs = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let (flows, findings) = counts();
        bar.set_position(self.bytes.min(bar.length().unwrap_or(u64::MAX)));
        bar.set_message(format!(
            "{:.2} M packets/s, {} flows, {} findings",
            self.frames as f64 / secs / 1e6,
            flows,
            findings
        ));
    }

    /// Input done: removes the bar so the report (or errors) print on a clean line.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
