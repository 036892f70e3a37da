//! The commands: argument handling, wiring of source -> engine -> sink, exit codes
//! (0 fine, 1 findings at or above --fail-on, 2 unusable input or arguments).

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use crate::analyze::capture::{inputs_overlap, InputSpan};
use crate::analyze::{catalog, AnalyzerConfig, Analyzers, Finding, Severity};
use crate::cli::{Cli, Command, ReplayArgs, ReportArgs};
use crate::engine::{run_pipelined, Engine, EngineResult};
use crate::flow::conn::ConnConfig;
use crate::flow::{TableConfig, TimelineMode};
use crate::progress::Progress;
use crate::report::json::{JsonSink, NdjsonSink};
use crate::report::style::{self, Term};
use crate::report::table::{TableOptions, TableSink};
use crate::report::zeek::ZeekSink;
use crate::report::{FindingCounts, Format, ReportEnd, ReportFormat, Sink, Summary};
use crate::source::live::CaptureSummary;
use crate::source::pcap_file::{self, FileSummary};
use crate::source::{RawFrame, SourceError};

pub mod capture;
mod flagged;
pub mod interfaces;
mod stream;

pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;

/// The output format asked for, else a table on a terminal and `piped` otherwise.
pub fn default_format(asked: Option<Format>, piped: Format) -> Format {
    asked.unwrap_or(if io::stdout().is_terminal() {
        Format::Table
    } else {
        piped
    })
}

/// The report format asked for, else a table on a terminal and `piped` otherwise.
pub fn default_report_format(asked: Option<ReportFormat>, piped: ReportFormat) -> ReportFormat {
    asked.unwrap_or(if io::stdout().is_terminal() {
        ReportFormat::Table
    } else {
        piped
    })
}

/// Says what is wrong and gives the bad-input exit code.
pub fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("tcpdiag: {e}");
    ExitCode::from(EXIT_BAD_INPUT)
}

pub fn run(cli: Cli) -> ExitCode {
    style::set_current(Term::detect(cli.color));
    match cli.command {
        Command::Replay(args) => replay(args),
        Command::Capture(args) => capture::run(args),
        Command::Sockets(args) => crate::live::sockets(args),
        Command::Watch(args) => crate::live::watch(args),
        Command::Host(args) => crate::live::host(args),
        Command::Explain { id, markdown } => {
            if markdown {
                return print_text(&catalog::markdown());
            }
            explain(id.as_deref())
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut crate::cli::command(), "tcpdiag", &mut out);
            print_text(&String::from_utf8_lossy(&out))
        }
        Command::Man { dir } => man(dir.as_deref()),
    }
}

/// The man page of `cmd` (roff).
fn man_page(cmd: clap::Command) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    Ok(out)
}

/// `tcpdiag man`: the page on standard output, or with `--dir` one page per command
/// (tcpdiag.1, tcpdiag-replay.1, ...) written there.
fn man(dir: Option<&std::path::Path>) -> ExitCode {
    let cmd = crate::cli::command();
    let Some(dir) = dir else {
        return match man_page(cmd) {
            Ok(page) => print_text(&String::from_utf8_lossy(&page)),
            Err(e) => fail(format!("rendering the man page failed: {e}")),
        };
    };
    let mut pages = vec![("tcpdiag".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name: &'static str = Box::leak(format!("tcpdiag-{}", sub.get_name()).into_boxed_str());
        pages.push((name.to_string(), sub.clone().name(name)));
    }
    for (name, cmd) in pages {
        let path = dir.join(format!("{name}.1"));
        if let Err(e) = man_page(cmd).and_then(|page| std::fs::write(&path, page)) {
            return fail(format!("cannot write {}: {e}", path.display()));
        }
    }
    ExitCode::SUCCESS
}

/// Writes `text` to standard output. A closed pipe (`| head`) is not an error; any
/// other failure (a full disk, `> /dev/full`) is one line and the bad-input exit code.
fn print_text(text: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            fail(format!("writing the report failed: {e}"))
        }
        _ => ExitCode::SUCCESS,
    }
}

