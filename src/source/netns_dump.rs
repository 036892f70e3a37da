//! sock_diag in many network namespaces: one `Dumper` per namespace that
//! `source::namespaces` finds, kept open between polls (a netlink socket stays in
//! the namespace it was opened in) and refreshed from a new scan, so namespaces
//! that appear (a container starts) are added and those that go are closed (an open
//! socket would keep a deleted namespace alive). `sockets`/`watch --all-netns` take
//! every namespace; the live capture only those linked to its own (the peers of its
//! veths: the containers behind its bridges), whose traffic it can see.

use std::sync::Arc;

use anyhow::Result;

use super::namespaces::{self, FoundNs, Linked};
use super::netns::Netns;
use super::sockdiag::{DumpQuery, Dumper};
use crate::model::netns::NetnsLabel;
use crate::model::socket::SocketInfo;

/// Which namespaces to look into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every namespace found.
    All,
    /// The caller's own and those linked to it.
    Linked,
}

struct Entry {
    id: (u64, u64),
    label: Arc<NetnsLabel>,
    own: bool,
    dumper: Dumper,
}

/// One namespace's part of a poll.
pub struct NsDump {
    pub label: Arc<NetnsLabel>,
    /// The caller's own namespace.
    pub own: bool,
    pub sockets: Result<Vec<SocketInfo>, String>,
}

pub struct MultiDumper {
    scope: Scope,
    own: Option<(u64, u64)>,
    linked: Option<Linked>,
    entries: Vec<Entry>,
    /// Namespaces of the last refresh that could not be opened, and why.
    pub unopened: Vec<(NetnsLabel, String)>,
}

impl MultiDumper {
    /// Scans and opens, in the calling thread's namespace (the "own" one).
    pub fn open(scope: Scope) -> Result<MultiDumper> {
        let linked = match scope {
            Scope::Linked => Some(Linked::open()?),
            Scope::All => None,
        };
        let mut m = MultiDumper {
            scope,
            own: namespaces::current(),
            linked,
            entries: Vec::new(),
            unopened: Vec::new(),
        };
        m.refresh();
        if !m.entries.iter().any(|e| e.own) {
            // The own namespace must always be there: say why it is not.
            let d = Dumper::open(&Netns::Current)?;
            m.entries.insert(
                0,
                Entry {
                    id: m.own.unwrap_or_default(),
                    label: Arc::new(NetnsLabel {
                        inode: m.own.map_or(0, |o| o.1),
                        name: None,
                        pid: Some(std::process::id()),
                        container: None,
                    }),
                    own: true,
                    dumper: d,
                },
            );
        }
        Ok(m)
    }

    /// Namespaces looked into, in order.
    pub fn labels(&self) -> impl Iterator<Item = (&Arc<NetnsLabel>, bool)> {
        self.entries.iter().map(|e| (&e.label, e.own))
    }

    /// Scans again: new namespaces are opened, gone ones closed, labels updated.
    pub fn refresh(&mut self) {
        let found = namespaces::scan();
        let mut old = std::mem::take(&mut self.entries);
        self.unopened.clear();
        for f in found {
            let id = (f.dev, f.label.inode);
            let own = Some(id) == self.own;
            if let Some(i) = old.iter().position(|e| e.id == id) {
                let mut e = old.swap_remove(i);
                if *e.label != f.label {
                    e.label = Arc::new(f.label);
                }
                self.entries.push(e);
                continue;
            }
            match self.open_one(&f, own) {
                Ok(Some(dumper)) => self.entries.push(Entry {
                    id,
                    label: Arc::new(f.label),
                    own,
                    dumper,
                }),
                Ok(None) => {}
                Err(e) => self.unopened.push((f.label, e)),
            }
        }
    }

    /// A dumper for `f`, or None when the scope leaves it out.
    fn open_one(&mut self, f: &FoundNs, own: bool) -> Result<Option<Dumper>, String> {
        if own {
            return Dumper::open(&Netns::Current)
                .map(Some)
                .map_err(|e| e.to_string());
        }
        let file = namespaces::open(f).map_err(|e| e.to_string())?;
        if let Some(l) = &mut self.linked {
            match l.nsid(&file) {
                Ok(Some(_)) => {}
                Ok(None) => return Ok(None),
                Err(e) => return Err(e.to_string()),
            }
        }
        Dumper::open_in(file).map(Some).map_err(|e| e.to_string())
    }

    /// One dump of `q` in every namespace.
    pub fn dump(&mut self, q: &DumpQuery) -> Vec<NsDump> {
        self.dump_with(|d| d.dump(q).map_err(|e| e.to_string()))
    }

    /// `dump` with the caller's own dump function (several queries, say).
    pub fn dump_with(
        &mut self,
        mut f: impl FnMut(&mut Dumper) -> Result<Vec<SocketInfo>, String>,
    ) -> Vec<NsDump> {
        self.entries
            .iter_mut()
            .map(|e| NsDump {
                label: Arc::clone(&e.label),
                own: e.own,
                sockets: f(&mut e.dumper),
            })
            .collect()
    }

    pub fn scope(&self) -> Scope {
        self.scope
    }
}
