//! Linux's TCP timer arithmetic, shared by the capture analyzers (what the wire
//! shows) and the socket analyzers (what sock_diag shows): when the kernel gives up
//! on a SYN or on unacknowledged data. Pure functions; the sources are the kernel's
//! tcp_write_timeout(), retransmits_timed_out() and tcp_model_timeout().

/// TCP_TIMEOUT_INIT: a SYN's first retransmission timeout, and the base of the
/// SYN_SENT time bound.
pub const SYN_RTO_S: f64 = 1.0;
/// TCP_RTO_MIN: the base of the tcp_retries2 time bound.
pub const RTO_MIN_S: f64 = 0.2;

/// The retransmission timer's intervals up to the expiry at which the kernel gives
/// up (tcp_write_timeout): the first is `first`; after each retransmission it
/// doubles up to the 120 s cap, except that a SYN's first `linear` retransmissions
/// keep it (net.ipv4.tcp_syn_linear_timeouts, Linux 6.x). The kernel gives up at the
/// first expiry, after at least one retransmission, where `max_count`
/// retransmissions were sent (SYN_SENT: tcp_syn_retries + tcp_syn_linear_timeouts)
/// or the time since the first transmission reached tcp_model_timeout(`boundary`,
/// `rto_base`) (retransmits_timed_out). Measured on 6.18: tcp_syn_retries=1 with
/// linear 4 gives up after 3 s (the time bound), not after 5 retransmissions.
pub fn give_up_schedule(
    first: f64,
    linear: u64,
    boundary: u64,
    rto_base: f64,
    max_count: Option<u64>,
) -> Vec<f64> {
    let timeout = model_timeout(boundary, rto_base);
    let mut v = Vec::new();
    let mut rto = first.max(0.001);
    let mut t = 0.0;
    for k in 0..256u64 {
        v.push(rto);
        t += rto;
        if max_count.is_some_and(|m| k >= m) || (k >= 1 && t >= timeout - 1e-9) {
            break;
        }
        // Retransmission number k + 1 is sent; the next interval doubles unless it is
        // one of a SYN's linear ones.
        if k + 1 > linear {
            rto = (rto * 2.0).min(120.0);
        }
    }
    v
}

/// The kernel's tcp_model_timeout(): the time `boundary` retransmissions take when
/// the RTO starts at `rto_base` and doubles up to TCP_RTO_MAX (120 s).
pub fn model_timeout(boundary: u64, rto_base: f64) -> f64 {
    let base_ms = (rto_base * 1000.0).round().max(1.0) as u64;
    let thresh = u64::from((120_000 / base_ms).max(1).ilog2());
    let b = boundary.min(1000);
    if b <= thresh {
        ((2u64 << b) - 1) as f64 * rto_base
    } else {
        ((2u64 << thresh) - 1) as f64 * rto_base + (b - thresh) as f64 * 120.0
    }
}

/// Seconds after the first SYN at which connect() gives up: the first timer expiry,
/// on the SYN schedule (`linear` retries 1 s apart, net.ipv4.tcp_syn_linear_timeouts,
/// then doubling), where `retries + linear` retransmissions were sent or the time
/// bound tcp_model_timeout(`retries`, 1 s) was reached. Measured on 6.18 with linear
/// 4: retries 1 -> 3 s, 2 -> 7 s, 3 -> 19 s; classic (linear 0): 3 -> 15 s.
pub fn syn_give_up_after(retries: u64, linear: u64) -> f64 {
    syn_give_up_after_rto(SYN_RTO_S, retries, linear)
}

/// `syn_give_up_after` with another initial RTO: tcp_timeout_init() is TCP_TIMEOUT_INIT
/// unless a BPF sock_ops program changed it, and it is both the first interval and the
/// base of the time bound (retransmits_timed_out uses it in SYN_SENT).
pub fn syn_give_up_after_rto(initial_rto: f64, retries: u64, linear: u64) -> f64 {
    give_up_schedule(
        initial_rto,
        linear,
        retries,
        initial_rto,
        Some(retries + linear),
    )
    .iter()
    .sum()
}

/// Linux's retransmission time bound for established data (tcp_model_timeout with
/// TCP_RTO_MIN 200 ms and TCP_RTO_MAX 120 s): 924.6 s at tcp_retries2=15.
pub fn retries_timeout(retries: u32) -> f64 {
    model_timeout(u64::from(retries), RTO_MIN_S)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_give_up_matches_measurements() {
        // Measured on 6.18 (tcp_syn_linear_timeouts=4).
        assert_eq!(syn_give_up_after(1, 4), 3.0);
        assert_eq!(syn_give_up_after(2, 4), 7.0);
        assert_eq!(syn_give_up_after(3, 4), 19.0);
        assert_eq!(syn_give_up_after(6, 4), 131.0);
        // Classic schedule 1, 2, 4, 8 s.
        assert_eq!(syn_give_up_after(2, 0), 7.0);
        assert_eq!(syn_give_up_after(3, 0), 15.0);
        assert_eq!(syn_give_up_after(6, 0), 127.0);
        // Beyond 64 s the interval stays at TCP_RTO_MAX.
        assert_eq!(syn_give_up_after(8, 0), 127.0 + 240.0);
        // A 3 s initial RTO (BPF's tcp_timeout_init, or the pre-3.1 default): 3, 6, 12.
        assert_eq!(syn_give_up_after_rto(3.0, 2, 0), 21.0);
        assert_eq!(syn_give_up_after_rto(1.0, 6, 4), 131.0);
    }

    #[test]
    fn model_timeouts() {
        assert!((model_timeout(15, 0.2) - 924.6).abs() < 1e-6);
        assert!((model_timeout(6, 1.0) - 127.0).abs() < 1e-9);
        assert!((model_timeout(8, 1.0) - 367.0).abs() < 1e-9);
    }

    #[test]
    fn retries2_model() {
        assert!((retries_timeout(15) - 924.6).abs() < 1e-6);
        assert!((retries_timeout(3) - 3.0).abs() < 1e-9);
        assert!((retries_timeout(8) - 102.2).abs() < 1e-9);
    }
}
