//! One memory budget for the whole process (`--memory-limit`). Each part of the
//! pipeline that holds memory in proportion to its input reports what it holds
//! (estimated from capacities, with the allocator's per-block overhead): the flow
//! table's live connections and remembered 4-tuples, finished connections waiting
//! for the analyzer thread, the capture context (DNS), the capture-wide trackers
//! and the findings kept for the report, and the output sink. The process's own
//! resident memory at the start (code, libraries, libpcap and read buffers) is the
//! baseline. The flow table enforces the total: past the limit it first drops the
//! stored timeline events of the least recently active flows (their counters and
//! findings stay), then finishes the least recently active flows early. What is
//! detected never depends on it: the analyzers read running counters, not timelines.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A part of the process that holds memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Live connections in the flow table.
    Flows = 0,
    /// Finished connections remembered by 4-tuple (TIME_WAIT reuse), the close queue.
    Recent,
    /// Finished connections on their way to the analyzer thread.
    Pending,
    /// DNS records and listener polls the analyzers consult.
    Context,
    /// Capture-wide trackers and the findings kept for the report.
    Trackers,
    /// What the output sink keeps until the end (table rows).
    Output,
    /// The decoder's recent packets (`-i any` copies) and tunnel identities.
    Decode,
}

const PARTS: usize = 7;

impl Part {
    pub const ALL: [Part; PARTS] = [
        Part::Flows,
        Part::Recent,
        Part::Pending,
        Part::Context,
        Part::Trackers,
        Part::Output,
        Part::Decode,
    ];

    /// The part's key in `summary.memory.parts_at_peak`.
    pub fn name(self) -> &'static str {
        match self {
            Part::Flows => "flows",
            Part::Recent => "recent_tuples",
            Part::Pending => "pending",
            Part::Context => "context",
            Part::Trackers => "trackers",
            Part::Output => "output",
            Part::Decode => "decode",
        }
    }
}

/// The share of the limit in use from which the table sheds and findings are no
/// longer kept for the top-level list.
pub const CROWDED: f64 = 0.85;

/// The limit the fixed bounds of the tables that are never shed (remembered 4-tuples,
/// capture-wide trackers, DNS records) are chosen for: `--memory-limit`'s default.
pub const DEFAULT_LIMIT: usize = 256 << 20;

/// Such a table's bound under `limit`: its default at the default limit and above,
/// proportionally less below it (never under 1/64 of it), so those tables take the
/// same share of any limit and the flow table, which sheds, keeps the rest.
pub fn scaled_cap(default: usize, limit: usize) -> usize {
    let share = (limit as f64 / DEFAULT_LIMIT as f64).min(1.0);
    ((default as f64 * share) as usize).max(default / 64).max(1)
}

/// Per heap block, what glibc's malloc adds (header and rounding to 16 bytes).
pub const BLOCK_OVERHEAD: usize = 16;

/// Heap bytes of a Vec's buffer, with its block's overhead (none when unallocated).
pub fn vec_bytes<T>(v: &Vec<T>) -> usize {
    match v.capacity() {
        0 => 0,
        n => n * std::mem::size_of::<T>() + BLOCK_OVERHEAD,
    }
}

/// Heap bytes of a hash table of `capacity` entries of `entry` bytes (hashbrown:
/// one control byte per bucket, buckets a power of two above capacity / 7 * 8).
pub fn table_bytes(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = (capacity * 8 / 7).next_power_of_two();
    buckets * (entry + 1) + BLOCK_OVERHEAD
}

