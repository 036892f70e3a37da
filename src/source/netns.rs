//! Entering a named network namespace (`ip netns add NAME` creates /run/netns/NAME).
//! Done once, early, on the main thread: threads started afterwards (the socket
//! poller) inherit it, and libpcap, sock_diag, /proc/net and /proc/sys/net then all
//! see that namespace.

use std::fs::File;

use nix::sched::{setns, CloneFlags};

/// Moves the calling thread into network namespace `name`.
pub fn enter(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!("bad network namespace name '{name}'"));
    }
    let path = std::path::Path::new("/run/netns").join(name);
    let file = File::open(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("no network namespace named '{name}' (see: ip netns list)")
        }
        std::io::ErrorKind::PermissionDenied => format!(
            "entering network namespace '{name}' needs CAP_SYS_ADMIN (run as root)"
        ),
        _ => format!("cannot open {}: {e}", path.display()),
    })?;
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| match e {
        nix::errno::Errno::EPERM => format!(
            "entering network namespace '{name}' needs CAP_SYS_ADMIN (run as root)"
        ),
        other => format!("cannot enter network namespace '{name}': {other}"),
    })
}
