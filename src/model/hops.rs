//! The interfaces one packet was seen on, in order (its path through this host):
//! shared by the decoder's copy detection and the flow's path record.

/// Interfaces kept per path.
pub const MAX_HOPS: usize = 8;

/// The interfaces (by index) one packet was seen on, in the order it was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hops {
    len: u8,
    ifindex: [u32; MAX_HOPS],
}

impl Hops {
    pub fn one(ifindex: u32) -> Hops {
        let mut h = Hops {
            len: 1,
            ifindex: [0; MAX_HOPS],
        };
        h.ifindex[0] = ifindex;
        h
    }

    pub fn as_slice(&self) -> &[u32] {
        &self.ifindex[..usize::from(self.len)]
    }

    pub fn contains(&self, ifindex: u32) -> bool {
        self.as_slice().contains(&ifindex)
    }

    /// Adds an interface at the end; beyond `MAX_HOPS` the copy is still a copy,
    /// only its interface is not listed.
    pub fn push(&mut self, ifindex: u32) {
        if usize::from(self.len) < MAX_HOPS {
            self.ifindex[usize::from(self.len)] = ifindex;
            self.len += 1;
        }
    }
}
