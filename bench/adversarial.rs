//! Adversarial inputs for the memory budget (bench/memory.sh): well-formed pcaps
//! (Ethernet, correct lengths; checksums are not computed, tcpdiag does not check
//! them) built to hold as much state as possible at once.
//!
//! Usage:
//!   adversarial concurrent FLOWS SEGMENTS OUT.pcap   FLOWS connections open at once,
//!       each sending SEGMENTS data segments and a retransmission of each (events no
//!       timeline can collapse), interleaved round-robin, then closed
//!   adversarial flood N v4|v6 OUT.pcap               N SYNs from N distinct sources
//!   adversarial tuples N OUT.pcap                    N short connections one after
//!       another, every one from another client address (flow table churn, host
//!       profiles, TIME_WAIT pairs, remembered 4-tuples)

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::IpAddr;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
    let result = match args.get(1).map(String::as_str) {
        Some("concurrent") => match (num(2), num(3), args.get(4)) {
            (Some(f), Some(s), Some(out)) => concurrent(f, s as u32, out),
            _ => usage(),
        },
        Some("flood") => match (num(2), args.get(3), args.get(4)) {
            (Some(n), Some(v), Some(out)) => flood(n, v == "v6", out),
            _ => usage(),
        },
        Some("tuples") => match (num(2), args.get(3)) {
            (Some(n), Some(out)) => tuples(n, out),
            _ => usage(),
        },
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("adversarial: {e}");
        std::process::exit(2);
    }
}

