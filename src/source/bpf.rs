//! A `-f` filter for inputs that mix link types (pcapng with several interfaces):
//! the expression is compiled by libpcap once per link type (on a "dead" handle of
//! that type) and run on each frame in user space, so frame numbers stay the file's.

use std::collections::HashMap;

use pcap::{BpfProgram, Capture, Linktype};

pub struct Filter {
    expr: String,
    by_linktype: HashMap<u32, BpfProgram>,
}

/// libpcap's DLT for a file-format link type: they differ only where a DLT number
/// is platform-specific (LINKTYPE_RAW is DLT_RAW, 12 on Linux).
fn dlt_of(linktype: u32) -> i32 {
    match linktype {
        101 => 12,
        other => other as i32,
    }
}

impl Filter {
    pub fn new(expr: &str) -> Filter {
        Filter {
            expr: expr.to_string(),
            by_linktype: HashMap::new(),
        }
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Compiles the expression for `linktype` (once). Err: libpcap's message.
    pub fn prepare(&mut self, linktype: u32) -> Result<(), String> {
        if self.by_linktype.contains_key(&linktype) {
            return Ok(());
        }
        let dead = Capture::dead(Linktype(dlt_of(linktype))).map_err(|e| e.to_string())?;
        let program = dead.compile(&self.expr, true).map_err(|e| match e {
            pcap::Error::PcapError(s) => s.trim().to_string(),
            other => other.to_string(),
        })?;
        self.by_linktype.insert(linktype, program);
        Ok(())
    }

    /// Whether a frame of `linktype` passes; a link type not prepared passes nothing.
    pub fn matches(&self, linktype: u32, data: &[u8]) -> bool {
        self.by_linktype
            .get(&linktype)
            .is_some_and(|p| p.filter(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP SYN 192.0.2.10:40000 -> 192.0.2.1:80 as bare IPv4.
    fn ipv4_syn() -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 10, 192, 0, 2, 1,
        ];
        p.extend_from_slice(&40000u16.to_be_bytes());
        p.extend_from_slice(&80u16.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x10, 0, 0, 0, 0, 0]);
        p
    }

    #[test]
    fn one_expression_per_link_type() {
        let mut f = Filter::new("tcp port 80");
        f.prepare(1).unwrap();
        f.prepare(101).unwrap();
        f.prepare(276).unwrap();
        let ip = ipv4_syn();
        let mut eth = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
        eth.extend_from_slice(&ip);
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0,
        ];
        sll2.extend_from_slice(&ip);
        assert!(f.matches(1, &eth));
        assert!(f.matches(101, &ip));
        assert!(f.matches(276, &sll2));
        // The same bytes read as another link type do not match.
        assert!(!f.matches(1, &ip));
        // Not prepared: nothing passes.
        assert!(!f.matches(113, &ip));
        let mut g = Filter::new("udp");
        g.prepare(101).unwrap();
        assert!(!g.matches(101, &ip));
    }

    #[test]
    fn a_bad_expression_says_why() {
        let e = Filter::new("port (").prepare(1).unwrap_err();
        assert!(e.contains("syntax"), "{e}");
    }
}
