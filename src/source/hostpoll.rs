//! Host context around a live capture: the sysctls the analysis needs (port range,
//! retry counts) at the start, and the counters' change over the capture window.
//! TEMPORARY: waits for the host-context reader of branch `sockets`.

use super::live::HostSummary;

pub struct HostWatch;

impl HostWatch {
    pub fn start(_enabled: bool) -> Option<HostWatch> {
        None
    }
    pub fn port_range(&self) -> Option<(u16, u16)> {
        None
    }
    pub fn sysctl_u32(&self, _name: &str) -> Option<u32> {
        None
    }
    pub fn finish(self) -> HostSummary {
        HostSummary::default()
    }
}