fn usage() -> std::io::Result<()> {
    eprintln!(
        "usage: adversarial concurrent FLOWS SEGMENTS OUT.pcap | flood N v4|v6 OUT.pcap | tuples N OUT.pcap"
    );
    std::process::exit(2);
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

/// A pcap writer with a running clock (microsecond records).
struct Out {
    w: BufWriter<File>,
    us: u64,
    frames: u64,
}

impl Out {
    fn create(path: &str) -> std::io::Result<Out> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
        w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        w.write_all(&2u16.to_le_bytes())?;
        w.write_all(&4u16.to_le_bytes())?;
        w.write_all(&[0u8; 8])?;
        w.write_all(&96u32.to_le_bytes())?; // snaplen: headers only
        w.write_all(&1u32.to_le_bytes())?;
        Ok(Out {
            w,
            us: 1_700_000_000 * 1_000_000,
            frames: 0,
        })
    }

    /// One TCP segment `src:sport -> dst:dport` with `len` payload bytes on the wire
    /// (captured: headers only), `gap_us` after the previous frame.
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        gap_us: u64,
        src: IpAddr,
        dst: IpAddr,
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
        len: u16,
    ) -> std::io::Result<()> {
        self.us += gap_us;
        let v6 = src.is_ipv6();
        let ip_len = if v6 { 40 } else { 20 };
        let opts: &[u8] = if flags & SYN != 0 {
            &[2, 4, 0x05, 0xb4, 4, 2, 1, 1, 1, 3, 3, 7]
        } else {
            &[]
        };
        let tcp_len = 20 + opts.len();
        let mut f = Vec::with_capacity(14 + ip_len + tcp_len);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x0a]);
        f.extend_from_slice(&(if v6 { 0x86ddu16 } else { 0x0800 }).to_be_bytes());
        let on_wire = tcp_len + usize::from(len);
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                f.push(0x45);
                f.push(0);
                f.extend_from_slice(&((20 + on_wire) as u16).to_be_bytes());
                f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                f.extend_from_slice(&[0x60, 0, 0, 0]);
                f.extend_from_slice(&(on_wire as u16).to_be_bytes());
                f.extend_from_slice(&[6, 64]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
            _ => unreachable!("one family per segment"),
        }
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.push(((tcp_len / 4) as u8) << 4);
        f.push(flags);
        f.extend_from_slice(&502u16.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend_from_slice(opts);
        let wire = f.len() + usize::from(len);
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((self.us / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((self.us % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&(f.len() as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&(wire as u32).to_le_bytes());
        self.w.write_all(&rec)?;
        self.w.write_all(&f)?;
        self.frames += 1;
        Ok(())
    }

    fn done(mut self, what: &str, path: &str) -> std::io::Result<()> {
        self.w.flush()?;
        eprintln!(
            "adversarial: wrote {} frames ({what}) to {path}",
            self.frames
        );
        Ok(())
    }
}

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(n.into())
}

/// Client `i`'s address and port: 198.18.0.0/15, ports 1024-65023.
fn client(i: u64, v6: bool) -> (IpAddr, u16) {
    let host = (i / 64_000) as u32;
    let port = 1024 + (i % 64_000) as u16;
    if v6 {
        let a: u128 = (0x2001_0db8u128 << 96) | (u128::from(host) << 16) | 1;
        (IpAddr::V6(a.into()), port)
    } else {
        (v4(0xc612_0000 | (host & 0x1_ffff)), port)
    }
}

const SERVER: u32 = 0xc000_0201; // 192.0.2.1

fn concurrent(flows: u64, segments: u32, path: &str) -> std::io::Result<()> {
    let mut o = Out::create(path)?;
    let server = v4(SERVER);
    let seg = 1448u16;
    for i in 0..flows {
        let (c, p) = client(i, false);
        o.tcp(1, c, server, p, 80, SYN, 1000, 0, 0)?;
        o.tcp(1, server, c, 80, p, SYN | ACK, 5000, 1001, 0)?;
        o.tcp(1, c, server, p, 80, ACK, 1001, 5001, 0)?;
    }
    // Round after round every flow sends its next segment and resends it (a
    // retransmission is a timeline event of its own), so all flows grow at once.
    for k in 0..segments {
        let seq = 5001 + k * u32::from(seg);
        for i in 0..flows {
            let (c, p) = client(i, false);
            o.tcp(1, server, c, 80, p, ACK | PSH, seq, 1001, seg)?;
            o.tcp(1, server, c, 80, p, ACK | PSH, seq, 1001, seg)?;
        }
    }
    let end = 5001 + segments * u32::from(seg);
    for i in 0..flows {
        let (c, p) = client(i, false);
        o.tcp(1, c, server, p, 80, ACK, 1001, end, 0)?;
        o.tcp(1, server, c, 80, p, FIN | ACK, end, 1001, 0)?;
        o.tcp(1, c, server, p, 80, FIN | ACK, 1001, end + 1, 0)?;
        o.tcp(1, server, c, 80, p, ACK, end + 1, 1002, 0)?;
    }
    o.done("concurrent flows", path)
}

fn flood(n: u64, v6: bool, path: &str) -> std::io::Result<()> {
    let mut o = Out::create(path)?;
    let server = if v6 {
        IpAddr::V6(((0x2001_0db8u128 << 96) | 0x80).into())
    } else {
        v4(SERVER)
    };
    for i in 0..n {
        let (c, p) = client(i, v6);
        o.tcp(
            10,
            c,
            server,
            p,
            80,
            SYN,
            (i as u32).wrapping_mul(2_654_435_761),
            0,
            0,
        )?;
    }
    o.done(
        if v6 {
            "IPv6 SYN flood"
        } else {
            "IPv4 SYN flood"
        },
        path,
    )
}

fn tuples(n: u64, path: &str) -> std::io::Result<()> {
    let mut o = Out::create(path)?;
    let server = v4(SERVER);
    for i in 0..n {
        // Every connection from another client address.
        let c = v4(0x0a00_0000 | (i as u32 & 0x00ff_ffff));
        let p = 40000 + (i % 20000) as u16;
        o.tcp(20, c, server, p, 80, SYN, 1000, 0, 0)?;
        o.tcp(20, server, c, 80, p, SYN | ACK, 5000, 1001, 0)?;
        o.tcp(20, c, server, p, 80, ACK | PSH, 1001, 5001, 100)?;
        o.tcp(20, server, c, 80, p, ACK | PSH, 5001, 1101, 500)?;
        o.tcp(20, c, server, p, 80, FIN | ACK, 1101, 5501, 0)?;
        o.tcp(20, server, c, 80, p, FIN | ACK, 5501, 1102, 0)?;
        o.tcp(20, c, server, p, 80, ACK, 1102, 5502, 0)?;
    }
    o.done("short connections", path)
}
