//! Reads the host context (`model::host::HostContext`) of a network namespace:
//! sysctls from /proc/sys, counters from /proc/thread-self/net/{snmp,netstat,sockstat}
//! (thread-self, so a thread inside another namespace sees that namespace), and
//! interface counters from /sys/class/net (own namespace) or
//! /proc/thread-self/net/dev (another namespace: sysfs shows the namespace it was
//! mounted in). `procs` maps socket inodes to processes for `-p`.

pub mod cgroup;
pub mod counters;
pub mod procs;

use std::collections::BTreeMap;
use std::fs;

use anyhow::Result;
use serde_json::Value;

use super::netns::{run_in, Netns, PROC_NET};
use crate::model::host::{sysctl_value, HostContext, IfaceStats, COUNTERS, SYSCTLS};

fn read_sysctls() -> BTreeMap<String, Value> {
    SYSCTLS
        .iter()
        .map(|name| {
            let path = format!("/proc/sys/{}", name.replace('.', "/"));
            let v = fs::read_to_string(path)
                .map(|t| sysctl_value(&t))
                .unwrap_or(Value::Null);
            (name.to_string(), v)
        })
        .collect()
}

fn read_counters() -> BTreeMap<String, u64> {
    let mut all = BTreeMap::new();
    for file in ["snmp", "netstat"] {
        if let Ok(t) = fs::read_to_string(format!("{PROC_NET}/{file}")) {
            counters::parse_table(&t, &mut all);
        }
    }
    COUNTERS
        .iter()
        .filter_map(|k| all.get(*k).map(|v| (k.to_string(), *v)))
        .collect()
}

fn sys_class_net() -> Vec<IfaceStats> {
    let Ok(dir) = fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    let mut out: Vec<IfaceStats> = dir
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stat = |f: &str| -> Option<u64> {
                fs::read_to_string(e.path().join("statistics").join(f))
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            };
            IfaceStats {
                rx_packets: stat("rx_packets").unwrap_or(0),
                tx_packets: stat("tx_packets").unwrap_or(0),
                rx_errors: stat("rx_errors").unwrap_or(0),
                tx_errors: stat("tx_errors").unwrap_or(0),
                rx_dropped: stat("rx_dropped").unwrap_or(0),
                tx_dropped: stat("tx_dropped").unwrap_or(0),
                rx_missed_errors: stat("rx_missed_errors"),
                rx_fifo_errors: stat("rx_fifo_errors").unwrap_or(0),
                name,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn first_line(path: &str) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Wall-clock now in epoch seconds, rounded to the microsecond (the time stamp of
/// a host reading and of a socket poll).
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| crate::model::time::round_us(d.as_secs_f64()))
        .unwrap_or(0.0)
}

/// Reads everything inside the namespace's thread (see the module doc).
pub fn read(ns: &Netns) -> Result<HostContext> {
    let own = *ns == Netns::Current;
    let label = ns.label();
    run_in(ns, move || {
        let interfaces = if own {
            sys_class_net()
        } else {
            fs::read_to_string(format!("{PROC_NET}/dev"))
                .map(|t| counters::parse_net_dev(&t))
                .unwrap_or_default()
        };
        Ok(HostContext {
            at: now(),
            hostname: first_line("/proc/sys/kernel/hostname"),
            kernel: first_line("/proc/sys/kernel/osrelease"),
            netns: label,
            sysctls: read_sysctls(),
            counters: read_counters(),
            sockstat: fs::read_to_string(format!("{PROC_NET}/sockstat"))
                .ok()
                .and_then(|t| counters::parse_sockstat(&t)),
            interfaces,
        })
    })
}
