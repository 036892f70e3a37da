//! One connection under two 4-tuples: address translation (DNAT port forwards,
//! masquerade) as the kernel's conntrack table records it. Pure data and rules, no
//! OS calls: the live source turns conntrack entries into `NatPair`s, the flow table
//! joins the two tuples of a pair into one flow (an alias key), and the analysis
//! asks which end of a flow was translated (an address of this host that is only a
//! forward, not a socket).
//!
//! Conntrack's words: the *original* tuple is the first packet as its sender (the
//! initiator) sent it; the *reply* tuple is an answer as the responder sends it,
//! after translation. Without NAT the reply tuple is the original one reversed.

use crate::model::{Endpoint, FlowKey};

/// The two tuples of one translated connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NatPair {
    /// Initiator -> responder, as the initiator sent it.
    pub orig_src: Endpoint,
    pub orig_dst: Endpoint,
    /// Responder -> initiator, as the responder sends it (its real address).
    pub reply_src: Endpoint,
    pub reply_dst: Endpoint,
}

/// Which end of a translated connection an endpoint or socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatEnd {
    Initiator,
    Responder,
}

impl NatPair {
    /// The destination was rewritten (a port forward: DNAT, kube-proxy, ...).
    pub fn dnat(&self) -> bool {
        self.orig_dst != self.reply_src
    }

    /// The source was rewritten (masquerade, SNAT).
    pub fn snat(&self) -> bool {
        self.orig_src != self.reply_dst
    }

    pub fn translated(&self) -> bool {
        self.dnat() || self.snat()
    }

    /// The 4-tuple as the initiator's packets carried it before translation.
    pub fn original_key(&self) -> FlowKey {
        FlowKey::of(self.orig_src, self.orig_dst).0
    }

    /// The 4-tuple after translation (what the responder's side of the host sees).
    pub fn reply_key(&self) -> FlowKey {
        FlowKey::of(self.reply_src, self.reply_dst).0
    }

    /// Which end sends from `local` to `remote`, under either tuple.
    pub fn end_of(&self, local: Endpoint, remote: Endpoint) -> Option<NatEnd> {
        if (local, remote) == (self.orig_src, self.orig_dst)
            || (local, remote) == (self.reply_dst, self.reply_src)
        {
            Some(NatEnd::Initiator)
        } else if (local, remote) == (self.orig_dst, self.orig_src)
            || (local, remote) == (self.reply_src, self.reply_dst)
        {
            Some(NatEnd::Responder)
        } else {
            None
        }
    }

    /// Whether `e`, an endpoint of the tuple a flow was seen under, is only a
    /// translated address: the initiator's or responder's socket has another one.
    pub fn is_translated_endpoint(&self, e: Endpoint) -> bool {
        (e == self.orig_dst && self.dnat()) || (e == self.reply_dst && self.snat())
    }

    /// The real (socket) address of the end that `e` stands for, under either tuple.
    pub fn real_of(&self, e: Endpoint) -> Option<Endpoint> {
        if e == self.orig_src || e == self.reply_dst {
            Some(self.orig_src)
        } else if e == self.orig_dst || e == self.reply_src {
            Some(self.reply_src)
        } else {
            None
        }
    }
}

/// What a flow knows about its translation: the pair, the tuple it was not seen
/// under (its alias in the flow table) and how many segments came under that alias
/// (the same packets seen again after or before translation: not analysed twice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowNat {
    pub pair: NatPair,
    /// The other tuple's key (the alias that points at this flow).
    pub alias: FlowKey,
    /// Segments seen under the alias tuple, counted but not analysed.
    pub copies: u64,
    /// A separate flow had started under the alias before conntrack told them
    /// apart, and was folded into this one (its id is not reported).
    pub merged_flow: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        let (ip, port) = s.rsplit_once(':').unwrap();
        Endpoint::new(ip.parse().unwrap(), port.parse().unwrap())
    }

    /// A port forward host:8080 -> container:80 (client not masqueraded).
    fn dnat() -> NatPair {
        NatPair {
            orig_src: ep("198.51.100.2:40000"),
            orig_dst: ep("198.51.100.1:8080"),
            reply_src: ep("172.30.0.2:80"),
            reply_dst: ep("198.51.100.2:40000"),
        }
    }

    #[test]
    fn ends_and_translation_under_either_tuple() {
        let p = dnat();
        assert!(p.dnat() && !p.snat() && p.translated());
        assert_ne!(p.original_key(), p.reply_key());
        // The container's socket (after translation) is the responder.
        assert_eq!(
            p.end_of(ep("172.30.0.2:80"), ep("198.51.100.2:40000")),
            Some(NatEnd::Responder)
        );
        // The client's socket, either way round.
        assert_eq!(
            p.end_of(ep("198.51.100.2:40000"), ep("198.51.100.1:8080")),
            Some(NatEnd::Initiator)
        );
        assert_eq!(
            p.end_of(ep("198.51.100.2:40000"), ep("172.30.0.2:80")),
            Some(NatEnd::Initiator)
        );
        assert_eq!(p.end_of(ep("10.0.0.1:1"), ep("10.0.0.2:2")), None);
        // The host's forwarded address is no socket; the client's is real.
        assert!(p.is_translated_endpoint(ep("198.51.100.1:8080")));
        assert!(!p.is_translated_endpoint(ep("198.51.100.2:40000")));
        assert_eq!(
            p.real_of(ep("198.51.100.1:8080")),
            Some(ep("172.30.0.2:80"))
        );
        // A connection that was not translated is not a NAT pair.
        let plain = NatPair {
            reply_src: p.orig_dst,
            ..p
        };
        assert!(!plain.translated());
        assert_eq!(plain.original_key(), plain.reply_key());
    }

    #[test]
    fn masquerade_translates_the_initiator() {
        // A container connecting out through the host's uplink address.
        let p = NatPair {
            orig_src: ep("172.30.0.2:41000"),
            orig_dst: ep("198.51.100.2:9000"),
            reply_src: ep("198.51.100.2:9000"),
            reply_dst: ep("198.51.100.1:41000"),
        };
        assert!(p.snat() && !p.dnat());
        assert!(p.is_translated_endpoint(ep("198.51.100.1:41000")));
        assert!(!p.is_translated_endpoint(ep("198.51.100.2:9000")));
        assert_eq!(
            p.end_of(ep("198.51.100.1:41000"), ep("198.51.100.2:9000")),
            Some(NatEnd::Initiator)
        );
    }
}
