//! The table's first answer, "which service is hurting": per server ip:port, its
//! flows, their Zeek conn_states, its findings by severity and the worst of them.
//! Fed every flow (not only the rows the table keeps), bounded in servers; findings
//! folded into a capture-wide one (a flood) are taken back off, and capture-wide
//! findings that name a server (evidence `server`) are added to it.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::grid::{Border, Cell, Column, Grid};
use super::style::{Paint, Term};
use crate::analyze::{Finding, Severity};
use crate::flow::Connection;
use crate::model::Endpoint;

/// Servers tracked one by one; the flows of any beyond are only counted.
pub const MAX_SERVERS: usize = 10_000;
/// Flows whose per-flow findings might be folded into a flood, remembered to take
/// them off their server again.
const MAX_FOLDABLE: usize = 200_000;
/// Servers shown.
pub const SHOWN: usize = 15;

#[derive(Default)]
struct Server {
    flows: u64,
    states: BTreeMap<&'static str, u64>,
    /// By severity: info, warning, error.
    findings: [u64; 3],
    /// Findings by id with their severity.
    by_id: BTreeMap<&'static str, (Severity, u64)>,
}

impl Server {
    fn add_finding(&mut self, sev: Severity, id: &'static str, n: i64) {
        let i = sev as usize;
        self.findings[i] = self.findings[i].saturating_add_signed(n);
        let e = self.by_id.entry(id).or_insert((sev, 0));
        e.1 = e.1.saturating_add_signed(n);
        if e.1 == 0 {
            self.by_id.remove(id);
        }
    }

    /// The worst finding: highest severity, then the most frequent.
    fn worst(&self) -> Option<(Severity, &'static str, u64)> {
        self.by_id
            .iter()
            .map(|(id, (sev, n))| (*sev, *id, *n))
            .max_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)).then(b.1.cmp(a.1)))
    }
}

/// A flow's findings that a flood may fold: (id, severity).
type Folds = Vec<(&'static str, Severity)>;

#[derive(Default)]
pub struct Servers {
    by_server: FxHashMap<Endpoint, Server>,
    /// Flows to servers beyond MAX_SERVERS.
    untracked_flows: u64,
    /// flow id -> its server and foldable findings (id, severity), for the flows
    /// that have some.
    foldable: FxHashMap<u64, (Endpoint, Folds)>,
}

/// Per-flow findings that a capture-wide flood finding may stand for.
fn foldable(id: &str) -> bool {
    id.starts_with("handshake.")
}

impl Servers {
    /// Bytes held (memory budget): the servers with their counts, and the flows
    /// whose findings a flood may fold.
    pub fn footprint(&self) -> usize {
        use crate::budget::{table_bytes, BLOCK_OVERHEAD};
        use std::mem::size_of;
        // A server's two small B-trees: about one node each.
        let trees = 2 * (BLOCK_OVERHEAD + 12 * 24);
        table_bytes(self.by_server.capacity(), size_of::<(Endpoint, Server)>())
            + self.by_server.len() * trees
            + table_bytes(self.foldable.capacity(), size_of::<(u64, (Endpoint, Folds))>())
            // A flow's foldable findings: a few; counted at two each (O(1) here).
            + self.foldable.len() * (2 * size_of::<(&str, Severity)>() + BLOCK_OVERHEAD)
    }

    pub fn add(&mut self, conn: &Connection, findings: &[Finding]) {
        let len = self.by_server.len();
        let Some(s) = (if len < MAX_SERVERS {
            Some(self.by_server.entry(conn.server).or_default())
        } else {
            self.by_server.get_mut(&conn.server)
        }) else {
            self.untracked_flows += 1;
            return;
        };
        s.flows += 1;
        *s.states.entry(conn.zeek.conn_state()).or_default() += 1;
        for f in findings {
            s.add_finding(f.severity, f.id, 1);
        }
        let folds: Folds = findings
            .iter()
            .filter(|f| foldable(f.id))
            .map(|f| (f.id, f.severity))
            .collect();
        if !folds.is_empty() && self.foldable.len() < MAX_FOLDABLE {
            self.foldable.insert(conn.id, (conn.server, folds));
        }
    }

    /// Takes folded findings off their servers and adds the capture-wide findings
    /// that name one.
    pub fn finish(&mut self, folded: &[(u64, &'static str)], findings: &[Finding]) {
        for (flow, id) in folded {
            let Some((server, folds)) = self.foldable.get(flow) else {
                continue;
            };
            for (fid, sev) in folds.iter().filter(|(fid, _)| fid == id) {
                if let Some(s) = self.by_server.get_mut(server) {
                    s.add_finding(*sev, fid, -1);
                }
            }
        }
        for f in findings.iter().filter(|f| f.flow.is_none()) {
            let named = f
                .evidence
                .get("server")
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse::<std::net::SocketAddr>().ok());
            if let Some(sa) = named {
                if let Some(s) = self.by_server.get_mut(&Endpoint::new(sa.ip(), sa.port())) {
                    s.add_finding(f.severity, f.id, 1);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_server.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_server.is_empty()
    }

    /// The servers table, worst first; at most SHOWN rows and a line for the rest.
    pub fn render(&self, term: &Term) -> String {
        let mut list: Vec<(&Endpoint, &Server)> = self.by_server.iter().collect();
        list.sort_by(|a, b| {
            let wa = a.1.worst().map(|w| w.0);
            let wb = b.1.worst().map(|w| w.0);
            wb.cmp(&wa)
                .then(
                    b.1.findings
                        .iter()
                        .sum::<u64>()
                        .cmp(&a.1.findings.iter().sum::<u64>()),
                )
                .then(b.1.flows.cmp(&a.1.flows))
                .then(a.0.cmp(b.0))
        });
        let mut g = Grid::new(
            vec![
                Column::new("SERVER").cut(15),
                Column::new("FLOWS").right(),
                Column::new("CONN STATES").wrap(10).drop(2),
                Column::new("FINDINGS e/w/i").drop(1),
                Column::new("WORST").wrap(16),
            ],
            Border::Sharp,
        );
        g.drops_with_borders = 2;
        for (ep, s) in list.iter().take(SHOWN) {
            let mut states: Vec<(&&str, &u64)> = s.states.iter().collect();
            states.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let states_text = states
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let word_paint = states
                .iter()
                .filter_map(|(k, _)| Paint::of_conn_state(k).map(|p| (k.to_string(), p)))
                .collect();
            let [i, w, e] = s.findings;
            let worst = s.worst();
            g.row(vec![
                Cell::from(ep.to_string()),
                Cell::from(s.flows.to_string()),
                Cell {
                    text: states_text,
                    paint: None,
                    word_paint,
                },
                Cell::from(if i + w + e == 0 {
                    "-".to_string()
                } else {
                    format!("{e}/{w}/{i}")
                }),
                match worst {
                    Some((sev, id, n)) => Cell::painted(
                        if n > 1 {
                            format!("{id} x{n}")
                        } else {
                            id.to_string()
                        },
                        Some(Paint::of_severity(sev)),
                    ),
                    None => Cell::from("-"),
                },
            ]);
        }
        let mut out = g.render(term);
        let more = list.len().saturating_sub(SHOWN);
        if more > 0 || self.untracked_flows > 0 {
            out.push_str(&format!(
                "({more} more servers{})\n",
                if self.untracked_flows > 0 {
                    format!(
                        ", and {} flows to servers not tracked",
                        self.untracked_flows
                    )
                } else {
                    String::new()
                }
            ));
        }
        out
    }
}