fn explain(id: Option<&str>) -> ExitCode {
    let text = match id {
        Some(id) => match catalog::explain(id).or_else(|| explain_family(id)) {
            Some(t) => t,
            None => {
                let families = finding_families().join(", ");
                eprintln!(
                    "tcpdiag: unknown finding id '{id}' (families: {families}; 'tcpdiag explain' lists them all)"
                );
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
        None => catalog::explain_all(),
    };
    print_text(&text)
}

/// Every finding whose id starts with `prefix` ("stall", "stall.", "sock.close"):
/// the family's entries, each explained. None when no id matches.
fn explain_family(prefix: &str) -> Option<String> {
    let entries: Vec<String> = catalog::CATALOG
        .iter()
        .filter(|e| e.id.starts_with(prefix))
        .filter_map(|e| catalog::explain(e.id))
        .collect();
    (!entries.is_empty()).then(|| entries.join("\n"))
}

/// The families of finding ids ("handshake", "stall", ...), in catalog order.
fn finding_families() -> Vec<&'static str> {
    let mut families: Vec<&'static str> = Vec::new();
    for e in catalog::CATALOG {
        let family = e.id.split('.').next().unwrap_or(e.id);
        if !families.contains(&family) {
            families.push(family);
        }
    }
    families
}

pub fn table_config(args: &ReplayArgs) -> TableConfig {
    table_config_of(&args.report, &args.tracking)
}

pub fn table_config_of(report: &ReportArgs, t: &crate::cli::TrackingArgs) -> TableConfig {
    TableConfig {
        conn: ConnConfig {
            timeline: report.timeline.unwrap_or(TimelineMode::Collapsed),
            timeline_cap: if report.timeline == Some(TimelineMode::Full) {
                t.timeline_cap.max(1_000_000)
            } else {
                t.timeline_cap
            },
            idle_mark_ns: 1_000_000_000,
            ooo_threshold_ns: 3_000_000,
        },
        idle_timeout_ns: t.idle_timeout.as_nanos().min(i64::MAX as u128) as i64,
        close_linger_ns: 5_000_000_000,
        max_flows: t.max_flows.max(1),
        recent_ns: 60_000_000_000,
        memory_limit: t.memory_limit,
    }
}

pub fn analyzer_config(args: &ReplayArgs) -> AnalyzerConfig {
    analyzer_config_of(&args.thresholds)
}

pub fn analyzer_config_of(th: &crate::cli::ThresholdArgs) -> AnalyzerConfig {
    AnalyzerConfig {
        stall_threshold_s: th.stall_threshold.as_secs_f64(),
        idle_reset_s: th.idle_reset.as_secs_f64(),
        flood_min: th.flood_min.max(1),
        timewait_min: th.timewait_min.max(1),
        port_range: th
            .port_range
            .unwrap_or(AnalyzerConfig::default().port_range),
        port_range_from: if th.port_range.is_some() {
            "--port-range"
        } else {
            "default"
        },
        tcp_syn_retries: th.syn_retries,
        tcp_retries2: th.retries2,
        ..AnalyzerConfig::default()
    }
}

/// The table's options from the report arguments and this run's terminal.
pub(crate) fn table_options(report: &ReportArgs) -> TableOptions {
    TableOptions {
        findings_only: report.findings_only,
        timeline: report.timeline.is_some(),
        time: report.time,
        term: style::current(),
    }
}

/// The sink of a flow report. `streaming`: the input is live or a pipe, so line
/// formats flush each line as its flow finishes.
pub(crate) fn make_sink<'a>(
    report: &ReportArgs,
    sources: Vec<String>,
    out: Box<dyn Write + Send + 'a>,
    streaming: bool,
) -> Box<dyn Sink + Send + 'a> {
    match default_report_format(report.format, ReportFormat::Json) {
        ReportFormat::Table => Box::new(TableSink::new(out, table_options(report))),
        // JSON always carries the (collapsed) timeline: it is a few dozen events per flow.
        ReportFormat::Json => Box::new(JsonSink::new(out, sources, report.findings_only, true)),
        ReportFormat::Ndjson => {
            Box::new(NdjsonSink::new(out, report.findings_only, true).flushing_lines(streaming))
        }
        ReportFormat::Zeek => {
            Box::new(ZeekSink::new(out, report.findings_only).flushing_lines(streaming))
        }
    }
}

