//! A checked view of a TCP header and a hand-written option walk.
//!
//! The walk skips unknown kinds by their length byte, so TCP-MD5 (19), MPTCP (30)
//! or TFO (34) cannot hide the MSS, window scale or timestamps that follow.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;

    #[inline]
    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }

    /// Each flag's letter in tcpdump's order ("." for ACK).
    pub const TCPDUMP_LETTERS: [(u8, u8); 8] = [
        (Self::SYN, b'S'),
        (Self::FIN, b'F'),
        (Self::RST, b'R'),
        (Self::PSH, b'P'),
        (Self::URG, b'U'),
        (Self::ECE, b'E'),
        (Self::CWR, b'W'),
        (Self::ACK, b'.'),
    ];

    /// tcpdump-style flag string: S, F, R, P, U, E, W, "." for ACK.
    pub fn tcpdump(self) -> String {
        let mut out = Vec::new();
        self.tcpdump_to(&mut out);
        String::from_utf8(out).expect("ASCII")
    }

    /// `tcpdump` appended to a byte buffer (no allocation of its own).
    pub fn tcpdump_to(self, out: &mut Vec<u8>) {
        let start = out.len();
        for (bit, c) in Self::TCPDUMP_LETTERS {
            if self.has(bit) {
                out.push(c);
            }
        }
        if out.len() == start {
            out.extend_from_slice(b"none");
        }
    }
}

/// Options found in one segment. Kinds we do not interpret are recorded in `unknown`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (TSval, TSecr)
    pub timestamps: Option<(u32, u32)>,
    pub sack_blocks: u8,
    /// The first SACK block (left, right edge): with the ACK number it tells a D-SACK
    /// (RFC 2883: below the cumulative ACK, or inside the second block).
    pub sack_first: Option<(u32, u32)>,
    /// The second SACK block, for the "inside the second block" D-SACK form.
    pub sack_second: Option<(u32, u32)>,
    /// Count of options of kinds not listed above (MD5, MPTCP, TFO, experimental...).
    pub unknown: u8,
    /// The option list ended in a malformed option (bad length, cut short).
    pub malformed: bool,
    /// The snaplen cut the option list: options after the cut are unknown (not malformed).
    pub cut: bool,
}

impl TcpOptions {
    /// Whether the SACK blocks report a duplicate (D-SACK, RFC 2883) for an ACK of
    /// `ack`: the first block lies below the cumulative ACK, or inside the second block.
    pub fn dsack(&self, ack: u32) -> bool {
        let Some((l, r)) = self.sack_first else {
            return false;
        };
        let below_ack = r.wrapping_sub(ack) as i32 <= 0 && l != r;
        let inside_second = self.sack_second.is_some_and(|(l2, r2)| {
            l.wrapping_sub(l2) as i32 >= 0 && r2.wrapping_sub(r) as i32 >= 0
        });
        below_ack || inside_second
    }
}

/// Walks an option list. `cut`: the snaplen ended the list early, so an option that
/// runs past the end was cut, not malformed.
pub fn parse_options(mut b: &[u8], cut: bool) -> TcpOptions {
    let mut o = TcpOptions {
        cut,
        ..TcpOptions::default()
    };
    // Linux's layout for every segment after the handshake (NOP, NOP, timestamps):
    // most segments of a capture, read without walking.
    if let [1, 1, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3] = *b {
        o.timestamps = Some((
            u32::from_be_bytes([v0, v1, v2, v3]),
            u32::from_be_bytes([e0, e1, e2, e3]),
        ));
        return o;
    }
    while let Some(&kind) = b.first() {
        match kind {
            0 => break,
            1 => {
                b = &b[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = b.get(1) else {
            o.malformed = !cut;
            break;
        };
        let len = usize::from(len);
        if len < 2 || len > b.len() {
            o.malformed = !(cut && len >= 2);
            break;
        }
        let body = &b[2..len];
        match (kind, body.len()) {
            (2, 2) => o.mss = Some(u16::from_be_bytes([body[0], body[1]])),
            (3, 1) => o.window_scale = Some(body[0]),
            (4, 0) => o.sack_permitted = true,
            (5, n) if n % 8 == 0 => {
                o.sack_blocks = (n / 8) as u8;
                let edge = |at: usize| {
                    u32::from_be_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]])
                };
                if n >= 8 {
                    o.sack_first = Some((edge(0), edge(4)));
                }
                if n >= 16 {
                    o.sack_second = Some((edge(8), edge(12)));
                }
            }
            (8, 8) => {
                let val = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                let ecr = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                o.timestamps = Some((val, ecr));
            }
            _ => o.unknown = o.unknown.saturating_add(1),
        }
        b = &b[len..];
    }
    o
}

#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// Raw (unscaled) window field.
    pub window: u16,
    pub header_len: u8,
    pub options: &'a [u8],
    /// Payload bytes that were on the wire (from the IP length).
    pub payload_len: u32,
    /// Payload bytes we have (fewer when the snaplen cut the packet).
    pub payload: &'a [u8],
    /// The snaplen cut the TCP options: `options` holds only what was captured.
    pub options_cut: bool,
}

