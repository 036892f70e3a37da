//! Per-segment analysis flags, named after Wireshark's `tcp.analysis.*` so a user
//! can cross-check a frame in both tools. One deliberate difference: Linux sends
//! zero-window probes as 0-byte segments at snd_una - 1, exactly like keep-alives;
//! Wireshark calls both "Keep-Alive", we call it a probe when the peer's last
//! advertised window was zero.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Analysis(pub u32);

macro_rules! analysis_flags {
    ($($name:ident = $bit:expr, $label:expr, $ws:expr;)*) => {
        impl Analysis {
            $(pub const $name: u32 = 1 << $bit;)*
            /// (flag, our label, Wireshark field name)
            pub const ALL: &'static [(u32, &'static str, &'static str)] = &[
                $((Self::$name, $label, $ws),)*
            ];
        }
    };
}

analysis_flags! {
    RETRANSMISSION = 0, "retransmission", "tcp.analysis.retransmission";
    FAST_RETRANSMISSION = 1, "fast retransmission", "tcp.analysis.fast_retransmission";
    SPURIOUS_RETRANSMISSION = 2, "spurious retransmission", "tcp.analysis.spurious_retransmission";
    OUT_OF_ORDER = 3, "out-of-order", "tcp.analysis.out_of_order";
    LOST_SEGMENT = 4, "previous segment not captured", "tcp.analysis.lost_segment";
    ACKED_UNSEEN = 5, "ACKed unseen segment", "tcp.analysis.ack_lost_segment";
    DUP_ACK = 6, "dup ACK", "tcp.analysis.duplicate_ack";
    ZERO_WINDOW = 7, "zero window", "tcp.analysis.zero_window";
    WINDOW_UPDATE = 8, "window update", "tcp.analysis.window_update";
    WINDOW_FULL = 9, "window full", "tcp.analysis.window_full";
    KEEP_ALIVE = 10, "keep-alive", "tcp.analysis.keep_alive";
    KEEP_ALIVE_ACK = 11, "keep-alive ACK", "tcp.analysis.keep_alive_ack";
    ZERO_WINDOW_PROBE = 12, "zero window probe", "tcp.analysis.zero_window_probe";
    ZERO_WINDOW_PROBE_ACK = 13, "zero window probe ACK", "tcp.analysis.zero_window_probe_ack";
    REUSED_PORTS = 14, "port numbers reused", "tcp.analysis.reused_ports";
    TRUNCATED = 15, "payload cut by snaplen", "frame.cap_len < frame.len";
}

impl Analysis {
    #[inline]
    pub fn has(self, f: u32) -> bool {
        self.0 & f != 0
    }
    #[inline]
    pub fn set(&mut self, f: u32) {
        self.0 |= f;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn is_retransmission(self) -> bool {
        self.has(Self::RETRANSMISSION | Self::FAST_RETRANSMISSION | Self::SPURIOUS_RETRANSMISSION)
    }
    /// Flags worth a timeline event of their own (truncation alone is not).
    pub fn notable(self) -> bool {
        self.0 & !Self::TRUNCATED != 0
    }
    pub fn labels(self) -> impl Iterator<Item = &'static str> {
        Self::ALL
            .iter()
            .filter(move |(f, _, _)| self.has(*f))
            .map(|(_, label, _)| *label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_bits() {
        let mut a = Analysis::default();
        assert!(a.is_empty());
        a.set(Analysis::DUP_ACK);
        a.set(Analysis::TRUNCATED);
        assert!(a.notable());
        assert_eq!(
            a.labels().collect::<Vec<_>>(),
            vec!["dup ACK", "payload cut by snaplen"]
        );
        let t = Analysis(Analysis::TRUNCATED);
        assert!(!t.notable());
        assert!(Analysis(Analysis::FAST_RETRANSMISSION).is_retransmission());
    }
}
