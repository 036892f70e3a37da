//! What each IP address looked like in the flows finished so far (TTL range, source
//! MAC), so a RST can be compared with the same host's other packets when its own
//! flow has none. Bounded: beyond MAX_HOSTS new addresses are not profiled.

use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

use super::Confidence;
use crate::flow::conn::Connection;
use crate::model::units::{format_mac, plural};

const MAX_HOSTS: usize = 100_000;

#[derive(Clone, Copy, Debug)]
pub struct HostProfile {
    pub ttl_min: u8,
    pub ttl_max: u8,
    pub mac: Option<[u8; 6]>,
    pub flows: u32,
    pub last_flow: u64,
}

pub struct HostProfiles {
    hosts: HashMap<IpAddr, HostProfile>,
    /// Addresses profiled at most (MAX_HOSTS at the default memory limit).
    max_hosts: usize,
}

impl Default for HostProfiles {
    fn default() -> Self {
        HostProfiles {
            hosts: HashMap::default(),
            max_hosts: MAX_HOSTS,
        }
    }
}

impl HostProfiles {
    /// Sizes the bound for the process's memory limit.
    pub fn fit(&mut self, limit: usize) {
        self.max_hosts = crate::budget::scaled_cap(MAX_HOSTS, limit);
    }

    /// Learns from a finished flow's non-RST packets.
    pub fn learn(&mut self, conn: &Connection) {
        for (ep, side) in [(conn.client, &conn.sides[0]), (conn.server, &conn.sides[1])] {
            let Some(_) = side.ttl_first else { continue };
            if self.hosts.len() >= self.max_hosts && !self.hosts.contains_key(&ep.ip) {
                continue;
            }
            let p = self.hosts.entry(ep.ip).or_insert(HostProfile {
                ttl_min: side.ttl_min,
                ttl_max: side.ttl_max,
                mac: side.mac,
                flows: 0,
                last_flow: conn.id,
            });
            p.ttl_min = p.ttl_min.min(side.ttl_min);
            p.ttl_max = p.ttl_max.max(side.ttl_max);
            if p.mac.is_none() {
                p.mac = side.mac;
            }
            p.flows += 1;
            p.last_flow = conn.id;
        }
    }

    /// Bytes held (memory budget).
    pub fn footprint(&self) -> usize {
        crate::budget::table_bytes(
            self.hosts.capacity(),
            std::mem::size_of::<(IpAddr, HostProfile)>(),
        )
    }

    pub fn get(&self, ip: IpAddr) -> Option<&HostProfile> {
        self.hosts.get(&ip)
    }

    /// A sentence on whether a RST with this TTL/MAC fits the host's other flows.
    pub fn rst_attribution(
        &self,
        ip: IpAddr,
        ttl: u8,
        mac: Option<[u8; 6]>,
        flow: u64,
    ) -> (String, Confidence) {
        let Some(p) = self.get(ip).filter(|p| p.last_flow != flow || p.flows > 1) else {
            return (
                "no other packets from that host to compare the RST with".into(),
                Confidence::Medium,
            );
        };
        let ttl_fits = (p.ttl_min..=p.ttl_max).contains(&ttl);
        let mac_fits = match (mac, p.mac) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        };
        match (ttl_fits, mac_fits) {
            (true, Some(false)) => (
                format!(
                    "its source MAC {} differs from the host's usual {} (TTL {ttl} fits): probably sent by another box",
                    mac.map(|m| format_mac(&m)).unwrap_or_default(),
                    p.mac.map(|m| format_mac(&m)).unwrap_or_default()
                ),
                Confidence::Medium,
            ),
            (true, _) => (
                format!(
                    "TTL {ttl} matches the host's other packets ({}-{} in {}): sent by the host itself",
                    p.ttl_min,
                    p.ttl_max,
                    plural(p.flows, "flow")
                ),
                Confidence::High,
            ),
            (false, _) => (
                format!(
                    "TTL {ttl} differs from the host's other packets ({}-{}): probably sent by a \
                     firewall or other box on the path",
                    p.ttl_min, p.ttl_max
                ),
                Confidence::Medium,
            ),
        }
    }
}
