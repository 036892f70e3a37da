//! Capture-wide context the analyzers consult: DNS traffic seen so far. Bounded:
//! the oldest entries go first.

use std::collections::VecDeque;
use std::net::IpAddr;

use serde::Serialize;

use crate::decode::dns::DnsMessage;
use crate::model::Ts;

#[derive(Clone, Debug, Serialize)]
pub struct DnsRecord {
    pub frame: u64,
    #[serde(serialize_with = "crate::model::units::ser_ts")]
    pub at: Ts,
    pub src: IpAddr,
    pub dst: IpAddr,
    #[serde(flatten)]
    pub message: DnsMessage,
}

pub const MAX_DNS_RECORDS: usize = 50_000;

#[derive(Default)]
pub struct CaptureContext {
    pub dns: VecDeque<DnsRecord>,
    pub dns_dropped: u64,
}

impl CaptureContext {
    pub fn add_dns(&mut self, rec: DnsRecord) {
        if self.dns.len() >= MAX_DNS_RECORDS {
            self.dns.pop_front();
            self.dns_dropped += 1;
        }
        self.dns.push_back(rec);
    }

    /// DNS queries sent by `host` between `from` and `to`, with their answers.
    pub fn dns_queries_from(
        &self,
        host: IpAddr,
        from: Ts,
        to: Ts,
    ) -> Vec<(&DnsRecord, Option<&DnsRecord>)> {
        self.dns
            .iter()
            .filter(|r| !r.message.response && r.src == host && r.at >= from && r.at <= to)
            .map(|q| {
                let answer = self.dns.iter().find(|a| {
                    a.message.response
                        && a.message.id == q.message.id
                        && a.dst == q.src
                        && a.message.qname == q.message.qname
                        && a.at >= q.at
                });
                (q, answer)
            })
            .collect()
    }
}
