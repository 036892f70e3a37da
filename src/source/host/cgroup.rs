//! The container or pod of a process, from /proc/PID/cgroup: the runtimes put
//! their ids in the cgroup path (`/system.slice/docker-ID.scope`, `/docker/ID`,
//! `/kubepods.slice/...-podUID.slice/cri-containerd-ID.scope`,
//! `/kubepods/burstable/podUID/ID`, `crio-ID.scope`, `libpod-ID.scope`,
//! `/lxc.payload.NAME`). Pure text parsing; a path that names no container (a
//! systemd service, a login session, the root) gives None. Read from the host's
//! cgroup namespace, which is where tcpdiag runs.

use crate::model::netns::Container;

/// The container of the process whose /proc/PID/cgroup is `text`. The unified (v2,
/// `0::`) line is preferred; on a v1 host any controller line that names one.
pub fn container_of(text: &str) -> Option<Container> {
    let mut lines: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let id = f.next()?;
            let _controllers = f.next()?;
            Some((id, f.next()?.trim()))
        })
        .collect();
    // "0::/..." first.
    lines.sort_by_key(|(id, _)| *id != "0");
    lines.into_iter().find_map(|(_, path)| from_path(path))
}

fn is_hex_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `prefix` + 64 hex digits + `.scope`: the id.
fn scoped<'a>(part: &'a str, prefix: &str) -> Option<&'a str> {
    let id = part.strip_prefix(prefix)?.strip_suffix(".scope")?;
    is_hex_id(id).then_some(id)
}

/// The pod uid of a kubepods path component: `kubepods-burstable-pod<uid>.slice`
/// (systemd driver, '_' for '-') or `pod<uid>` (cgroupfs driver).
fn pod_uid(part: &str) -> Option<String> {
    let p = part.strip_suffix(".slice").unwrap_or(part);
    let uid = p
        .rsplit_once("-pod")
        .map(|(_, u)| u)
        .or_else(|| p.strip_prefix("pod"))?;
    let uid = uid.replace('_', "-");
    (uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')).then_some(uid)
}

fn from_path(path: &str) -> Option<Container> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let kube = parts.iter().any(|p| p.starts_with("kubepods"));
    let pod = kube
        .then(|| parts.iter().find_map(|p| pod_uid(p)))
        .flatten();
    let make = |runtime: &str, id: &str| {
        Some(Container {
            runtime: runtime.to_string(),
            id: id.to_string(),
            pod_uid: pod.clone(),
        })
    };
    // The innermost component that names a container (podman nests the process in
    // `libpod-ID.scope/container`).
    for (i, part) in parts.iter().enumerate().rev() {
        for (prefix, runtime) in [
            ("docker-", "docker"),
            ("cri-containerd-", "containerd"),
            ("crio-", "cri-o"),
            ("libpod-", "podman"),
            ("nerdctl-", "containerd"),
        ] {
            if let Some(id) = scoped(part, prefix) {
                return make(runtime, id);
            }
        }
        if is_hex_id(part) {
            let parent = i.checked_sub(1).map(|p| parts[p]).unwrap_or("");
            let runtime = if kube {
                "kubernetes"
            } else {
                match parent {
                    "docker" => "docker",
                    "default" | "k8s.io" | "moby" => "containerd",
                    _ => continue,
                }
            };
            return make(runtime, part);
        }
        if let Some(name) = part.strip_prefix("lxc.payload.") {
            return make("lxc", name);
        }
        if i > 0 && parts[i - 1] == "lxc" {
            return make("lxc", part);
        }
    }
    // A pod's own cgroup without a container below it (the pause sandbox).
    pod.map(|uid| Container {
        runtime: "kubernetes".to_string(),
        id: String::new(),
        pod_uid: Some(uid),
    })
}

