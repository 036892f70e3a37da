//! Opens a capture input (a file, or "-" for standard input) as a byte stream and
//! tells what it holds from its first bytes, never from its name: classic pcap,
//! pcapng, or either of them compressed with gzip or zstd (what tshark reads; the
//! stream is decompressed as it is read, standard input included).

use std::io::{self, Cursor, Read};

/// The container format inside any compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

/// An opened input, positioned at its first byte (the sniffed bytes are replayed).
pub struct Input {
    pub format: Format,
    /// "gzip" or "zstd" when the file was compressed.
    pub compression: Option<&'static str>,
    pub reader: Box<dyn Read + Send>,
}

/// Classic pcap magics as read little-endian (both byte orders, microsecond,
/// nanosecond, and the "modified" pcap of some old Linux tcpdumps).
const PCAP_MAGICS: [u32; 6] = [
    0xa1b2_c3d4,
    0xd4c3_b2a1,
    0xa1b2_3c4d,
    0x4d3c_b2a1,
    0xa1b2_cd34,
    0x34cd_b2a1,
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Opens `path` ("-": standard input). The error is phrased for the one-line message.
pub fn open(path: &str) -> Result<Input, String> {
    let reader: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err("cannot open: Is a directory".into());
        }
        Box::new(file)
    };
    sniff(reader)
}

/// Tells the format of a stream from its first bytes, undoing one compression.
pub fn sniff(reader: Box<dyn Read + Send>) -> Result<Input, String> {
    let (head, reader) = peek(reader, 4).map_err(|e| format!("cannot read: {e}"))?;
    if head.is_empty() {
        return Err("empty file (not a pcap or pcapng capture)".into());
    }
    let (compression, head, reader): (_, _, Box<dyn Read + Send>) = if head.starts_with(&GZIP_MAGIC)
    {
        let gz = Labelled {
            inner: flate2::read::MultiGzDecoder::new(reader),
            what: "gzip",
        };
        let (head, r) = peek(Box::new(gz), 4).map_err(|e| e.to_string())?;
        (Some("gzip"), head, r)
    } else if head.starts_with(&ZSTD_MAGIC) {
        let zd =
            zstd::stream::read::Decoder::new(reader).map_err(|e| format!("zstd stream: {e}"))?;
        let zd = Labelled {
            inner: zd,
            what: "zstd",
        };
        let (head, r) = peek(Box::new(zd), 4).map_err(|e| e.to_string())?;
        (Some("zstd"), head, r)
    } else {
        (None, head, reader)
    };
    let inside = |what: &str| match compression {
        Some(c) => format!("{what} (inside {c} compression)"),
        None => what.to_string(),
    };
    if head.len() < 4 {
        return Err(inside("too short to be a pcap or pcapng capture"));
    }
    let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let format = if PCAP_MAGICS.contains(&magic) {
        Format::Pcap
    } else if head == PCAPNG_MAGIC {
        Format::Pcapng
    } else if let Some(name) = other_compression(&head) {
        return Err(format!(
            "{name}-compressed: only gzip and zstd are read; decompress it first"
        ));
    } else {
        let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
        return Err(inside(&format!(
            "unknown file format: not pcap or pcapng (starts with {})",
            hex.join(" ")
        )));
    };
    Ok(Input {
        format,
        compression,
        reader,
    })
}

/// Whether the file at `path` starts with a gzip or zstd magic (its size then says
/// nothing about how much capture it holds).
pub fn is_compressed(path: &str) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head.starts_with(&GZIP_MAGIC) || head == ZSTD_MAGIC)
}

/// Compressions tshark may read but this does not: named so the error helps.
fn other_compression(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xfd, b'7', b'z', b'X']) {
        Some("xz")
    } else if head.starts_with(b"BZh") {
        Some("bzip2")
    } else if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        Some("lz4")
    } else {
        None
    }
}

