//! Which network namespaces exist on the host, and what they are: the named ones
//! (/run/netns/NAME, as `ip netns` makes them) and those of every process
//! (/proc/PID/ns/net: containers, pods, anything `unshare`d), deduplicated by the
//! namespace's identity (device and inode of the nsfs file), each labelled with its
//! name, its lowest pid and, from that process's cgroup, its container or pod.
//!
//! `Linked` answers whether a namespace is connected to the caller's by a link (a
//! veth or other device whose peer lives there: the containers on a host's bridge),
//! from the namespace ids the kernel assigns for such links (RTM_GETNSID with the
//! namespace's file descriptor, as `ip netns list-id`).

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr as NlAddr};

use super::host::cgroup::container_of_pid;
use crate::model::netns::NetnsLabel;

/// A namespace found by `scan`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundNs {
    pub label: NetnsLabel,
    /// The nsfs device: (dev, inode) is the identity.
    pub dev: u64,
    /// Where to open it.
    pub path: PathBuf,
}

/// (dev, inode) of a namespace file (following /proc's magic links).
fn identity(path: &Path) -> Option<(u64, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino()))
}

/// The namespace of the calling thread.
pub fn current() -> Option<(u64, u64)> {
    identity(Path::new("/proc/thread-self/ns/net"))
}

/// Every network namespace with a name or a process, the named first (by name),
/// then by inode.
pub fn scan() -> Vec<FoundNs> {
    let mut by_id: BTreeMap<(u64, u64), FoundNs> = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/run/netns") {
        for e in dir.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let path = e.path();
            // A stale name whose namespace is gone is not bind-mounted any more:
            // its file is an empty regular file on tmpfs, not nsfs.
            let Some((dev, ino)) = identity(&path).filter(|_| is_nsfs(&path)) else {
                continue;
            };
            by_id.entry((dev, ino)).or_insert(FoundNs {
                label: NetnsLabel {
                    inode: ino,
                    name: Some(name),
                    pid: None,
                    container: None,
                },
                dev,
                path,
            });
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
            let Some((dev, ino)) = identity(&path) else {
                continue;
            };
            let found = by_id.entry((dev, ino)).or_insert(FoundNs {
                label: NetnsLabel {
                    inode: ino,
                    name: None,
                    pid: None,
                    container: None,
                },
                dev,
                path: path.clone(),
            });
            if found.label.pid.is_none_or(|p| pid < p) {
                found.label.pid = Some(pid);
                if found.label.name.is_none() {
                    found.path = path;
                }
            }
        }
    }
    let mut out: Vec<FoundNs> = by_id.into_values().collect();
    for f in &mut out {
        f.label.container = f.label.pid.and_then(container_of_pid);
    }
    out.sort_by(|a, b| {
        (a.label.name.is_none(), &a.label.name, a.label.inode).cmp(&(
            b.label.name.is_none(),
            &b.label.name,
            b.label.inode,
        ))
    });
    out
}

/// NSFS_MAGIC: the file is a namespace, not a leftover mount point.
fn is_nsfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

/// Opens a found namespace and checks it is still the same one (a pid may have
/// exited and been reused by a process elsewhere).
pub fn open(found: &FoundNs) -> Result<File> {
    let f = File::open(&found.path)
        .map_err(|e| anyhow!("cannot open {}: {e}", found.path.display()))?;
    let m = f
        .metadata()
        .map_err(|e| anyhow!("cannot stat {}: {e}", found.path.display()))?;
    if (m.dev(), m.ino()) != (found.dev, found.label.inode) {
        return Err(anyhow!("{} is another namespace now", found.path.display()));
    }
    Ok(f)
}

/// A NETLINK_ROUTE socket in the caller's namespace, asking which namespaces have
/// an id there.
pub struct Linked {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;
const NLMSG_ERROR: u16 = 2;

impl Linked {
    /// Opens the socket in the calling thread's namespace.
    pub fn open() -> Result<Linked> {
        let mut s = Socket::new(NETLINK_ROUTE)
            .map_err(|e| anyhow!("cannot open a route netlink socket: {e}"))?;
        s.bind_auto()
            .map_err(|e| anyhow!("cannot bind the route netlink socket: {e}"))?;
        s.connect(&NlAddr::new(0, 0))
            .map_err(|e| anyhow!("cannot connect the route netlink socket: {e}"))?;
        Ok(Linked {
            sock: s,
            seq: 0,
            buf: Vec::with_capacity(4096),
        })
    }