#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    /// Resident memory when the run started.
    baseline: usize,
    parts: [AtomicUsize; PARTS],
    peak: AtomicUsize,
    /// The allocator's counts at the last measure: in use, and held from the system.
    heap_in_use: AtomicUsize,
    heap_held: AtomicUsize,
    peak_held: AtomicUsize,
    /// In use by the allocator's count over the parts' estimate at the last measure
    /// (f64 bits): scales the estimate between measures.
    ratio: AtomicU64,
    /// Each part's bytes when the peak in use was recorded.
    parts_at_peak: [AtomicUsize; PARTS],
    /// What the flow table did to stay under the limit.
    pub timelines_shed: AtomicU64,
    pub events_shed: AtomicU64,
    pub flows_finished_early: AtomicU64,
    /// Closed connections finished before their close linger ran out (harmless:
    /// they had ended; only a very late segment would start a new flow).
    pub lingers_cut: AtomicU64,
    /// The first time the limit was reached (epoch nanoseconds of capture time).
    pub first_reached_ns: AtomicU64,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            limit,
            baseline: resident_bytes().unwrap_or(0),
            parts: Default::default(),
            peak: AtomicUsize::new(0),
            parts_at_peak: Default::default(),
            heap_in_use: AtomicUsize::new(0),
            heap_held: AtomicUsize::new(0),
            peak_held: AtomicUsize::new(0),
            ratio: AtomicU64::new(1f64.to_bits()),
            timelines_shed: AtomicU64::new(0),
            events_shed: AtomicU64::new(0),
            flows_finished_early: AtomicU64::new(0),
            lingers_cut: AtomicU64::new(0),
            first_reached_ns: AtomicU64::new(0),
        }
    }

    /// No limit (tests, benchmarks of other parts).
    pub fn unlimited() -> MemoryBudget {
        MemoryBudget::new(usize::MAX)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn baseline(&self) -> usize {
        self.baseline
    }

    /// `part` now holds `bytes`.
    pub fn set(&self, part: Part, bytes: usize) {
        self.parts[part as usize].store(bytes, Ordering::Relaxed);
    }

    pub fn add(&self, part: Part, bytes: usize) {
        self.parts[part as usize].fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn sub(&self, part: Part, bytes: usize) {
        // Never below zero, whatever the estimates' rounding.
        let _ = self.parts[part as usize].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(bytes))
        });
    }

    pub fn part(&self, part: Part) -> usize {
        self.parts[part as usize].load(Ordering::Relaxed)
    }

    /// Everything the parts account for, the baseline included.
    pub fn total(&self) -> usize {
        self.baseline + self.parts_sum()
    }

    fn parts_sum(&self) -> usize {
        self.parts
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .sum::<usize>()
    }

    /// In use by the parts' estimate scaled to the allocator's count at the last
    /// measure: what the estimates miss grows with what they count.
    pub fn estimated_in_use(&self) -> usize {
        let ratio = f64::from_bits(self.ratio.load(Ordering::Relaxed)).max(1.0);
        self.baseline + (self.parts_sum() as f64 * ratio) as usize
    }

    /// Reads the allocator's own counts (cheap, but not free: a walk of its free
    /// lists): what the estimates miss (fragmentation, buffers, the other thread's
    /// short-lived allocations) is in them.
    pub fn measure(&self) {
        if let Some((in_use, _)) = heap() {
            self.heap_in_use.store(in_use, Ordering::Relaxed);
            let parts = self.parts_sum();
            if parts > (1 << 20) {
                let r = (in_use as f64 / parts as f64).clamp(1.0, 4.0);
                self.ratio.store(r.to_bits(), Ordering::Relaxed);
            }
        }
        self.measure_resident();
        let in_use = self.in_use();
        if self.peak.fetch_max(in_use, Ordering::Relaxed) < in_use {
            for (at_peak, now) in self.parts_at_peak.iter().zip(&self.parts) {
                at_peak.store(now.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
    }

    /// Each part's estimate (unscaled) when the peak in use was measured, by name.
    pub fn parts_at_peak(&self) -> Vec<(&'static str, usize)> {
        Part::ALL
            .iter()
            .map(|p| {
                (
                    p.name(),
                    self.parts_at_peak[*p as usize].load(Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// Reads what the process holds: its resident set, in use plus the free chunks
    /// the allocator keeps (those trimmed away no longer count). Cheap (one small
    /// read of /proc), so it runs at every check: the resident set can grow while
    /// the estimate does not (freed chunks reused after a trim fault their pages
    /// back in).
    pub fn measure_resident(&self) {
        if let Some(rss) = resident_bytes() {
            self.heap_held.store(rss, Ordering::Relaxed);
            self.peak_held.fetch_max(rss, Ordering::Relaxed);
        }
    }

    /// Gives the allocator's free pages back to the system (after shedding), so the
    /// resident set follows what is in use. glibc only.
    pub fn trim(&self) {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory the allocator holds; it takes
        // its own locks and touches no memory the program uses.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// Bytes in use now: the scaled estimate or the allocator's last count,
    /// whichever is larger, plus the baseline.
    pub fn in_use(&self) -> usize {
        self.estimated_in_use()
            .max(self.baseline + self.heap_in_use.load(Ordering::Relaxed))
    }

    /// Bytes the process holds: its resident set at the last measure (in use plus
    /// the free chunks the allocator keeps), or what is in use if that is more.
    pub fn held(&self) -> usize {
        self.in_use().max(self.heap_held.load(Ordering::Relaxed))
    }

    /// The most the budget ever counted in use at once (estimates, scaled by and
    /// checked against the allocator's count).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed).max(self.in_use())
    }

    /// The largest resident set seen at a measure.
    pub fn peak_held(&self) -> usize {
        self.peak_held.load(Ordering::Relaxed)
    }

    /// Whether the process holds more than `share` of the limit.
    pub fn above(&self, share: f64) -> bool {
        self.held() as f64 > self.limit as f64 * share
    }

    /// Whether what is in use has reached the share of the limit where the flow
    /// table sheds: other parts then stop adding what they may drop (the findings
    /// kept for the report's top-level list).
    pub fn crowded(&self) -> bool {
        self.in_use() as f64 >= self.limit as f64 * CROWDED
    }

    /// Whether the limit was ever reached (and the table degraded).
    pub fn reached(&self) -> bool {
        self.timelines_shed.load(Ordering::Relaxed) > 0
            || self.flows_finished_early.load(Ordering::Relaxed) > 0
            || self.lingers_cut.load(Ordering::Relaxed) > 0
    }
}

/// Heap bytes of a JSON value (strings, arrays, maps), roughly as serde_json holds it.
pub fn json_bytes(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    match v {
        Value::String(s) => s.capacity() + BLOCK_OVERHEAD,
        Value::Array(a) => {
            a.capacity() * std::mem::size_of::<Value>()
                + BLOCK_OVERHEAD
                + a.iter().map(json_bytes).sum::<usize>()
        }
        Value::Object(m) => map_bytes(m),
        _ => 0,
    }
}

/// Heap bytes of a JSON map (a B-tree: about one node of 11 entries per 8).
pub fn map_bytes(m: &serde_json::Map<String, serde_json::Value>) -> usize {
    let entry = std::mem::size_of::<String>() + std::mem::size_of::<serde_json::Value>();
    m.len() * (entry * 11 / 8)
        + BLOCK_OVERHEAD * (m.len() / 8 + 1)
        + m.iter()
            .map(|(k, v)| k.capacity() + BLOCK_OVERHEAD + json_bytes(v))
            .sum::<usize>()
}

/// The allocator's own count: (bytes in use, bytes of heap it holds from the system:
/// in use plus free chunks it keeps). Summed over every malloc arena. glibc only.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn heap() -> Option<(usize, usize)> {
    // SAFETY: mallinfo2 takes no arguments, only reads the allocator's statistics
    // (under its own locks) and returns them by value.
    let m = unsafe { libc::mallinfo2() };
    Some((m.uordblks + m.hblkhd, m.arena + m.hblkhd))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn heap() -> Option<(usize, usize)> {
    None
}

/// This process's resident set now (/proc/self/statm), in bytes.
pub fn resident_bytes() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The peak resident set of this process so far (VmHWM in /proc/self/status), in
/// bytes. Not getrusage's ru_maxrss: a process started by fork and exec inherits its
/// parent's figure there.
pub fn peak_resident_bytes() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
        .unwrap_or(4096)
}

/// "256M", "1G", "512k", "1000000": a size in bytes (binary multiples).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let unit = s[i..].to_ascii_lowercase();
            let m: usize = match unit.as_str() {
                "k" | "kb" | "kib" => 1 << 10,
                "m" | "mb" | "mib" => 1 << 20,
                "g" | "gb" | "gib" => 1 << 30,
                _ => return Err(format!("bad size unit in '{s}' (use k, M or G)")),
            };
            (&s[..i], m)
        }
        None => (s, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| format!("bad size '{s}'"))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("bad size '{s}'"));
    }
    Ok((n * mult as f64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_tables_take_the_same_share_of_any_limit() {
        assert_eq!(scaled_cap(50_000, DEFAULT_LIMIT), 50_000);
        // A larger limit leaves more to the flow table, not to these.
        assert_eq!(scaled_cap(50_000, 4 * DEFAULT_LIMIT), 50_000);
        assert_eq!(scaled_cap(50_000, DEFAULT_LIMIT / 4), 12_500);
        assert_eq!(scaled_cap(50_000, 1 << 20), 50_000 / 64);
        assert_eq!(scaled_cap(10, 0), 1);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256M").unwrap(), 256 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("-1M").is_err());
    }

    #[test]
    fn parts_add_up_and_the_peak_is_kept() {
        let b = MemoryBudget::new(1 << 20);
        let base = b.total();
        b.set(Part::Flows, 1000);
        b.measure();
        b.add(Part::Pending, 500);
        assert_eq!(b.total(), base + 1500);
        b.sub(Part::Pending, 900);
        assert_eq!(b.part(Part::Pending), 0);
        b.set(Part::Flows, 10);
        assert!(b.peak() >= base + 1000);
        assert!(resident_bytes().unwrap() > 0);
        assert!(peak_resident_bytes().unwrap() > 0);
    }

    #[test]
    fn table_estimate() {
        assert_eq!(table_bytes(0, 40), 0);
        // 100 entries: 128 buckets.
        assert_eq!(table_bytes(100, 40), 128 * 41 + BLOCK_OVERHEAD);
    }
}
