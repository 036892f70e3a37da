//! `tcpdiag capture -D`: the interfaces a capture can use, as `tcpdump -D` lists
//! them, with their state and addresses, in this network namespace and in each named
//! one (`ip netns`, /run/netns), so the `-i IFACE --netns NAME` to give is in sight.
//! Namespaces are looked into from a short-lived thread (`source::netns::run_in`);
//! one that cannot be entered (not root) says why in its own line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use nix::net::if_::InterfaceFlags;

use crate::source::netns::{self, Netns};

/// One interface: its flags and addresses.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
    pub addrs: Vec<String>,
}

/// The interfaces of the calling thread's namespace (getifaddrs), in index order
/// of first appearance.
pub fn list() -> Result<Vec<Interface>, String> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| format!("getifaddrs: {e}"))?;
    let mut order: Vec<String> = Vec::new();
    let mut by_name: BTreeMap<String, Interface> = BTreeMap::new();
    for a in addrs {
        let entry = by_name.entry(a.interface_name.clone()).or_insert_with(|| {
            order.push(a.interface_name.clone());
            Interface {
                name: a.interface_name.clone(),
                ..Interface::default()
            }
        });
        entry.up |= a.flags.contains(InterfaceFlags::IFF_UP);
        entry.running |= a.flags.contains(InterfaceFlags::IFF_RUNNING);
        entry.loopback |= a.flags.contains(InterfaceFlags::IFF_LOOPBACK);
        let Some(sa) = a.address else { continue };
        let prefix = |m: Option<u32>| m.map_or(String::new(), |n| format!("/{n}"));
        if let Some(v4) = sa.as_sockaddr_in() {
            let len = a
                .netmask
                .and_then(|m| m.as_sockaddr_in().map(|m| u32::from(m.ip()).count_ones()));
            entry.addrs.push(format!("{}{}", v4.ip(), prefix(len)));
        } else if let Some(v6) = sa.as_sockaddr_in6() {
            let len = a
                .netmask
                .and_then(|m| m.as_sockaddr_in6().map(|m| u128::from(m.ip()).count_ones()));
            entry.addrs.push(format!("{}{}", v6.ip(), prefix(len)));
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|n| by_name.remove(&n))
        .collect())
}

/// The names in /run/netns (`ip netns list`), sorted.
pub fn named_namespaces() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The listing: "any" first, then each interface numbered as tcpdump numbers its
/// list, its state and its addresses; then each named namespace's.
pub fn render(
    current: &[Interface],
    others: &[(String, Result<Vec<Interface>, String>)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "this network namespace:");
    let _ = writeln!(s, "  1. any  (all interfaces, Linux cooked headers)");
    write_list(&mut s, current, 2, "");
    for (ns, found) in others {
        let _ = writeln!(s, "\nnetns {ns}  (capture with --netns {ns} -i IFACE):");
        match found {
            Ok(list) => {
                let _ = writeln!(s, "  1. any  (all interfaces, Linux cooked headers)");
                write_list(&mut s, list, 2, "");
            }
            Err(e) => {
                let _ = writeln!(s, "  ({e})");
            }
        }
    }
    s
}

fn write_list(s: &mut String, list: &[Interface], first: usize, _prefix: &str) {
    for (i, ifc) in list.iter().enumerate() {
        let mut state = vec![if ifc.up { "up" } else { "down" }];
        if ifc.up && ifc.running {
            state.push("running");
        }
        if ifc.loopback {
            state.push("loopback");
        }
        let _ = writeln!(
            s,
            "  {}. {}  [{}]{}",
            first + i,
            ifc.name,
            state.join(", "),
            if ifc.addrs.is_empty() {
                String::new()
            } else {
                format!("  {}", ifc.addrs.join(" "))
            }
        );
    }
}

/// `capture -D`.
pub fn run() -> ExitCode {
    let current = match list() {
        Ok(l) => l,
        Err(e) => return super::fail(e),
    };
    let others: Vec<(String, Result<Vec<Interface>, String>)> = named_namespaces()
        .into_iter()
        .map(|name| {
            let found = netns::run_in(&Netns::Named(name.clone()), || {
                list().map_err(|e| anyhow::anyhow!(e))
            })
            .map_err(|e| e.to_string());
            (name, found)
        })
        .collect();
    super::print_text(&render(&current, &others))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed_with_its_address() {
        let l = list().unwrap();
        let lo = l.iter().find(|i| i.loopback).expect("a loopback interface");
        assert!(lo.addrs.iter().any(|a| a == "127.0.0.1/8"), "{lo:?}");
    }

    #[test]
    fn the_listing_numbers_like_tcpdump_and_names_namespaces() {
        let here = vec![Interface {
            name: "eth0".into(),
            up: true,
            running: true,
            loopback: false,
            addrs: vec!["192.0.2.10/24".into()],
        }];
        let others = vec![
            ("demo".to_string(), Ok(vec![])),
            ("locked".to_string(), Err("needs root".to_string())),
        ];
        let text = render(&here, &others);
        assert!(text.contains("  1. any"), "{text}");
        assert!(
            text.contains("  2. eth0  [up, running]  192.0.2.10/24"),
            "{text}"
        );
        assert!(
            text.contains("netns demo  (capture with --netns demo -i IFACE):"),
            "{text}"
        );
        assert!(text.contains("  (needs root)"), "{text}");
    }
}
