//! Running work inside another network namespace without moving the process: a
//! short-lived thread does setns(CLONE_NEWNET) and runs the closure there (opening a
//! netlink socket, reading /proc/thread-self/net/... and /proc/sys/net/...). Sockets
//! opened in that thread stay bound to its namespace after it ends, so the caller
//! can keep using them; the main thread's namespace never changes.

use std::fs::File;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use nix::sched::{setns, CloneFlags};
use serde::{Deserialize, Serialize};

/// Which network namespace to look at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "value")]
pub enum Netns {
    /// The namespace of this process.
    #[default]
    Current,
    /// `ip netns` name: /run/netns/NAME.
    Named(String),
    /// The namespace of a process: /proc/PID/ns/net.
    Pid(u32),
}

impl Netns {
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            Netns::Current => None,
            Netns::Named(n) => Some(PathBuf::from("/run/netns").join(n)),
            Netns::Pid(p) => Some(PathBuf::from(format!("/proc/{p}/ns/net"))),
        }
    }

    /// For reports: null, "NAME" or "pid:PID".
    pub fn label(&self) -> Option<String> {
        match self {
            Netns::Current => None,
            Netns::Named(n) => Some(n.clone()),
            Netns::Pid(p) => Some(format!("pid:{p}")),
        }
    }
}

/// Opens the namespace file with a one-line error that says what is missing.
fn open_ns(ns: &Netns) -> Result<Option<File>> {
    let Some(path) = ns.path() else {
        return Ok(None);
    };
    if let Netns::Named(n) = ns {
        if n.is_empty() || n.contains('/') || n == "." || n == ".." {
            return Err(anyhow!("bad network namespace name '{n}'"));
        }
    }
    match File::open(&path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(match ns {
            Netns::Named(n) => anyhow!("no network namespace named '{n}' (see: ip netns list)"),
            _ => anyhow!("no such process ({} does not exist)", path.display()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(needs_admin(ns)),
        Err(e) => Err(anyhow!("cannot open {}: {e}", path.display())),
    }
}

fn needs_admin(ns: &Netns) -> anyhow::Error {
    anyhow!(
        "entering network namespace '{}' needs CAP_SYS_ADMIN (run as root)",
        ns.label().unwrap_or_default()
    )
}

/// Moves the calling thread into the namespace (nothing for the current one).
pub fn enter(ns: &Netns) -> Result<()> {
    let Some(file) = open_ns(ns)? else {
        return Ok(());
    };
    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| match e {
        nix::errno::Errno::EPERM => needs_admin(ns),
        nix::errno::Errno::EINVAL => {
            anyhow!(
                "'{}' is not a network namespace",
                ns.label().unwrap_or_default()
            )
        }
        e => anyhow!(
            "cannot enter network namespace '{}': {e}",
            ns.label().unwrap_or_default()
        ),
    })
}

/// Runs `f` in the namespace (in this thread when it is the current one).
pub fn run_in<T, F>(ns: &Netns, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    if *ns == Netns::Current {
        return f();
    }
    let ns = ns.clone();
    std::thread::Builder::new()
        .name("tcpdiag-netns".into())
        .spawn(move || -> Result<T> {
            enter(&ns)?;
            f()
        })
        .context("starting the namespace thread")?
        .join()
        .map_err(|_| anyhow!("the namespace thread panicked"))?
}

/// Runs `f` in the namespace of an already opened namespace file (one that
/// `source::namespaces` found and checked), in a short-lived thread.
pub fn run_in_file<T, F>(file: File, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    std::thread::Builder::new()
        .name("tcpdiag-netns".into())
        .spawn(move || -> Result<T> {
            setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| match e {
                nix::errno::Errno::EPERM => {
                    anyhow!("entering another network namespace needs CAP_SYS_ADMIN (run as root)")
                }
                e => anyhow!("cannot enter the network namespace: {e}"),
            })?;
            f()
        })
        .context("starting the namespace thread")?
        .join()
        .map_err(|_| anyhow!("the namespace thread panicked"))?
}

/// The /proc/net directory of the namespace the calling thread is in.
pub const PROC_NET: &str = "/proc/thread-self/net";
