//! Command-line interface. `replay` reads saved captures; `sockets`, `watch` and
//! `host` read live state (netlink sock_diag, host context) with their own options
//! (namespace, socket filters, socket thresholds), defined here too.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::analyze::Severity;
use crate::flow::TimelineMode;
use crate::report::style::ColorChoice;
use crate::report::{Format, ReportFormat, TimeMode};

#[derive(Parser, Debug)]
#[command(
    name = "tcpdiag",
    version,
    about = "Tells you what is wrong with the TCP connections on a Linux server",
    long_about = "Per-connection timelines (Zeek conn_state/history, Wireshark analysis names) \
                  and findings with evidence, from saved captures; live sockets from the \
                  kernel (sock_diag) and the host's TCP sysctls and counters."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour on a terminal: auto (when standard output is one and NO_COLOR is not
    /// set), always, never.
    #[arg(
        long,
        value_enum,
        global = true,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorChoice,
}

/// The command-line definition (for completions and the man page).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyse saved captures (pcap or pcapng; "-" reads standard input).
    Replay(ReplayArgs),
    /// Capture live (libpcap) while polling the kernel's socket state (sock_diag), and
    /// report per flow as `replay` does. Needs CAP_NET_RAW.
    Capture(CaptureArgs),
    /// Describe the findings: what each means, its evidence, causes, what to check.
    Explain {
        /// A finding id (e.g. rst.injected); all when omitted.
        id: Option<String>,
        /// Print the whole catalog as Markdown (docs/findings.md).
        #[arg(long, conflicts_with = "id")]
        markdown: bool,
    },
    /// Live TCP sockets from the kernel (netlink sock_diag, as `ss -tino`), with
    /// per-state counts, TIME_WAIT and listener tables, and findings.
    Sockets(SocketsArgs),
    /// Poll the sockets repeatedly and print what changed (new/gone sockets, state
    /// and timer changes, counter rates, findings); Ctrl-C ends with a summary.
    Watch(WatchArgs),
    /// Host context: the TCP sysctls, /proc/net/snmp and netstat counters, socket
    /// totals and interface drop counters.
    Host(HostArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into DIR.
    Man {
        /// Write tcpdiag.1 and tcpdiag-COMMAND.1 into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct NetnsArgs {
    /// Look inside this network namespace (/run/netns/NAME, as `ip netns`).
    #[arg(long, value_name = "NAME", conflicts_with = "pid")]
    pub netns: Option<String>,
    /// Look inside the network namespace of this process (/proc/PID/ns/net).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u32>,
}

#[derive(Args, Debug, Clone)]
pub struct SocketFilterArgs {
    /// Only these states (repeat or comma-separate: listen, estab, syn-sent,
    /// syn-recv, fin-wait-1, fin-wait-2, time-wait, close-wait, last-ack, closing);
    /// filtered in the kernel.
    #[arg(long = "state", value_name = "STATE", value_delimiter = ',')]
    pub states: Vec<String>,
    /// Local port or range (80, 1024-2048); filtered in the kernel.
    #[arg(long, value_name = "PORT[-PORT]")]
    pub sport: Option<crate::source::sockdiag::PortRange>,
    /// Remote port or range; filtered in the kernel.
    #[arg(long, value_name = "PORT[-PORT]")]
    pub dport: Option<crate::source::sockdiag::PortRange>,
    /// Local address or prefix (10.0.0.0/8, 2001:db8::/32); filtered in the kernel.
    #[arg(long, value_name = "ADDR[/LEN]")]
    pub src: Option<crate::source::sockdiag::Prefix>,
    /// Remote address or prefix; filtered in the kernel.
    #[arg(long, value_name = "ADDR[/LEN]")]
    pub dst: Option<crate::source::sockdiag::Prefix>,
    /// IPv4 sockets only.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// IPv6 sockets only (dual-stack sockets with IPv4 peers included).
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Name the processes holding each socket (as `ss -p`; root sees every process).
    #[arg(short = 'p', long = "processes")]
    pub processes: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SocketThresholdArgs {
    /// sock.timewait_buildup: TIME_WAIT sockets from one local address to one
    /// remote ip:port (also raised at half the usable port range).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub timewait_min: usize,
    #[command(flatten)]
    pub population: SocketPopulationArgs,
}

/// Thresholds of the socket-population findings that `capture` shares with
/// `sockets` and `watch` (its TIME_WAIT threshold is the replay one).
#[derive(Args, Debug, Clone)]
pub struct SocketPopulationArgs {
    /// sock.close_wait_buildup: CLOSE_WAIT sockets of one process (or local address).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub close_wait_min: usize,
    /// sock.syn_recv_buildup: SYN-RECV sockets on one listener (also raised beyond
    /// its backlog).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub syn_recv_min: usize,
    /// sock.orphan_buildup: orphaned sockets (also raised at a quarter of
    /// net.ipv4.tcp_max_orphans).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub orphan_min: usize,
}

#[derive(Args, Debug, Clone)]
pub struct SocketsArgs {
    #[command(flatten)]
    pub ns: NetnsArgs,
    /// Every network namespace (the named ones and every process's), each socket
    /// labelled with its namespace and, from the cgroup, its container or pod.
    #[arg(long, conflicts_with_all = ["netns", "pid"])]
    pub all_netns: bool,
    #[command(flatten)]
    pub filter: SocketFilterArgs,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Only sockets named by a finding (table/json), only findings (ndjson).
    #[arg(long)]
    pub findings_only: bool,
    /// Exit with status 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Leave out tcp_info, congestion algorithm and socket memory (a faster dump).
    #[arg(long)]
    pub no_info: bool,
    #[command(flatten)]
    pub thresholds: SocketThresholdArgs,
}

#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    #[command(flatten)]
    pub ns: NetnsArgs,
    /// Every network namespace, rescanned at each poll (containers come and go);
    /// each socket labelled with its namespace and container or pod.
    #[arg(long, conflicts_with_all = ["netns", "pid"])]
    pub all_netns: bool,
    #[command(flatten)]
    pub filter: SocketFilterArgs,
    /// Time between polls (at least 10ms).
    #[arg(long, default_value = "1s", value_parser = parse_poll_interval, value_name = "DURATION")]
    pub interval: Duration,
    /// Stop after this many polls (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Output format [default: table (text lines) on a terminal, ndjson otherwise;
    /// json is the same as ndjson].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Exit with status 1 when a finding at or above this severity was raised.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// sock.send_queue_stuck: polls in a row without progress.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub stuck_polls: usize,
    #[command(flatten)]
    pub thresholds: SocketThresholdArgs,
}

#[derive(Args, Debug, Clone)]
pub struct HostArgs {
    #[command(flatten)]
    pub ns: NetnsArgs,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Capture files, read in order as one capture ("-" for standard input; a pipe or
    /// FIFO is read as a live stream).
    #[arg(required_unless_present = "read", value_name = "FILE")]
    pub files: Vec<String>,
    /// A capture file, as tcpdump -r (repeatable; read before the FILE arguments).
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<String>,
    /// BPF filter applied while reading, as in tcpdump.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Keep reading the remaining files after a damaged one, and exit 0/1 as if the
    /// input were complete (the report still says what was lost).
    #[arg(long)]
    pub keep_going: bool,
    /// Threads: 2 decodes and tracks flows on one while analyzers and output run on
    /// the other; 1 does everything on one (same report either way). Default: 2 when
    /// the process may use two cores or more, else 1.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2), value_name = "N")]
    pub threads: Option<u8>,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub tracking: TrackingArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// List the interfaces to capture on, with their addresses, in this network
    /// namespace and in every named one (ip netns), as tcpdump -D; then exit.
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,
    /// Interface to capture on; "any" captures on all of them (Linux cooked headers).
    #[arg(
        short = 'i',
        long = "interface",
        default_value = "any",
        value_name = "IFACE"
    )]
    pub interface: String,
    /// BPF filter, as in tcpdump. Simple port filters ("port 443", "tcp port 80 or
    /// port 8080") also restrict the socket polls in the kernel.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,
    /// Stop after this long (e.g. 30s, 2m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Stop after this many packets.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,
    /// Capture inside this network namespace (ip netns name).
    #[arg(long, value_name = "NAME")]
    pub netns: Option<String>,
    /// How often to poll the kernel's socket state (sock_diag; at least 10ms).
    #[arg(long, default_value = "500ms", value_parser = parse_poll_interval, value_name = "DURATION")]
    pub poll: Duration,
    /// Do not poll socket state or host counters (packets only).
    #[arg(long)]
    pub no_sockets: bool,
    /// Also poll the sockets of the network namespaces linked to the capture's (the
    /// peers of its veths: containers behind its bridges), each labelled with its
    /// namespace and container.
    #[arg(long, conflicts_with = "no_sockets")]
    pub all_netns: bool,
    /// Bytes captured per packet, as tcpdump -s [default: 256]. Headers fit in the
    /// default; the payload beyond it is only needed for DNS answers longer than that.
    #[arg(short = 's', long, value_name = "BYTES")]
    pub snaplen: Option<u32>,
    /// Kernel capture buffer in MiB (bursts beyond it are dropped: capture.dropped).
    #[arg(long, default_value_t = 16, value_name = "MIB")]
    pub buffer_size: u32,
    /// Put the interface in promiscuous mode.
    #[arg(long)]
    pub promisc: bool,
    /// Also write every captured packet to FILE (pcap).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<std::path::PathBuf>,
    /// At the end, write only the packets of flows with findings (and the DNS seen
    /// while they were open) to FILE (pcap).
    #[arg(long, value_name = "FILE")]
    pub write_flagged: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub tracking: TrackingArgs,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
    #[command(flatten)]
    pub sockets: SocketPopulationArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Output format [default: table on a terminal, json otherwise]; zeek writes a
    /// Zeek conn.log (TSV).
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Print each flow's timeline (collapsed runs by default; "full" lists every
    /// segment). The mode never takes the next argument unless it is "collapsed" or
    /// "full", so `--timeline x.pcap` reads x.pcap.
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "collapsed", value_name = "MODE")]
    pub timeline: Option<TimelineMode>,
    /// Times in timelines: rel (seconds since the flow's first packet), abs (local
    /// wall-clock time), utc.
    #[arg(long, value_enum, default_value = "rel", value_name = "MODE")]
    pub time: TimeMode,
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
    /// Memory budget of the whole process (256M, 1G): past it, the stored timelines
    /// of the least recently active flows are dropped first (their findings stay),
    /// then those flows are finished early; the report says so (capture.memory_limit).
    #[arg(long, default_value = "256M", value_parser = crate::budget::parse_size, value_name = "SIZE")]
    pub memory_limit: usize,
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
    /// Client ephemeral port range for TIME_WAIT pressure (net.ipv4.ip_local_port_range)
    /// [default: 32768-60999, Linux's; a live capture reads the host's].
    #[arg(long, value_parser = parse_port_range, value_name = "LO-HI")]
    pub port_range: Option<(u16, u16)>,
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

