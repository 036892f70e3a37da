//! Command-line interface. `replay` reads saved captures; the live commands
//! (`capture`, `sockets`, `watch`, `host`) share the report options defined here.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::analyze::Severity;
use crate::flow::TimelineMode;
use crate::report::Format;

#[derive(Parser, Debug)]
#[command(
    name = "tcpdiag",
    version,
    about = "Tells you what is wrong with the TCP connections on a Linux server",
    long_about = "Per-connection timelines (Zeek conn_state/history, Wireshark analysis names) \
                  and findings with evidence, from saved captures."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyse saved captures (pcap or pcapng; "-" reads standard input).
    Replay(ReplayArgs),
    /// Describe the findings: what each means, its evidence, causes, what to check.
    Explain {
        /// A finding id (e.g. rst.injected); all when omitted.
        id: Option<String>,
        /// Print the whole catalog as Markdown (docs/findings.md).
        #[arg(long, conflicts_with = "id")]
        markdown: bool,
    },
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Capture files, read in order as one capture ("-" for standard input).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// BPF filter applied while reading, as in tcpdump.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Keep reading the remaining files after a damaged one, and exit 0/1 as if the
    /// input were complete (the report still says what was lost).
    #[arg(long)]
    pub keep_going: bool,
    /// Threads: 2 decodes and tracks flows on one while analyzers and output run on
    /// the other; 1 does everything on one (same report either way).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2), value_name = "N")]
    pub threads: u8,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub tracking: TrackingArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Print each flow's timeline (collapsed runs by default; "full" lists every segment).
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "collapsed", value_name = "MODE")]
    pub timeline: Option<TimelineMode>,
    /// Only flows with findings (table/json), only findings (ndjson).
    #[arg(long)]
    pub findings_only: bool,
    /// Exit with status 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
}

#[derive(Args, Debug, Clone)]
pub struct TrackingArgs {
    /// A connection with no packet for this long is finished.
    #[arg(long, default_value = "300s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_timeout: Duration,
    /// Most connections tracked at once; beyond it the least recently active are
    /// finished early (reported as capture.flow_limit).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_flows: usize,
    /// Most timeline events kept per flow.
    #[arg(long, default_value_t = 2_000, value_name = "N")]
    pub timeline_cap: usize,
}

#[derive(Args, Debug, Clone)]
pub struct ThresholdArgs {
    /// stall.first_byte / stall.response: waits longer than this.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub stall_threshold: Duration,
    /// idle.reset: a RST after at least this much silence.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub idle_reset: Duration,
    /// handshake.half_open_flood: unfinished handshakes to one server in the window.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub flood_min: usize,
    /// timewait.buildup: active closes from one client address to one server ip:port.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub timewait_min: usize,
    /// Client ephemeral port range for TIME_WAIT pressure (net.ipv4.ip_local_port_range).
    #[arg(long, default_value = "32768-60999", value_parser = parse_port_range, value_name = "LO-HI")]
    pub port_range: (u16, u16),
    /// The client host's net.ipv4.tcp_syn_retries, when known.
    #[arg(long, value_name = "N")]
    pub syn_retries: Option<u32>,
    /// The host's net.ipv4.tcp_retries2, when known.
    #[arg(long, value_name = "N")]
    pub retries2: Option<u32>,
}

/// "500ms", "30s", "2m", "1h" or plain seconds ("1.5").
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration '{s}'"))?;
    let secs = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("bad duration unit in '{s}' (use ms, s, m or h)")),
    };
    if !(0.0..=1e9).contains(&secs) {
        return Err(format!("duration out of range: '{s}'"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (lo, hi) = s
        .split_once(['-', ' ', '\t'])
        .ok_or_else(|| format!("bad port range '{s}' (use LO-HI)"))?;
    let lo: u16 = lo.trim().parse().map_err(|_| format!("bad port '{lo}'"))?;
    let hi: u16 = hi.trim().parse().map_err(|_| format!("bad port '{hi}'"))?;
    if lo > hi {
        return Err(format!("port range '{s}' is empty"));
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("32768-60999").unwrap(), (32768, 60999));
        assert_eq!(parse_port_range("40000 40007").unwrap(), (40000, 40007));
        assert!(parse_port_range("5-1").is_err());
    }
}
