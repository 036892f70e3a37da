//! Close and TIME_WAIT: reuse of a 4-tuple soon after its previous connection
//! closed, and clients that actively close many connections to one server
//! (each one holds a TIME_WAIT entry and its local port for TIME_WAIT_LEN = 60 s).

use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

use super::window::WindowPeak;
use super::{round_ms, AnalyzerConfig, Confidence, Finding, Severity};
use crate::flow::conn::{CloseHow, Connection};
use crate::model::{Dir, Endpoint};

pub fn analyze(conn: &Connection, cfg: &AnalyzerConfig, out: &mut Vec<Finding>) {
    let Some(prev) = conn.previous else { return };
    let gap = conn.start.since(prev.ended);
    // A negative gap means the inputs are not in time order (e.g. two captures given
    // together): the reuse cannot be timed, so say nothing.
    if !(0.0..cfg.time_wait_s).contains(&gap) {
        return;
    }
    let timestamps = conn.side(Dir::FromClient).syn_options.map(|o| o.timestamps);
    let holder = prev
        .close
        .filter(|c| c.how == CloseHow::Fin)
        .map(|c| c.by.side());
    out.push(
        Finding::new("close.port_reuse", Severity::Info, Some(conn.id), conn.start.secs_f64())
            .summary(format!(
                "New SYN on {} -> {} {gap:.3} s after the previous connection on it (flow {}) closed{}: \
                 inside the {:.0} s TIME_WAIT; TCP timestamps {}",
                conn.client,
                conn.server,
                prev.id,
                holder.map(|h| format!(" (the {h} closed first and held TIME_WAIT)")).unwrap_or_default(),
                cfg.time_wait_s,
                match timestamps {
                    Some(true) => "on (PAWS lets the kernel tell the connections apart)",
                    Some(false) => "off (old duplicates can be taken for new data)",
                    None => "unknown",
                }
            ))
            .evidence("previous_flow", prev.id)
            .evidence("seconds_after_close", round_ms(gap))
            .evidence("time_wait_holder", holder)
            .evidence("timestamps", timestamps)
            .confidence(Confidence::High)
            .hint(
                "Fast 4-tuple reuse means the client's port range is small or busy: net.ipv4.tcp_tw_reuse=1 \
                 (needs net.ipv4.tcp_timestamps=1) lets the client reuse TIME_WAIT ports safely; better, reuse \
                 connections (keep-alive, pooling).",
            ),
    );
}

/// Active closes per (client address, server endpoint).
#[derive(Default)]
pub struct TimeWaitTracker {
    pairs: HashMap<(IpAddr, Endpoint), TwState>,
}

const MAX_PAIRS: usize = 50_000;

#[derive(Default)]
struct TwState {
    closes: u64,
    /// Closes within the last TIME_WAIT_LEN: sockets in TIME_WAIT at once.
    window: WindowPeak,
    ports: rustc_hash::FxHashSet<u16>,
    example_flows: Vec<u64>,
}

impl TimeWaitTracker {
    pub fn on_flow(&mut self, conn: &Connection, cfg: &AnalyzerConfig) {
        let Some(close) = conn.close() else { return };
        if close.by != Dir::FromClient || close.how != CloseHow::Fin {
            return;
        }
        let key = (conn.client.ip, conn.server);
        if !self.pairs.contains_key(&key) && self.pairs.len() >= MAX_PAIRS {
            return;
        }
        let st = self.pairs.entry(key).or_default();
        st.closes += 1;
        // At most 65,536 ports: bounded by itself.
        st.ports.insert(conn.client.port);
        if st.example_flows.len() < 10 {
            st.example_flows.push(conn.id);
        }
        st.window.add(close.ts, (cfg.time_wait_s * 1e9) as i64);
    }

    pub fn findings(&self, cfg: &AnalyzerConfig, out: &mut Vec<Finding>) {
        let range = u64::from(cfg.port_range.1 - cfg.port_range.0) + 1;
        for ((client, server), st) in &self.pairs {
            if st.closes < cfg.timewait_min as u64 {
                continue;
            }
            let share = st.window.peak as f64 / range as f64;
            let severity = if share >= 0.5 {
                Severity::Error
            } else {
                Severity::Warning
            };
            out.push(
                Finding::new("timewait.buildup", severity, None, st.window.peak_at.map_or(0.0, |t| t.secs_f64()))
                    .summary(format!(
                        "{client} actively closed {} connections to {server}; up to {} were in TIME_WAIT at \
                         once ({:.1}% of the {range} ports in {}-{}, using {} distinct local ports){}",
                        st.closes,
                        st.window.peak,
                        share * 100.0,
                        cfg.port_range.0,
                        cfg.port_range.1,
                        st.ports.len(),
                        if share >= 1.0 {
                            ": the port range is exhausted, connect() fails with EADDRNOTAVAIL (\"Cannot assign requested address\")"
                        } else {
                            ""
                        }
                    ))
                    .evidence("client", client.to_string())
                    .evidence("server", server.to_string())
                    .evidence("active_closes", st.closes)
                    .evidence("peak_time_wait", st.window.peak)
                    .evidence("time_wait_s", cfg.time_wait_s)
                    .evidence("port_range", [cfg.port_range.0, cfg.port_range.1])
                    .evidence("port_range_from", port_range_from(cfg, *client))
                    .evidence("distinct_local_ports", st.ports.len())
                    .evidence("example_flows", &st.example_flows)
                    .confidence(Confidence::High)
                    .hint(
                        "The client closes first, so its side keeps each 4-tuple in TIME_WAIT for 60 s. Reuse \
                         connections (HTTP keep-alive, pools); widen net.ipv4.ip_local_port_range; set \
                         net.ipv4.tcp_tw_reuse=1 (with net.ipv4.tcp_timestamps=1) on the client. Do not use \
                         tcp_tw_recycle (removed in Linux 4.12).",
                    ),
            );
        }
    }
}

/// What the port range in a timewait.buildup finding is: this host's own range
/// (live capture, the client is this host), this host's range while the client is
/// another host (whose own range applies), the flag, or Linux's default.
fn port_range_from(cfg: &AnalyzerConfig, client: std::net::IpAddr) -> &'static str {
    match cfg.port_range_from {
        "host" if cfg.local_addrs.contains(&client) => "this host's net.ipv4.ip_local_port_range",
        "host" => "this host's net.ipv4.ip_local_port_range, but the client is another host: its own range applies",
        "--port-range" => "--port-range",
        _ => "Linux default (give the client's range with --port-range)",
    }
}
