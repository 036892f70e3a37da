//! Parsers for the text tables of /proc/net: snmp/netstat (a header line of names
//! and a line of values per group), sockstat and dev.

use std::collections::BTreeMap;

use crate::model::host::{IfaceStats, SockStat};

/// Adds "Group.Name" -> value for every header/value line pair. Negative values
/// (Tcp MaxConn -1) are skipped. A line without its partner (a group another kernel
/// prints differently, a stray line) is skipped alone, so the pairs after it stay
/// aligned.
pub fn parse_table(text: &str, out: &mut BTreeMap<String, u64>) {
    let mut lines = text.lines().peekable();
    while let Some(names) = lines.next() {
        let Some((g1, names)) = names.split_once(':') else {
            continue;
        };
        let Some((g2, values)) = lines.peek().and_then(|l| l.split_once(':')) else {
            continue;
        };
        // The values line has the same group and numbers only.
        let numeric = values.split_whitespace().all(|v| {
            v.trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit())
        });
        if g1 != g2 || !numeric {
            continue;
        }
        lines.next();
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(v) = v.parse::<u64>() {
                out.insert(format!("{g1}.{n}"), v);
            }
        }
    }
}

/// The "TCP:" line of /proc/net/sockstat.
pub fn parse_sockstat(text: &str) -> Option<SockStat> {
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let words: Vec<&str> = line["TCP:".len()..].split_whitespace().collect();
    let get = |key: &str| -> Option<u64> {
        let i = words.iter().position(|w| *w == key)?;
        words.get(i + 1)?.parse().ok()
    };
    Some(SockStat {
        inuse: get("inuse")?,
        orphan: get("orphan")?,
        tw: get("tw")?,
        alloc: get("alloc")?,
        mem_pages: get("mem")?,
    })
}

/// /proc/net/dev: receive bytes packets errs drop fifo frame compressed multicast,
/// then transmit bytes packets errs drop fifo colls carrier compressed.
pub fn parse_net_dev(text: &str) -> Vec<IfaceStats> {
    let mut out: Vec<IfaceStats> = text
        .lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let v: Vec<u64> = rest
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            if v.len() < 16 {
                return None;
            }
            Some(IfaceStats {
                name: name.trim().to_string(),
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                rx_fifo_errors: v[4],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
                rx_missed_errors: None,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real file contents from this project's Debian 12 / 6.18 machine (the TcpExt
    // lines cut after TCPTimeouts, names and values alike).
    const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives\nIp: 1 64 5800\n\
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n\
Tcp: 1 200 120000 -1 37 4 1 14 0 5589 3490 0 0 16 0\n";
    const NETSTAT: &str = "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed EmbryonicRsts PruneCalled RcvPruned OfoPruned OutOfWindowIcmps LockDroppedIcmps ArpFilter TW TWRecycled TWKilled PAWSActive PAWSEstab BeyondWindow TSEcrRejected PAWSOldAck PAWSTimewait DelayedACKs DelayedACKLocked DelayedACKLost ListenOverflows ListenDrops TCPHPHits TCPPureAcks TCPHPAcks TCPRenoRecovery TCPSackRecovery TCPSACKReneging TCPSACKReorder TCPRenoReorder TCPTSReorder TCPFullUndo TCPPartialUndo TCPDSACKUndo TCPLossUndo TCPLostRetransmit TCPRenoFailures TCPSackFailures TCPLossFailures TCPFastRetrans TCPSlowStartRetrans TCPTimeouts\n\
TcpExt: 0 0 0 0 0 0 0 0 0 0 21 0 0 0 0 0 0 0 0 4 0 5 0 0 67 83 121 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 3\n\
IpExt: InNoRoutes InTruncatedPkts\nIpExt: 0 0\n";
    const SOCKSTAT: &str =
        "sockets: used 12\nTCP: inuse 1 orphan 0 tw 0 alloc 1 mem 94\nUDP: inuse 0 mem 0\n";
    const DEV: &str = "Inter-|   Receive                                                |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:    6438      59    0    0    0     0          0         0     6438      59    0    0    0     0       0          0\n  \
ifb0:       0       0    0    7    0     0          0         0        0       0    0    2    0     0       0          0\n";

    #[test]
    fn snmp_and_netstat() {
        let mut m = BTreeMap::new();
        parse_table(SNMP, &mut m);
        parse_table(NETSTAT, &mut m);
        assert_eq!(m["Tcp.ActiveOpens"], 37);
        assert_eq!(m["Tcp.OutRsts"], 16);
        assert_eq!(m["Tcp.EstabResets"], 14);
        assert!(!m.contains_key("Tcp.MaxConn"));
        assert_eq!(m["TcpExt.TW"], 21);
        assert_eq!(m["TcpExt.DelayedACKLost"], 5);
        assert_eq!(m["TcpExt.ListenOverflows"], 0);
        assert_eq!(m["TcpExt.TCPTimeouts"], 3);
        assert_eq!(m["Ip.DefaultTTL"], 64);
        assert_eq!(m["IpExt.InNoRoutes"], 0);
        // A header without its values line does not shift the pairs after it.
        let mut m = BTreeMap::new();
        parse_table(&format!("Odd: A B\n{NETSTAT}"), &mut m);
        assert_eq!(m["TcpExt.TCPTimeouts"], 3);
        assert_eq!(m["IpExt.InNoRoutes"], 0);
        assert!(!m.keys().any(|k| k.starts_with("Odd.")));
    }

    #[test]
    fn sockstat_and_dev() {
        let s = parse_sockstat(SOCKSTAT).unwrap();
        assert_eq!(
            (s.inuse, s.orphan, s.tw, s.alloc, s.mem_pages),
            (1, 0, 0, 1, 94)
        );
        assert!(parse_sockstat("sockets: used 1\n").is_none());
        let d = parse_net_dev(DEV);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "ifb0");
        assert_eq!((d[0].rx_dropped, d[0].tx_dropped), (7, 2));
        assert_eq!(
            (d[1].name.as_str(), d[1].rx_packets, d[1].tx_packets),
            ("lo", 59, 59)
        );
    }
}
