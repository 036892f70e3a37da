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
    /// Sent by the capturing host (cooked captures only): a query from the server
    /// host may leave from another of its addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<bool>,
    #[serde(flatten)]
    pub message: DnsMessage,
}

pub const MAX_DNS_RECORDS: usize = 50_000;

#[derive(Default)]
pub struct CaptureContext {
    pub dns: VecDeque<DnsRecord>,
    pub dns_dropped: u64,
    /// When the capture ended (its last packet, or a live capture's stop time), set
    /// before the flows still open are finished: how long a flow's silence lasted.
    pub capture_end: Option<Ts>,
    /// This host's listeners and listen counters (live capture only).
    pub listeners: super::listeners::ListenerLog,
    /// Bytes the DNS records hold (memory budget).
    dns_bytes: usize,
    /// Records kept at most, sized for the memory limit (`fit`); MAX_DNS_RECORDS
    /// unless set.
    max_dns: Option<usize>,
}

fn record_bytes(r: &DnsRecord) -> usize {
    use crate::budget::BLOCK_OVERHEAD;
    let m = &r.message;
    m.qname.capacity()
        + m.rcode.capacity()
        + m.qtype.capacity()
        + m.answers
            .iter()
            .map(|a| a.capacity() + BLOCK_OVERHEAD)
            .sum::<usize>()
        + m.answers.capacity() * std::mem::size_of::<String>()
        + 4 * BLOCK_OVERHEAD
}

impl CaptureContext {
    /// A context whose bound is sized for the process's memory limit.
    pub fn sized(limit: usize) -> CaptureContext {
        CaptureContext {
            max_dns: Some(crate::budget::scaled_cap(MAX_DNS_RECORDS, limit)),
            ..CaptureContext::default()
        }
    }

    pub fn add_dns(&mut self, rec: DnsRecord) {
        if self.dns.len() >= self.max_dns.unwrap_or(MAX_DNS_RECORDS) {
            if let Some(old) = self.dns.pop_front() {
                self.dns_bytes = self.dns_bytes.saturating_sub(record_bytes(&old));
            }
            self.dns_dropped += 1;
        }
        self.dns_bytes += record_bytes(&rec);
        self.dns.push_back(rec);
    }

    /// Bytes held (memory budget): the DNS records and the listener polls.
    pub fn footprint(&self) -> usize {
        self.dns.capacity() * std::mem::size_of::<DnsRecord>()
            + self.dns_bytes
            + self.listeners.footprint()
    }

    /// Queries (not responses) seen between `from` and `to`, inclusive.
    pub fn queries_between(&self, from: Ts, to: Ts) -> impl Iterator<Item = &DnsRecord> {
        self.dns
            .iter()
            .filter(move |r| !r.message.response && r.at >= from && r.at <= to)
    }

    /// The response to `query`: same id, name and client, after it, and before any
    /// retry of it (resolvers such as glibc's resend with the same id, so an answer
    /// belongs to the latest query it follows).
    pub fn answer_to(&self, query: &DnsRecord) -> Option<&DnsRecord> {
        let same = |r: &DnsRecord| {
            r.message.id == query.message.id && r.message.qname == query.message.qname
        };
        let answer = |r: &DnsRecord| r.message.response && r.dst == query.src;
        let retry = |r: &DnsRecord| !r.message.response && r.src == query.src;
        self.dns
            .iter()
            .filter(|r| r.at >= query.at && r.frame != query.frame && same(r))
            .find(|r| answer(r) || retry(r))
            .filter(|r| answer(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(frame: u64, secs: i64, response: bool, src: &str, dst: &str) -> DnsRecord {
        DnsRecord {
            frame,
            at: Ts::from_secs_nanos(secs, 0),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            outgoing: None,
            message: DnsMessage {
                id: 7,
                response,
                rcode: "NoError".into(),
                qname: "10.2.0.192.in-addr.arpa".into(),
                qtype: "PTR".into(),
                answers: vec![],
            },
        }
    }

    #[test]
    fn an_answer_belongs_to_the_latest_retry_it_follows() {
        let mut ctx = CaptureContext::default();
        ctx.add_dns(rec(1, 0, false, "203.0.113.1", "203.0.113.53"));
        ctx.add_dns(rec(2, 1, false, "203.0.113.1", "203.0.113.53"));
        ctx.add_dns(rec(3, 1, true, "203.0.113.53", "203.0.113.1"));
        let queries: Vec<&DnsRecord> = ctx
            .queries_between(Ts::ZERO, Ts::from_secs_nanos(5, 0))
            .collect();
        assert_eq!(queries.len(), 2);
        assert!(
            ctx.answer_to(queries[0]).is_none(),
            "the first try timed out"
        );
        assert_eq!(ctx.answer_to(queries[1]).map(|a| a.frame), Some(3));
    }
}
