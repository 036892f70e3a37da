//! The identity of the tunnel that carried a flow: part of the flow key, so two
//! tenants whose inner 4-tuples are the same (both 10.0.0.2:40000 -> 10.0.0.3:80,
//! in VNI 42 and VNI 43) never become one flow.
//!
//! The decoder gives each tunnelled packet its `TunnelKey`; the engine turns each
//! distinct key into a small `TunnelId` (an exact table, consulted only for tunnelled
//! packets), and that id is what the flow key holds: plain traffic's key grows by 4
//! bytes, not by two addresses.
//!
//! The identity is the innermost tunnel's kind, its outer addresses (in a canonical
//! order, so both directions give the same key) and its id (VXLAN/Geneve VNI, GRE
//! key, ERSPAN session; 0 when the tunnel has none). Layers that do not separate
//! tenants (VLAN tags, MPLS labels, which change from hop to hop and differ per
//! direction, PPPoE sessions, whose addresses are already unique) are not part of it.

use std::net::IpAddr;

/// Kinds of tunnel that take part in the flow key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    Vxlan,
    Geneve,
    Gre,
    Erspan,
    /// IP in IP of any family (IPIP, SIT, IP6IP6, IPv4 in IPv6).
    IpInIp,
}

/// Which tunnel carried a packet: `None` for plain traffic (the common case, one
/// byte to write and to hash).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TunnelKey {
    #[default]
    None,
    Tunnel {
        kind: TunnelKind,
        /// VNI, GRE key or ERSPAN session id; 0 when the tunnel carries none.
        id: u32,
        /// The smaller outer address.
        lo: IpAddr,
        /// The larger outer address.
        hi: IpAddr,
    },
}

impl TunnelKey {
    /// The key of a tunnel between `src` and `dst` (either order gives the same key).
    pub fn new(kind: TunnelKind, id: u32, src: IpAddr, dst: IpAddr) -> TunnelKey {
        let (lo, hi) = if src <= dst { (src, dst) } else { (dst, src) };
        TunnelKey::Tunnel { kind, id, lo, hi }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, TunnelKey::None)
    }
}

/// A tunnel identity as the flow key holds it: 0 for plain traffic, else the number
/// the engine gave that `TunnelKey` when it first saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TunnelId(pub u32);

impl TunnelId {
    pub const NONE: TunnelId = TunnelId(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_independent_and_tenant_separating() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(
            TunnelKey::new(TunnelKind::Vxlan, 42, a, b),
            TunnelKey::new(TunnelKind::Vxlan, 42, b, a)
        );
        assert_ne!(
            TunnelKey::new(TunnelKind::Vxlan, 42, a, b),
            TunnelKey::new(TunnelKind::Vxlan, 43, a, b)
        );
        assert_ne!(
            TunnelKey::new(TunnelKind::Vxlan, 42, a, b),
            TunnelKey::new(TunnelKind::Geneve, 42, a, b)
        );
        assert!(TunnelKey::default().is_none());
    }
}
