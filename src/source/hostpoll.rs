//! Host context around a live capture (through `source::host`): the sysctls the
//! analysis needs (ephemeral port range, retry counts) read at the start, and the
//! TCP counters (/proc/net/snmp, netstat) read at the start and the end, so the
//! summary can say what changed during the capture window.

use std::collections::BTreeMap;

use super::host;
use super::live::HostSummary;
use super::netns::Netns;
use crate::model::host::HostContext;

pub struct HostWatch {
    ns: Netns,
    start: HostContext,
}

impl HostWatch {
    /// Reads the host context of `netns` (None: this process's namespace). An
    /// unreadable host is not fatal: the capture runs with the defaults.
    pub fn start(netns: Option<&str>) -> Result<HostWatch, String> {
        let ns = netns.map_or(Netns::Current, |n| Netns::Named(n.to_string()));
        let start = host::read(&ns).map_err(|e| e.to_string())?;
        Ok(HostWatch { ns, start })
    }

    pub fn port_range(&self) -> Option<(u16, u16)> {
        self.start.port_range()
    }

    pub fn sysctl_u32(&self, name: &str) -> Option<u32> {
        self.start.sysctl_u32(name)
    }

    /// Reads the host again: the deltas of the counters that changed, and the
    /// context at the end (for the socket-level findings).
    pub fn finish(self) -> (HostSummary, Option<HostContext>) {
        match host::read(&self.ns) {
            Ok(end) => (
                HostSummary {
                    sysctls: BTreeMap::new(),
                    counter_deltas: counter_deltas(&self.start.counters, &end.counters),
                    error: None,
                },
                Some(end),
            ),
            Err(e) => (
                HostSummary {
                    error: Some(e.to_string()),
                    ..HostSummary::default()
                },
                None,
            ),
        }
    }
}

/// end - start for every counter present in both that changed. Gauges (CurrEstab)
/// can go down, hence signed.
pub fn counter_deltas(
    start: &BTreeMap<String, u64>,
    end: &BTreeMap<String, u64>,
) -> BTreeMap<String, i64> {
    end.iter()
        .filter_map(|(k, &e)| {
            let s = *start.get(k)?;
            let d = e as i64 - s as i64;
            (d != 0).then(|| (k.clone(), d))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_counters_are_kept() {
        let s: BTreeMap<String, u64> = [("Tcp.OutRsts", 5), ("Tcp.CurrEstab", 9), ("TcpExt.TW", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let e: BTreeMap<String, u64> = [("Tcp.OutRsts", 7), ("Tcp.CurrEstab", 4), ("TcpExt.TW", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let d = counter_deltas(&s, &e);
        assert_eq!(d.len(), 2);
        assert_eq!(d["Tcp.OutRsts"], 2);
        assert_eq!(d["Tcp.CurrEstab"], -5);
    }
}
