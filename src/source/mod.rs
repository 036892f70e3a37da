//! Sources of packets and state: saved captures, live interfaces, live sockets
//! through netlink sock_diag, and host context (sysctls, counters, processes). They
//! hand plain data downstream and know nothing of the analysis.

pub mod bpf;
pub mod conntrack;
pub mod conntrack_parse;
pub mod host;
pub mod hostpoll;
pub mod live;
pub mod namespaces;
pub mod netns;
pub mod netns_dump;
pub mod open;
pub mod pcap_file;
pub mod pcap_writer;
pub mod pcapng;
pub mod sockdiag;
pub mod sockdiag_snap;
pub mod sockpoll;

use crate::decode::LinkType;
use crate::model::Ts;

/// One captured frame, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    /// 1-based frame number, counted across all inputs in order (as `mergecap -a`).
    pub number: u64,
    pub ts: Ts,
    pub link: LinkType,
    /// Length on the wire; `data.len()` is what was captured.
    pub wire_len: u32,
    pub data: &'a [u8],
}

/// Where a source stopped early, for the one-line error and the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceError {
    pub file: String,
    /// The frame that could not be read (the last good one is `frame - 1`).
    pub frame: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.frame {
            Some(n) => write!(f, "{}: frame {}: {}", self.file, n, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
