//! Which processes hold which sockets (`-p`, as `ss -p`): every /proc/PID/fd/N that
//! links to "socket:[INODE]". Socket inodes are unique across namespaces, so one
//! scan serves any namespace. Processes that vanish or deny access are skipped.

use std::collections::HashMap;
use std::fs;

use crate::model::socket::ProcRef;

/// inode -> holders, for the inodes in `wanted` (all when it is empty).
pub fn socket_owners(wanted: &std::collections::HashSet<u64>) -> HashMap<u64, Vec<ProcRef>> {
    let mut out: HashMap<u64, Vec<ProcRef>> = HashMap::new();
    let Ok(proc_dir) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in proc_dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let mut comm: Option<String> = None;
        let mut state: Option<Option<String>> = None;
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = socket_inode(target.as_os_str().to_str().unwrap_or("")) else {
                continue;
            };
            if !wanted.is_empty() && !wanted.contains(&inode) {
                continue;
            }
            let comm = comm.get_or_insert_with(|| {
                fs::read_to_string(entry.path().join("comm"))
                    .map(|s| s.trim_end().to_string())
                    .unwrap_or_default()
            });
            let fdn = fd
                .file_name()
                .to_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let state = state.get_or_insert_with(|| {
                fs::read_to_string(entry.path().join("stat"))
                    .ok()
                    .and_then(|s| process_state(&s))
            });
            out.entry(inode).or_default().push(ProcRef {
                pid,
                comm: comm.clone(),
                fd: fdn,
                state: state.clone(),
            });
        }
    }
    out
}

/// The state field of /proc/PID/stat, spelled out: "T (stopped)". The command name
/// before it is in parentheses and may itself hold spaces or parentheses, so the
/// state is the first field after the last ')'.
pub fn process_state(stat: &str) -> Option<String> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let code = rest.split_whitespace().next()?.chars().next()?;
    let name = match code {
        'R' => "running",
        'S' => "sleeping",
        'D' => "disk sleep",
        'T' => "stopped",
        't' => "tracing stop",
        'Z' => "zombie",
        'X' => "dead",
        'I' => "idle",
        _ => "other",
    };
    Some(format!("{code} ({name})"))
}

/// "socket:[12345]" -> 12345.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_states() {
        assert_eq!(
            process_state("4242 (python3) T 1 4242 4242 0 -1").as_deref(),
            Some("T (stopped)")
        );
        // A command name with a space and a parenthesis.
        assert_eq!(
            process_state("7 (a) b) S 1 2").as_deref(),
            Some("S (sleeping)")
        );
        assert_eq!(process_state("garbage"), None);
    }

    #[test]
    fn links() {
        assert_eq!(socket_inode("socket:[424242]"), Some(424242));
        assert_eq!(socket_inode("pipe:[1]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[test]
    fn finds_own_socket() {
        use std::os::unix::fs::MetadataExt;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
        let ino = fs::metadata(format!("/proc/self/fd/{fd}")).unwrap().ino();
        let m = socket_owners(&[ino].into_iter().collect());
        let me = &m[&ino];
        assert!(me
            .iter()
            .any(|p| p.pid == std::process::id() && p.fd == fd as u32));
    }
}