/// A poll interval: a duration of at least 10ms (0 would poll without pause).
pub fn parse_poll_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(10) {
        return Err(format!("'{s}' is too short (at least 10ms)"));
    }
    Ok(d)
}

/// Options whose value is optional, with the values they accept after a space.
/// Anything else after them is the next argument (a file name), never their value.
const OPTIONAL_VALUES: &[(&str, &[&str])] = &[("--timeline", &["collapsed", "full"])];

/// Rewrites `--timeline full` as `--timeline=full`: the option's value must be
/// attached (clap's `require_equals`) so that it never swallows a file name, but the
/// spaced form of a real mode keeps working. Stops at `--`.
pub fn normalize_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        if a == "--" {
            out.push(a);
            out.extend(it);
            break;
        }
        let known = OPTIONAL_VALUES.iter().find(|(name, _)| a == *name);
        match (known, it.peek().and_then(|n| n.to_str())) {
            (Some((name, values)), Some(next)) if values.contains(&next) => {
                out.push(format!("{name}={next}").into());
                it.next();
            }
            _ => out.push(a),
        }
    }
    out
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
    fn poll_intervals_are_never_zero() {
        assert!(parse_poll_interval("0s").is_err());
        assert!(parse_poll_interval("0").is_err());
        assert!(parse_poll_interval("5ms").is_err());
        assert_eq!(
            parse_poll_interval("10ms").unwrap(),
            Duration::from_millis(10)
        );
    }

    fn parsed(args: &[&str]) -> Result<Cli, clap::Error> {
        let argv = normalize_args(args.iter().map(std::ffi::OsString::from));
        Cli::try_parse_from(argv)
    }

    #[test]
    fn timeline_never_swallows_a_file() {
        let replay = |args: &[&str]| match parsed(args).expect("parses").command {
            Command::Replay(r) => (r.files, r.report.timeline),
            _ => panic!("not replay"),
        };
        assert_eq!(
            replay(&["tcpdiag", "replay", "--timeline", "x.pcap"]),
            (vec!["x.pcap".to_string()], Some(TimelineMode::Collapsed))
        );
        assert_eq!(
            replay(&["tcpdiag", "replay", "--timeline", "full", "x.pcap"]),
            (vec!["x.pcap".to_string()], Some(TimelineMode::Full))
        );
        assert_eq!(
            replay(&["tcpdiag", "replay", "x.pcap", "--timeline=collapsed"]),
            (vec!["x.pcap".to_string()], Some(TimelineMode::Collapsed))
        );
        assert_eq!(
            replay(&["tcpdiag", "replay", "--", "--timeline", "full"]),
            (vec!["--timeline".to_string(), "full".to_string()], None)
        );
    }

    #[test]
    fn tcpdump_habits() {
        match parsed(&["tcpdiag", "replay", "-r", "a.pcap", "-r", "b.pcap"])
            .unwrap()
            .command
        {
            Command::Replay(r) => assert_eq!(r.read, ["a.pcap", "b.pcap"]),
            _ => panic!("not replay"),
        }
        assert!(parsed(&["tcpdiag", "replay"]).is_err(), "a file is needed");
        match parsed(&["tcpdiag", "capture", "-s", "96", "-D"])
            .unwrap()
            .command
        {
            Command::Capture(c) => {
                assert_eq!(c.snaplen, Some(96));
                assert!(c.list_interfaces);
            }
            _ => panic!("not capture"),
        }
        assert!(parsed(&["tcpdiag", "capture", "--poll", "0s"]).is_err());
        assert!(parsed(&["tcpdiag", "watch", "--interval", "0s"]).is_err());
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("32768-60999").unwrap(), (32768, 60999));
        assert_eq!(parse_port_range("40000 40007").unwrap(), (40000, 40007));
        assert!(parse_port_range("5-1").is_err());
    }
}