/// Reads every input in order into `on_frame`; stops after a damaged file unless
/// --keep-going. Returns what was read from each file and the errors.
fn read_inputs(
    files: &[String],
    filter: Option<&str>,
    keep_going: bool,
    progress: &mut Progress,
    on_frame: &mut dyn FnMut(RawFrame<'_>, &mut Progress),
) -> (Vec<FileSummary>, Vec<SourceError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let mut next_frame = 1;
    for file in files {
        progress.file_started();
        let (summary, err) = pcap_file::read(file, filter, next_frame, &mut |frame| {
            on_frame(frame, progress)
        });
        next_frame += summary.frames;
        inputs.push(summary);
        if let Some(e) = err {
            let fatal_for_run = e.frame.is_none() && e.message.starts_with("bad filter");
            errors.push(e);
            if !keep_going || fatal_for_run {
                break;
            }
        }
    }
    (inputs, errors)
}

fn replay(args: ReplayArgs) -> ExitCode {
    let files: Vec<String> = args.read.iter().chain(&args.files).cloned().collect();
    let stdin_count = files.iter().filter(|f| *f == "-").count();
    if stdin_count > 1 {
        eprintln!("tcpdiag: standard input ('-') can be read only once");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    // A pipe or FIFO (tcpdump -w - | tcpdiag replay -) is read as a live stream.
    let streaming = files.iter().any(|f| stream::is_stream(f));
    // Stdout (not its lock) so the sink can live on the output thread.
    let out = io::BufWriter::with_capacity(1 << 16, io::stdout());
    let mut sink = make_sink(&args.report, files.clone(), Box::new(out), streaming);
    let analyzers = Analyzers::new(analyzer_config(&args));
    let tables = table_config(&args);
    let mut progress = Progress::new(&files);
    let ((inputs, errors), result) = if streaming {
        let mut engine = Engine::new(tables, analyzers, &mut *sink);
        let read = stream::read_live(
            &mut engine,
            files.clone(),
            args.filter.clone(),
            args.keep_going,
        );
        (read, engine.finish())
    } else if args.threads.unwrap_or_else(default_threads) >= 2 {
        run_pipelined(tables, analyzers, &mut *sink, |pipe| {
            read_inputs(
                &files,
                args.filter.as_deref(),
                args.keep_going,
                &mut progress,
                &mut |frame, progress| {
                    let caplen = frame.data.len();
                    pipe.on_frame(frame);
                    progress.frame(caplen, || pipe.progress_counts());
                },
            )
        })
    } else {
        let mut engine = Engine::new(tables, analyzers, &mut *sink);
        let read = read_inputs(
            &files,
            args.filter.as_deref(),
            args.keep_going,
            &mut progress,
            &mut |frame, progress| {
                let caplen = frame.data.len();
                engine.on_frame(frame);
                progress.frame(caplen, || engine.progress_counts());
            },
        );
        (read, engine.finish())
    };
    progress.finish();
    let frames_read: u64 = inputs.iter().map(|i| i.frames).sum();

    for e in &errors {
        let tail = match e.frame {
            // With --keep-going later files are still read: only this file's rest is lost.
            Some(_) if args.keep_going => " (the rest of this file was skipped)".to_string(),
            Some(n) if n > 1 => format!(" (the report covers frames 1-{})", n - 1),
            _ => String::new(),
        };
        eprintln!("tcpdiag: {e}{tail}");
    }
    if frames_read == 0 && !errors.is_empty() {
        return ExitCode::from(EXIT_BAD_INPUT);
    }

    let complete = errors.is_empty();
    let first_packet = result
        .first_ts
        .filter(|_| frames_read > 0)
        .map(|t| crate::model::time::round_us(t.secs_f64()));
    let source = SourceSummary {
        inputs,
        errors,
        first_packet,
        capture: None,
    };
    let spans: Vec<InputSpan<'_>> = source
        .inputs
        .iter()
        .filter_map(|i| {
            Some(InputSpan {
                file: &i.file,
                first: i.first_ts?,
                last: i.last_ts?,
            })
        })
        .collect();
    let extra: Vec<Finding> = inputs_overlap(&spans).into_iter().collect();
    let summary = match write_run_report(sink.as_mut(), result, extra, source) {
        Ok(summary) => summary,
        Err(code) => return code,
    };
    if !complete && !args.keep_going {
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    exit_for_findings(args.report.fail_on, &summary.findings)
}

/// What a run's source adds to its summary: the files read (replay) or the capture's
/// own block, the read errors, and when the first packet was seen.
pub struct SourceSummary {
    pub inputs: Vec<FileSummary>,
    pub errors: Vec<SourceError>,
    pub first_packet: Option<f64>,
    pub capture: Option<CaptureSummary>,
}

/// The end of a run's report, shared by replay and capture: every finding (the
/// engine's and `extra` ones the source found itself) in report order, their counts,
/// the summary, written after the flows. Returns the summary (for the exit code), or
/// the exit code when the report could not be written.
pub fn write_run_report(
    sink: &mut dyn Sink,
    result: EngineResult,
    extra: Vec<Finding>,
    source: SourceSummary,
) -> Result<Summary, ExitCode> {
    let mut counts = FindingCounts::from_pairs(&result.severity_counts);
    let mut findings: Vec<Finding> = result.flow_findings;
    findings.extend(result.capture_findings);
    for f in extra {
        counts.add(f.severity, 1);
        findings.push(f);
    }
    // Report order: the worst first, then by time.
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.at.total_cmp(&b.at)));
    let last_packet = result
        .last_ts
        .map(|t| crate::model::time::round_us(t.secs_f64()));
    let summary = Summary {
        complete: source.errors.is_empty(),
        inputs: source.inputs,
        errors: source.errors,
        first_packet: source.first_packet,
        first_packet_utc: source.first_packet,
        last_packet,
        last_packet_utc: last_packet,
        packets: result.decode,
        flows: result.table,
        conn_states: result.conn_states,
        findings: counts,
        findings_not_listed: result.findings_not_kept,
        dns_dropped: result.dns_dropped,
        memory: result.memory,
        capture: source.capture,
    };
    let end = ReportEnd {
        summary: &summary,
        findings: &findings,
        folded: &result.folded,
        dns: &result.dns,
    };
    write_report(sink, result.sink_error, &end)?;
    Ok(summary)
}

/// Ends the report: the first error the sink met while streaming flows, else its
/// closing part. A closed pipe (`| head`) is not an error; any other failure is
/// reported and yields the bad-input exit code.
fn write_report(
    sink: &mut dyn Sink,
    sink_error: Option<io::Error>,
    end: &ReportEnd<'_>,
) -> Result<(), ExitCode> {
    let write_result = match sink_error {
        Some(e) => Err(e),
        None => sink.finish(end),
    };
    match write_result {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            eprintln!("tcpdiag: writing the report failed: {e}");
            Err(ExitCode::from(EXIT_BAD_INPUT))
        }
        _ => Ok(()),
    }
}

/// The exit code of a run that read all it had to: `EXIT_FINDINGS` when a finding
/// reaches the `--fail-on` level, else success.
pub(crate) fn exit_for_findings(fail_on: Option<Severity>, counts: &FindingCounts) -> ExitCode {
    if let Some(level) = fail_on {
        let worst = [
            (Severity::Error, counts.error),
            (Severity::Warning, counts.warning),
            (Severity::Info, counts.info),
        ];
        if worst.iter().any(|(sev, n)| *n > 0 && *sev >= level) {
            return ExitCode::from(EXIT_FINDINGS);
        }
    }
    ExitCode::SUCCESS
}

/// Two threads only pay with two cores to run them on (the second thread waits for
/// the first otherwise, and hand-over costs); `available_parallelism` follows the
/// process's CPU affinity and cgroup quota.
fn default_threads() -> u8 {
    match std::thread::available_parallelism() {
        Ok(n) if n.get() >= 2 => 2,
        _ => 1,
    }
}