/// Reads up to `n` bytes (fewer only at the end of the stream) and returns them with
/// a reader that yields them again, then the rest.
fn peek(mut reader: Box<dyn Read + Send>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    let again = Cursor::new(head.clone()).chain(reader);
    Ok((head, Box::new(again)))
}

/// A decompressor whose errors say which compression failed ("gzip stream: ...").
struct Labelled<R> {
    inner: R,
    what: &'static str,
}

impl<R: Read> Read for Labelled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let kind = e.kind();
            let text = if kind == io::ErrorKind::UnexpectedEof {
                "the compressed data ends early (file cut short)".to_string()
            } else {
                e.to_string()
            };
            io::Error::new(kind, format!("{} stream: {text}", self.what))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sniffed(bytes: Vec<u8>) -> Result<(Format, Option<&'static str>, Vec<u8>), String> {
        let mut input = sniff(Box::new(Cursor::new(bytes)))?;
        let mut all = Vec::new();
        input
            .reader
            .read_to_end(&mut all)
            .map_err(|e| e.to_string())?;
        Ok((input.format, input.compression, all))
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    const PCAP_HEAD: [u8; 8] = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    const PCAPNG_HEAD: [u8; 8] = [0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0];

    #[test]
    fn plain_formats_by_magic_and_bytes_replayed() {
        assert_eq!(
            sniffed(PCAP_HEAD.to_vec()).unwrap(),
            (Format::Pcap, None, PCAP_HEAD.to_vec())
        );
        assert_eq!(
            sniffed(PCAPNG_HEAD.to_vec()).unwrap(),
            (Format::Pcapng, None, PCAPNG_HEAD.to_vec())
        );
    }

    #[test]
    fn gzip_and_zstd_are_undone() {
        assert_eq!(
            sniffed(gzip(&PCAPNG_HEAD)).unwrap(),
            (Format::Pcapng, Some("gzip"), PCAPNG_HEAD.to_vec())
        );
        // Two gzip members back to back (cat a.gz b.gz) are one stream.
        let mut two = gzip(&PCAP_HEAD[..3]);
        two.extend(gzip(&PCAP_HEAD[3..]));
        assert_eq!(
            sniffed(two).unwrap(),
            (Format::Pcap, Some("gzip"), PCAP_HEAD.to_vec())
        );
        let z = zstd::encode_all(&PCAP_HEAD[..], 1).unwrap();
        assert_eq!(
            sniffed(z).unwrap(),
            (Format::Pcap, Some("zstd"), PCAP_HEAD.to_vec())
        );
    }

    #[test]
    fn a_cut_compressed_stream_is_an_error_that_says_so() {
        let data: Vec<u8> = PCAP_HEAD.iter().cycle().take(10_000).copied().collect();
        let gz = gzip(&data);
        let err = sniffed(gz[..gz.len() / 2].to_vec()).unwrap_err();
        assert!(err.starts_with("gzip stream: "), "{err}");
        let z = zstd::encode_all(&data[..], 1).unwrap();
        let err = sniffed(z[..z.len() - 3].to_vec()).unwrap_err();
        assert!(err.starts_with("zstd stream: "), "{err}");
    }

    #[test]
    fn anything_else_is_named_not_guessed() {
        let e = sniffed(Vec::new()).unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = sniffed(b"GET / HTTP/1.1".to_vec()).unwrap_err();
        assert!(
            e.contains("unknown file format") && e.contains("47 45 54 20"),
            "{e}"
        );
        let e = sniffed(gzip(b"hello world")).unwrap_err();
        assert!(e.contains("inside gzip"), "{e}");
        let e = sniffed(vec![0xfd, b'7', b'z', b'X', b'Z', 0]).unwrap_err();
        assert!(e.starts_with("xz-compressed"), "{e}");
        let e = sniffed(vec![0xd4, 0xc3]).unwrap_err();
        assert!(e.contains("too short"), "{e}");
    }
}