    /// The id the caller's namespace gives `ns` (None: not linked to it).
    pub fn nsid(&mut self, ns: &File) -> Result<Option<i32>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        self.sock
            .send(&nsid_request(seq, ns.as_raw_fd()), 0)
            .map_err(|e| anyhow!("RTM_GETNSID failed: {e}"))?;
        loop {
            self.buf.clear();
            let n = match self.sock.recv(&mut self.buf, 0) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(anyhow!("reading the RTM_GETNSID reply failed: {e}")),
            };
            match nsid_reply(&self.buf[..n.min(self.buf.len())], seq) {
                Some(r) => return r,
                None => continue,
            }
        }
    }
}

/// nlmsghdr + rtgenmsg (padded to 4) + NETNSA_FD.
fn nsid_request(seq: u32, fd: i32) -> Vec<u8> {
    let mut m = Vec::with_capacity(28);
    m.extend_from_slice(&28u32.to_ne_bytes());
    m.extend_from_slice(&RTM_GETNSID.to_ne_bytes());
    m.extend_from_slice(&1u16.to_ne_bytes()); // NLM_F_REQUEST
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]); // AF_UNSPEC
    m.extend_from_slice(&8u16.to_ne_bytes());
    m.extend_from_slice(&NETNSA_FD.to_ne_bytes());
    m.extend_from_slice(&(fd as u32).to_ne_bytes());
    m
}

/// The answer to request `seq` in one recv(), or None when it is not there.
fn nsid_reply(mut b: &[u8], seq: u32) -> Option<Result<Option<i32>>> {
    while b.len() >= 16 {
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let kind = u16::from_ne_bytes([b[4], b[5]]);
        let mseq = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
        if len < 16 || len > b.len() {
            return Some(Err(anyhow!("malformed RTM_GETNSID reply")));
        }
        let payload = &b[16..len];
        if mseq == seq {
            match kind {
                NLMSG_ERROR => {
                    let e = payload
                        .get(0..4)
                        .map(|e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]]))
                        .unwrap_or(0);
                    return Some(Err(anyhow!(
                        "RTM_GETNSID refused: {}",
                        std::io::Error::from_raw_os_error(-e)
                    )));
                }
                RTM_NEWNSID => {
                    let mut attrs = payload.get(4..).unwrap_or(&[]);
                    while attrs.len() >= 4 {
                        let alen = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
                        let akind = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
                        if alen < 4 || alen > attrs.len() {
                            break;
                        }
                        if akind == NETNSA_NSID && alen >= 8 {
                            let id = i32::from_ne_bytes([attrs[4], attrs[5], attrs[6], attrs[7]]);
                            return Some(Ok((id >= 0).then_some(id)));
                        }
                        attrs = attrs.get((alen + 3) & !3..).unwrap_or(&[]);
                    }
                    return Some(Ok(None));
                }
                _ => {}
            }
        }
        b = b.get((len + 3) & !3..).unwrap_or(&[]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_this_process_namespace() {
        let me = current().expect("own namespace");
        let all = scan();
        let mine = all
            .iter()
            .find(|f| (f.dev, f.label.inode) == me)
            .expect("own namespace listed");
        // A process is in it (this one or a lower pid), and every namespace once.
        assert!(mine.label.pid.is_some_and(|p| p <= std::process::id()));
        let mut ids: Vec<(u64, u64)> = all.iter().map(|f| (f.dev, f.label.inode)).collect();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
        assert!(open(mine).is_ok());
    }

    #[test]
    fn nsid_replies_are_read_and_damage_is_no_panic() {
        // RTM_NEWNSID, rtgenmsg, NETNSA_NSID = 3.
        let mut m = Vec::new();
        m.extend_from_slice(&28u32.to_ne_bytes());
        m.extend_from_slice(&RTM_NEWNSID.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&5u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&8u16.to_ne_bytes());
        m.extend_from_slice(&NETNSA_NSID.to_ne_bytes());
        m.extend_from_slice(&3i32.to_ne_bytes());
        assert!(matches!(nsid_reply(&m, 5), Some(Ok(Some(3)))));
        assert!(nsid_reply(&m, 6).is_none());
        let mut unassigned = m.clone();
        unassigned[24..28].copy_from_slice(&(-1i32).to_ne_bytes());
        assert!(matches!(nsid_reply(&unassigned, 5), Some(Ok(None))));
        for cut in 0..m.len() {
            let _ = nsid_reply(&m[..cut], 5);
        }
        let mut bad = m.clone();
        bad[0] = 0xff;
        assert!(matches!(nsid_reply(&bad, 5), Some(Err(_))));
    }

    #[test]
    fn own_namespace_is_asked_without_error() {
        let me = current().unwrap();
        let Some(mine) = scan().into_iter().find(|f| (f.dev, f.label.inode) == me) else {
            return;
        };
        let mut l = Linked::open().unwrap();
        // Whatever the answer, the kernel understood the request.
        l.nsid(&open(&mine).unwrap()).unwrap();
    }
}