/// The container of process `pid`, when its cgroup says so.
pub fn container_of_pid(pid: u32) -> Option<Container> {
    container_of(&std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4c5d8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d";
    const UID: &str = "1f5c4e2a-7b9d-4c3e-9a1b-2d3e4f5a6b7c";

    fn c(text: &str) -> Option<(String, String, Option<String>)> {
        container_of(text).map(|c| (c.runtime, c.id, c.pod_uid))
    }

    fn want(runtime: &str, pod: bool) -> Option<(String, String, Option<String>)> {
        Some((runtime.into(), ID.into(), pod.then(|| UID.into())))
    }

    #[test]
    fn docker_v2_systemd_and_cgroupfs_and_v1() {
        // Docker on cgroup v2, systemd driver (Debian 12, Ubuntu 22.04+).
        assert_eq!(
            c(&format!("0::/system.slice/docker-{ID}.scope\n")),
            want("docker", false)
        );
        // Docker on cgroup v2, cgroupfs driver.
        assert_eq!(c(&format!("0::/docker/{ID}\n")), want("docker", false));
        // Docker on cgroup v1 (every controller line names it; "0::" is "/").
        let v1 = format!(
            "12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/\n"
        );
        assert_eq!(c(&v1), want("docker", false));
    }

    #[test]
    fn kubernetes_pods_by_runtime_and_qos() {
        let uid_ = UID.replace('-', "_");
        // containerd through CRI, systemd driver, burstable QoS.
        assert_eq!(
            c(&format!(
                "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{ID}.scope\n"
            )),
            want("containerd", true)
        );
        // Guaranteed QoS has no QoS slice.
        assert_eq!(
            c(&format!(
                "0::/kubepods.slice/kubepods-pod{uid_}.slice/cri-containerd-{ID}.scope\n"
            )),
            want("containerd", true)
        );
        // CRI-O, best effort.
        assert_eq!(
            c(&format!(
                "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/crio-{ID}.scope\n"
            )),
            want("cri-o", true)
        );
        // cgroupfs driver on cgroup v1: bare ids under kubepods.
        assert_eq!(
            c(&format!(
                "11:memory:/kubepods/burstable/pod{UID}/{ID}\n1:name=systemd:/kubepods/burstable/pod{UID}/{ID}\n"
            )),
            want("kubernetes", true)
        );
    }

    #[test]
    fn containerd_podman_lxc() {
        // ctr / nerdctl with the cgroupfs driver: /NAMESPACE/ID.
        assert_eq!(c(&format!("0::/default/{ID}\n")), want("containerd", false));
        assert_eq!(
            c(&format!("0::/system.slice/nerdctl-{ID}.scope\n")),
            want("containerd", false)
        );
        // Podman nests the process one level below its scope.
        assert_eq!(
            c(&format!("0::/machine.slice/libpod-{ID}.scope/container\n")),
            want("podman", false)
        );
        assert_eq!(
            c("0::/lxc.payload.web1\n").map(|c| (c.0, c.1)),
            Some(("lxc".into(), "web1".into()))
        );
    }

    #[test]
    fn services_sessions_and_odd_lines_are_no_container() {
        assert_eq!(c("0::/system.slice/nginx.service\n"), None);
        assert_eq!(c("0::/user.slice/user-0.slice/session-3.scope\n"), None);
        assert_eq!(c("0::/init.scope\n"), None);
        assert_eq!(c("0::/\n"), None);
        // This project's own CI sandbox: a 32-digit id under a non-runtime parent.
        assert_eq!(
            c("4:memory:/process_api/a5d78b2210d59fdc0c42f763f6c6e50c\n0::/\n"),
            None
        );
        // A 64-digit id under an unknown parent is not guessed at.
        assert_eq!(c(&format!("0::/somewhere/{ID}\n")), None);
        // A docker scope whose id is not 64 hex digits.
        assert_eq!(c("0::/system.slice/docker-xyz.scope\n"), None);
        assert_eq!(c(""), None);
        assert_eq!(c("garbage\n::\n0:\n"), None);
    }
}
