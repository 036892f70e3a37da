//! Host context: the sysctls that decide TCP's lifecycle, the TCP counters of
//! /proc/net/snmp and /proc/net/netstat, socket totals (/proc/net/sockstat) and
//! interface drop counters, for one network namespace at one moment. Plain data,
//! filled by `source::host` and read by the socket analyzers and any report that
//! knows which host it describes (`sockets`, `watch`, the live capture).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The sysctls read, by their `sysctl` name.
pub const SYSCTLS: &[&str] = &[
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_syn_retries",
    "net.ipv4.tcp_synack_retries",
    "net.ipv4.tcp_syn_linear_timeouts",
    "net.ipv4.tcp_retries1",
    "net.ipv4.tcp_retries2",
    "net.ipv4.tcp_orphan_retries",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_max_syn_backlog",
    "net.core.somaxconn",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.tcp_abort_on_overflow",
    "net.ipv4.tcp_max_tw_buckets",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_congestion_control",
];

/// The counters kept, as "Group.Name" (Tcp from /proc/net/snmp, TcpExt from
/// /proc/net/netstat).
pub const COUNTERS: &[&str] = &[
    "Tcp.ActiveOpens",
    "Tcp.PassiveOpens",
    "Tcp.AttemptFails",
    "Tcp.EstabResets",
    "Tcp.CurrEstab",
    "Tcp.InSegs",
    "Tcp.OutSegs",
    "Tcp.RetransSegs",
    "Tcp.InErrs",
    "Tcp.OutRsts",
    "TcpExt.ListenOverflows",
    "TcpExt.ListenDrops",
    "TcpExt.TCPTimeouts",
    "TcpExt.TCPSynRetrans",
    "TcpExt.TCPLossProbes",
    "TcpExt.TCPFastRetrans",
    "TcpExt.TCPAbortOnTimeout",
    "TcpExt.TCPAbortOnData",
    "TcpExt.TCPAbortOnClose",
    "TcpExt.TCPAbortOnLinger",
    "TcpExt.TCPAbortOnMemory",
    "TcpExt.TCPAbortFailed",
    "TcpExt.TW",
    "TcpExt.TWRecycled",
    "TcpExt.TWKilled",
    "TcpExt.TCPTimeWaitOverflow",
    "TcpExt.SyncookiesSent",
    "TcpExt.SyncookiesRecv",
    "TcpExt.SyncookiesFailed",
    "TcpExt.TCPReqQFullDrop",
    "TcpExt.TCPReqQFullDoCookies",
    "TcpExt.TCPBacklogDrop",
    "TcpExt.TCPRcvQDrop",
    "TcpExt.TCPZeroWindowDrop",
    "TcpExt.TCPKeepAlive",
    "TcpExt.TCPWantZeroWindowAdv",
    "TcpExt.TCPToZeroWindowAdv",
    "TcpExt.TCPFromZeroWindowAdv",
];

/// /proc/net/sockstat's TCP line (`inuse`, `tw` per namespace; `orphan`, `alloc`,
/// `mem_pages` machine-wide).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SockStat {
    pub inuse: u64,
    pub orphan: u64,
    pub tw: u64,
    pub alloc: u64,
    /// Pages of memory used by TCP.
    pub mem_pages: u64,
}

/// One interface's error and drop counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfaceStats {
    pub name: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    /// NIC ring overruns (rx_missed_errors); null from /proc/net/dev, which folds
    /// them into rx_dropped.
    pub rx_missed_errors: Option<u64>,
    pub rx_fifo_errors: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostContext {
    /// Epoch seconds when it was read.
    pub at: f64,
    pub hostname: Option<String>,
    /// `uname -r`.
    pub kernel: Option<String>,
    /// null for the tool's own namespace, else the --netns name or "pid:PID".
    pub netns: Option<String>,
    /// Each of `SYSCTLS`: a number, an array of numbers (ip_local_port_range), a
    /// string (tcp_congestion_control), or null when this namespace/kernel lacks it.
    pub sysctls: BTreeMap<String, Value>,
    /// Each of `COUNTERS` the kernel has (cumulative since boot / namespace creation).
    pub counters: BTreeMap<String, u64>,
    pub sockstat: Option<SockStat>,
    pub interfaces: Vec<IfaceStats>,
}

impl HostContext {
    pub fn sysctl_u64(&self, name: &str) -> Option<u64> {
        self.sysctls.get(name).and_then(Value::as_u64)
    }

    pub fn sysctl_u32(&self, name: &str) -> Option<u32> {
        self.sysctl_u64(name).and_then(|v| u32::try_from(v).ok())
    }

    /// net.ipv4.ip_local_port_range.
    pub fn port_range(&self) -> Option<(u16, u16)> {
        let a = self
            .sysctls
            .get("net.ipv4.ip_local_port_range")?
            .as_array()?;
        let lo = u16::try_from(a.first()?.as_u64()?).ok()?;
        let hi = u16::try_from(a.get(1)?.as_u64()?).ok()?;
        Some((lo, hi))
    }

    pub fn counter(&self, name: &str) -> Option<u64> {
        self.counters.get(name).copied()
    }
}

/// A sysctl's text as JSON: one integer, several integers, or the string.
pub fn sysctl_value(text: &str) -> Value {
    let t = text.trim();
    let parts: Vec<&str> = t.split_whitespace().collect();
    let nums: Option<Vec<i64>> = parts.iter().map(|p| p.parse::<i64>().ok()).collect();
    match nums {
        Some(n) if n.len() == 1 => Value::from(n[0]),
        Some(n) if !n.is_empty() => Value::from(n),
        _ => Value::from(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_values() {
        assert_eq!(sysctl_value("2\n"), Value::from(2));
        assert_eq!(
            sysctl_value("32768\t60999\n"),
            serde_json::json!([32768, 60999])
        );
        assert_eq!(sysctl_value("cubic\n"), Value::from("cubic"));
        assert_eq!(sysctl_value(""), Value::from(""));
        let mut h = HostContext::default();
        h.sysctls.insert(
            "net.ipv4.ip_local_port_range".into(),
            sysctl_value("40000 40009"),
        );
        h.sysctls
            .insert("net.ipv4.tcp_retries2".into(), sysctl_value("15"));
        assert_eq!(h.port_range(), Some((40000, 40009)));
        assert_eq!(h.sysctl_u32("net.ipv4.tcp_retries2"), Some(15));
        assert_eq!(h.sysctl_u32("net.ipv4.nope"), None);
    }
}
