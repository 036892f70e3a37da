//! The one place that decides a symptom's cause. Several analyzers may see the same
//! RST (a forged RST is also "the server reset", an idle timeout's RST is also
//! "the client reset"), the same resends, or the same final silence; each of them
//! says which symptoms it explains (`Finding::claim`). Exactly one finding keeps
//! each symptom: one that rests on this host's own socket (`certain`) first, then
//! the most specific explanation in `PRECEDENCE`. The others are dropped, and the
//! one kept lists them (`evidence.also_matched`) so a reader can see what else fit.

use serde_json::Value;

use super::{Cause, Finding, Symptom};

/// Most specific first: a keepalive or retransmission give-up explains its own RST
/// better than "the client reset"; an idle-timeout pattern says why a box reset; a
/// forged RST is not "the server reset".
const PRECEDENCE: &[&str] = &[
    "keepalive.dead_peer",
    "retransmit.give_up",
    "idle.reset",
    "rst.not_from_this_host",
    "rst.injected",
    "handshake.rejected",
    "handshake.syn_retransmit",
    "handshake.unanswered",
    "retransmit.timeout",
    "stall.transfer",
    "rst.client",
    "rst.server",
];

/// Causes that say the same thing in different words: the RST of a keepalive that
/// gave up, the silence or RST of retransmissions that ran out.
fn agree(a: Cause, b: Cause) -> bool {
    use Cause::*;
    a == b
        || matches!(
            (a, b),
            (RetransmissionsGaveUp, PeerUnreachable | UserTimeout)
                | (PeerUnreachable | UserTimeout, RetransmissionsGaveUp)
        )
}

/// When this host's socket confirms a cause that a more specific finding already
/// names (the socket's keepalive gave up, and `keepalive.dead_peer` shows the probes),
/// the specific finding carries the certainty: it wins, with the socket's evidence.
fn pass_certainty_on(found: &mut [Finding]) {
    for c in 0..found.len() {
        let Some(cause) = found[c].cause.filter(|_| found[c].certain) else {
            continue;
        };
        let better = (0..found.len()).find(|&o| {
            o != c
                && !found[o].certain
                && found[o].cause.is_some_and(|oc| agree(oc, cause))
                && rank(&found[o]).1 < rank(&found[c]).1
                && found[o]
                    .claimed()
                    .any(|s| found[c].claimed().any(|t| t == s))
        });
        if let Some(o) = better {
            found[o].certain = true;
            found[c].certain = false;
        }
    }
}

fn rank(f: &Finding) -> (bool, usize) {
    let pos = PRECEDENCE
        .iter()
        .position(|id| *id == f.id)
        .unwrap_or(PRECEDENCE.len());
    (!f.certain, pos)
}

/// Keeps one finding per symptom (see the module doc); findings that claim nothing
/// are untouched. Order is preserved.
pub fn decide(found: &mut Vec<Finding>) {
    if found.iter().filter(|f| f.claims[0].is_some()).count() < 2 {
        return;
    }
    pass_certainty_on(found);
    let mut order: Vec<usize> = (0..found.len())
        .filter(|&i| found[i].claims[0].is_some())
        .collect();
    order.sort_by_key(|&i| rank(&found[i]));
    let mut owners: Vec<(Symptom, usize)> = Vec::new();
    let mut dropped: Vec<(usize, usize)> = Vec::new(); // (loser, winner)
    for i in order {
        let taken = found[i]
            .claimed()
            .find_map(|s| owners.iter().find(|(o, _)| *o == s).map(|&(_, w)| w));
        match taken {
            Some(winner) => dropped.push((i, winner)),
            None => owners.extend(found[i].claimed().map(|s| (s, i))),
        }
    }
    if dropped.is_empty() {
        return;
    }
    for &(loser, winner) in &dropped {
        let id = found[loser].id;
        let local = found[loser].evidence.get("local_socket").cloned();
        let w = &mut found[winner];
        let also = w
            .evidence
            .entry("also_matched")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(ids) = also {
            if !ids.iter().any(|v| v == id) {
                ids.push(Value::from(id));
            }
        }
        // What this host's socket showed about the RST stays with its explanation.
        if let Some(local) = local {
            w.evidence.entry("local_socket").or_insert(local);
        }
    }
    let mut drop = vec![false; found.len()];
    for (loser, _) in dropped {
        drop[loser] = true;
    }
    let mut i = 0;
    found.retain(|_| {
        i += 1;
        !drop[i - 1]
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Cause, Severity};

    fn f(id: &'static str, claims: &[Symptom]) -> Finding {
        let mut f = Finding::new(id, Severity::Warning, Some(1), 0.0);
        for c in claims {
            f = f.claim(*c);
        }
        f
    }

    fn ids(v: &[Finding]) -> Vec<&'static str> {
        v.iter().map(|f| f.id).collect()
    }

    #[test]
    fn one_cause_per_rst() {
        let rst = Symptom::Rst(9);
        let mut found = vec![
            f("rst.server", &[rst]),
            f("window.zero", &[]),
            f("rst.injected", &[rst]),
        ];
        decide(&mut found);
        assert_eq!(ids(&found), ["window.zero", "rst.injected"]);
        assert_eq!(
            found[1].evidence["also_matched"],
            serde_json::json!(["rst.server"])
        );
    }

    #[test]
    fn this_hosts_socket_wins_over_inference() {
        let rst = Symptom::Rst(9);
        let mut kernel = f("rst.client", &[rst]).with_cause(Cause::KeepaliveGaveUp);
        kernel.certain = true;
        let mut found = vec![f("idle.reset", &[rst]), kernel];
        decide(&mut found);
        assert_eq!(ids(&found), ["rst.client"]);
        assert_eq!(found[0].evidence["cause"], "keepalive_gave_up");
    }

    #[test]
    fn a_confirmed_cause_goes_to_the_finding_that_shows_it() {
        let rst = Symptom::Rst(9);
        let mut kernel = f("rst.client", &[rst]).with_cause(Cause::KeepaliveGaveUp);
        kernel.certain = true;
        kernel.evidence.insert(
            "local_socket".into(),
            serde_json::json!({"rst_cause": "keepalive_gave_up"}),
        );
        let probes = f("keepalive.dead_peer", &[rst]).with_cause(Cause::KeepaliveGaveUp);
        let mut found = vec![kernel, f("idle.reset", &[rst]), probes];
        decide(&mut found);
        assert_eq!(ids(&found), ["keepalive.dead_peer"]);
        assert_eq!(
            found[0].evidence["local_socket"]["rst_cause"],
            "keepalive_gave_up"
        );
    }

    #[test]
    fn a_finding_with_one_symptom_taken_goes_whole() {
        let rst = Symptom::Rst(9);
        let resends = Symptom::Resends(1, crate::model::Dir::FromClient);
        let mut found = vec![
            f("retransmit.timeout", &[resends]),
            f("retransmit.give_up", &[resends, rst]),
            f("rst.client", &[rst]),
        ];
        decide(&mut found);
        assert_eq!(ids(&found), ["retransmit.give_up"]);
    }
}
