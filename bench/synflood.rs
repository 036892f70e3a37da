//! Benchmark corpus tool: writes a pcap (Ethernet) of N TCP SYNs, as a flood looks at the
//! attacked server: every SYN from a distinct source address/port pair (198.18.0.0/15, the
//! benchmarking range) to 192.0.2.1:80, 10 µs apart, with Linux's usual SYN options, and no
//! answers. Checksums are correct.
//!
//! Usage: synflood N OUT.pcap

use std::fs::File;
use std::io::{BufWriter, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(n), Some(out)) = (args.get(1).and_then(|s| s.parse::<u32>().ok()), args.get(2))
    else {
        eprintln!("usage: synflood N OUT.pcap");
        std::process::exit(2);
    };
    if let Err(e) = write(n, out) {
        eprintln!("synflood: {e}");
        std::process::exit(2);
    }
}

fn write(n: u32, out: &str) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(out)?);
    // pcap header: microseconds, snaplen 128, Ethernet.
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&[0u8; 8])?;
    w.write_all(&128u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;
    let start_us: u64 = 1_700_000_000 * 1_000_000;
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..n {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let src = 0xc612_0000u32 | (i & 0x1_ffff); // 198.18.0.0/15
        let sport = 1024 + (i >> 17) as u16 * 4099 % 60000 + (rng as u16 & 0x3);
        let frame = syn(src, sport, rng as u32, (rng >> 32) as u32);
        let us = start_us + u64::from(i) * 10;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        rec[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        rec[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        w.write_all(&rec)?;
        w.write_all(&frame)?;
    }
    w.flush()?;
    eprintln!("synflood: wrote {n} SYNs to {out}");
    Ok(())
}

fn syn(src: u32, sport: u16, isn: u32, tsval: u32) -> [u8; 74] {
    let dst = 0xc000_0201u32; // 192.0.2.1
    let mut f = [0u8; 74];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0a]);
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = 14;
    f[ip] = 0x45;
    f[ip + 2..ip + 4].copy_from_slice(&60u16.to_be_bytes());
    f[ip + 6] = 0x40; // DF
    f[ip + 8] = 64;
    f[ip + 9] = 6;
    f[ip + 12..ip + 16].copy_from_slice(&src.to_be_bytes());
    f[ip + 16..ip + 20].copy_from_slice(&dst.to_be_bytes());
    let c = checksum(0, &f[ip..ip + 20]);
    f[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
    let t = ip + 20;
    f[t..t + 2].copy_from_slice(&sport.to_be_bytes());
    f[t + 2..t + 4].copy_from_slice(&80u16.to_be_bytes());
    f[t + 4..t + 8].copy_from_slice(&isn.to_be_bytes());
    f[t + 12] = 10 << 4; // 40-byte header
    f[t + 13] = 0x02; // SYN
    f[t + 14..t + 16].copy_from_slice(&64240u16.to_be_bytes());
    // MSS 1460, SACK permitted, timestamps, NOP, window scale 7
    let opts: [u8; 20] = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    f[t + 20..t + 40].copy_from_slice(&opts);
    f[t + 28..t + 32].copy_from_slice(&tsval.to_be_bytes());
    let mut pseudo = 0u32;
    for w in [src >> 16, src & 0xffff, dst >> 16, dst & 0xffff, 6, 40] {
        pseudo += w;
    }
    let c = checksum(pseudo, &f[t..t + 40]);
    f[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
    f
}

fn checksum(mut sum: u32, data: &[u8]) -> u16 {
    for pair in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
