//! Which network namespace a socket lives in, and the container or pod behind it:
//! plain data (serde both ways) for the socket commands and the live capture's
//! flows. Filled by `source::namespaces` (namespace files, /proc/PID/cgroup).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A container runtime's id for the processes of a namespace, from their cgroup path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// docker | containerd | cri-o | podman | lxc | kubernetes (a bare id under
    /// kubepods: the runtime does not say its name).
    pub runtime: String,
    /// The runtime's container id (64 hex digits for docker, containerd, cri-o,
    /// podman; the container's name for lxc).
    pub id: String,
    /// The Kubernetes pod uid (kubepods cgroups), with dashes.
    pub pod_uid: Option<String>,
}

impl Container {
    /// "docker 3f4c5d8e9a0b", "kubernetes pod 1f5c4e2a-... (cri-o 3f4c5d8e9a0b)".
    pub fn short(&self) -> String {
        let id: String = self.id.chars().take(12).collect();
        match &self.pod_uid {
            Some(pod) => format!("pod {pod} ({} {id})", self.runtime),
            None => format!("{} {id}", self.runtime),
        }
    }
}

/// One network namespace as tcpdiag found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsLabel {
    /// The namespace's inode (what `lsns -t net` and `readlink /proc/PID/ns/net`
    /// show): its identity.
    pub inode: u64,
    /// Its `ip netns` name (/run/netns/NAME), when it has one.
    pub name: Option<String>,
    /// A process inside it (the lowest pid), when there is one.
    pub pid: Option<u32>,
    /// The container or pod of that process, when its cgroup path says so.
    pub container: Option<Container>,
}

impl NetnsLabel {
    /// A table cell: the name, else the container, else "net:[INODE]".
    pub fn short(&self) -> String {
        match (&self.name, &self.container) {
            (Some(n), _) => n.clone(),
            (None, Some(c)) => c.short(),
            (None, None) => format!("net:[{}]", self.inode),
        }
    }
}

impl fmt::Display for NetnsLabel {
    /// "'c1' (net:[4026532301], pid 812, docker 3f4c5d8e9a0b)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "'{n}' (net:[{}]", self.inode)?,
            None => write!(f, "net:[{}] (", self.inode)?,
        }
        let mut parts = Vec::new();
        if let Some(p) = self.pid {
            parts.push(format!("pid {p}"));
        }
        if let Some(c) = &self.container {
            parts.push(c.short());
        }
        if self.name.is_some() {
            for p in parts {
                write!(f, ", {p}")?;
            }
            write!(f, ")")
        } else if parts.is_empty() {
            write!(f, "no process)")
        } else {
            write!(f, "{})", parts.join(", "))
        }
    }
}

/// A namespace of an `--all-netns` poll: its label, how many sockets it had, and
/// why it could not be read when it could not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsSeen {
    #[serde(flatten)]
    pub label: NetnsLabel,
    pub sockets: u64,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_sentences() {
        let mut l = NetnsLabel {
            inode: 4026532301,
            name: Some("c1".into()),
            pid: Some(812),
            container: None,
        };
        assert_eq!(l.to_string(), "'c1' (net:[4026532301], pid 812)");
        l.name = None;
        l.container = Some(Container {
            runtime: "docker".into(),
            id: "3f4c5d8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d".into(),
            pod_uid: None,
        });
        assert_eq!(
            l.to_string(),
            "net:[4026532301] (pid 812, docker 3f4c5d8e9a0b)"
        );
        l.pid = None;
        l.container = None;
        assert_eq!(l.to_string(), "net:[4026532301] (no process)");
    }
}