impl TcpSegment<'_> {
    pub fn truncated(&self) -> bool {
        (self.payload.len() as u32) < self.payload_len || self.options_cut
    }
}

/// `bytes` is the captured TCP header and payload; `on_wire` their length on the wire.
/// A snaplen that cuts the options (tcpdump's old 68 bytes, appliances' 64-96) still
/// gives the fixed 20-byte header: the segment decodes with `options_cut` set.
#[inline(always)]
pub fn parse(bytes: &[u8], on_wire: usize) -> Result<TcpSegment<'_>, &'static str> {
    if bytes.len() < 20 {
        return Err("TCP header cut short");
    }
    let header_len = usize::from(bytes[12] >> 4) * 4;
    if header_len < 20 {
        return Err("TCP data offset below 5");
    }
    let options_cut = bytes.len() < header_len;
    let captured_header = header_len.min(bytes.len());
    let be32 =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Ok(TcpSegment {
        src_port: u16::from_be_bytes([bytes[0], bytes[1]]),
        dst_port: u16::from_be_bytes([bytes[2], bytes[3]]),
        seq: be32(4),
        ack: be32(8),
        flags: TcpFlags(bytes[13]),
        window: u16::from_be_bytes([bytes[14], bytes[15]]),
        header_len: header_len as u8,
        options: &bytes[20..captured_header],
        payload_len: on_wire.saturating_sub(header_len) as u32,
        payload: &bytes[captured_header..],
        options_cut,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A Linux SYN's options: MSS 1460, SACK-permitted, timestamps, NOP, wscale 7.
    const LINUX_SYN_OPTS: [u8; 20] = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 3, 3, 7,
    ];

    #[test]
    fn linux_syn_options() {
        let o = parse_options(&LINUX_SYN_OPTS, false);
        assert_eq!(o.mss, Some(1460));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((0x1000, 0)));
        assert_eq!(o.window_scale, Some(7));
        assert_eq!(o.unknown, 0);
        assert!(!o.malformed);
    }

    #[test]
    fn unknown_kinds_do_not_hide_the_rest() {
        // TCP-MD5 (19, len 18) first, then MPTCP (30, len 4), then MSS and wscale.
        let mut opts = vec![19, 18];
        opts.extend_from_slice(&[0xab; 16]);
        opts.extend_from_slice(&[30, 4, 0, 0, 2, 4, 0x23, 0x28, 1, 3, 3, 2]);
        let o = parse_options(&opts, false);
        assert_eq!(o.unknown, 2);
        assert_eq!(o.mss, Some(9000));
        assert_eq!(o.window_scale, Some(2));
    }

    #[test]
    fn malformed_lengths_stop_safely() {
        assert!(parse_options(&[2, 0, 5, 180], false).malformed);
        assert!(parse_options(&[2, 40, 5, 180], false).malformed);
        assert!(parse_options(&[8], false).malformed);
        assert_eq!(parse_options(&[0, 2, 4, 5, 180], false).mss, None);
    }

    #[test]
    fn options_cut_by_the_snaplen() {
        // A Linux SYN at snaplen 68 on Ethernet: 14 of its 20 option bytes captured.
        let o = parse_options(&LINUX_SYN_OPTS[..14], true);
        assert_eq!(o.mss, Some(1460));
        assert!(o.sack_permitted);
        assert_eq!((o.timestamps, o.window_scale), (None, None));
        assert!(o.cut && !o.malformed);
    }

    #[test]
    fn dsack_forms() {
        let sack = |first: (u32, u32), second: Option<(u32, u32)>| TcpOptions {
            sack_first: Some(first),
            sack_second: second,
            ..TcpOptions::default()
        };
        // The first block below the cumulative ACK: data received twice.
        assert!(sack((1000, 1100), None).dsack(1100));
        // An ordinary SACK above the ACK is not one.
        assert!(!sack((2000, 2100), None).dsack(1100));
        // Inside the second block (RFC 2883 section 4.2).
        assert!(sack((2000, 2100), Some((1900, 2300))).dsack(1100));
        // Wrap-around of the sequence space.
        assert!(sack((u32::MAX - 10, 5), None).dsack(5));
        assert!(!TcpOptions::default().dsack(5));
    }

    #[test]
    fn header_checks() {
        assert!(parse(&[0u8; 19], 19).is_err());
        let mut h = [0u8; 20];
        h[12] = 0x40; // data offset 4: invalid
        assert!(parse(&h, 20).is_err());
        h[12] = 0x60; // data offset 6 but only 20 bytes captured: the options were cut
        let cut = parse(&h, 24).unwrap();
        assert!(cut.options_cut && cut.truncated() && cut.options.is_empty());
        h[12] = 0x50;
        h[13] = 0x12;
        let s = parse(&h, 120).unwrap();
        assert!(s.flags.syn() && s.flags.ack());
        assert_eq!(s.payload_len, 100);
        assert_eq!(s.flags.tcpdump(), "S.");
    }
}
