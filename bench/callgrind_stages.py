#!/usr/bin/env python3
"""Per-stage instruction counts from a callgrind profile of `tcpdiag replay --threads 1`.

Reads the callgrind output file itself (not callgrind_annotate's text): for every
function symbol, its self cost and its inclusive cost (self plus the inclusive cost of
every call it makes to another function; inlined code counts in the function it was
inlined into). A stage is the inclusive cost of the function that runs it, less the
stages nested in it, so the stages add up to the total.

Usage: callgrind_stages.py CALLGRIND_OUT PACKETS
Prints one line per stage: name, instructions, instructions per packet."""

import collections
import re
import sys

# Stage functions (symbols, exact). Each is kept out of line (#[inline(never)]) in
# the code, so the profile sees where it starts.
READ = "tcpdiag::source::pcap_file::read"
FRAME = "tcpdiag::engine::Front::on_frame"
TABLE = "tcpdiag::flow::table::FlowTable::on_segment"
HANDLE = "tcpdiag::engine::Downstream::handle"  # flows finished mid-run (--threads 1)
DELIVER = "tcpdiag::engine::Downstream::deliver"
CONN = "tcpdiag::flow::conn::Connection::on_segment"
SIDE = "tcpdiag::flow::side::Side::analyze"
ZEEK = "tcpdiag::flow::zeek::ZeekState::on_segment"
TIMELINE = "tcpdiag::flow::timeline::Timeline::push"
FOOTPRINT = "tcpdiag::flow::conn::Connection::footprint"
ON_FLOW = "tcpdiag::analyze::Analyzers::on_flow"
AN_FINISH = "tcpdiag::analyze::Analyzers::finish"
SINK = re.compile(r"^<tcpdiag::report::[\w:]+(<W>)? as tcpdiag::report::Sink>::(flow|finish)$")
FINISH_ALL = "tcpdiag::flow::table::FlowTable::finish_all"


def parse(path):
    """Returns (total, self cost by name, inclusive cost by name)."""
    names = {}
    self_cost = collections.Counter()
    calls_cost = collections.Counter()
    total = 0
    fn = None
    cfn = None
    after_calls = False

    def name_of(ref):
        m = re.match(r"\((\d+)\)(?: (.*))?$", ref)
        if not m:
            return ref
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), ref)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                fields = line.split()
                cost = int(fields[1]) if len(fields) > 1 else 0
                if after_calls:
                    if cfn != fn:  # recursion would count twice
                        calls_cost[fn] += cost
                    after_calls = False
                else:
                    self_cost[fn] += cost
                continue
            if line.startswith("fn="):
                fn = name_of(line[3:])
            elif line.startswith("cfn="):
                cfn = name_of(line[4:])
            elif line.startswith("calls="):
                after_calls = True
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = max(total, int(line.split()[1]))
    incl = collections.Counter()
    for k in set(self_cost) | set(calls_cost):
        incl[k] = self_cost[k] + calls_cost[k]
    return total, self_cost, incl


def stages(total, incl):
    def c(name):
        return incl.get(name, 0)

    sink = sum(v for k, v in incl.items() if SINK.match(k))
    side, zeek, timeline, footprint = c(SIDE), c(ZEEK), c(TIMELINE), c(FOOTPRINT)
    table = c(TABLE) - c(HANDLE)
    conn = c(CONN) - side - zeek - timeline
    deliver_rest = c(DELIVER) - c(ON_FLOW) - sum(
        v for k, v in incl.items() if SINK.match(k) and k.endswith("::flow")
    )
    out = [
        ("read", c(READ) - c(FRAME)),
        ("decode", c(FRAME) - c(TABLE)),
        ("flow table (lookup, expiry, budget checks)", table - c(CONN) - footprint),
        ("Connection::on_segment (rest)", conn),
        ("Side::analyze", side),
        ("Zeek state", zeek),
        ("timeline", timeline),
        ("memory accounting (footprint)", footprint),
        ("analyzers", c(ON_FLOW) + c(AN_FINISH)),
        ("sink / serialisation", sink),
        ("delivery (tallies, hand-over)", deliver_rest),
    ]
    out.append(("other (start-up, end of input, freeing)", total - sum(v for _, v in out)))
    return out


def main():
    path, packets = sys.argv[1], int(sys.argv[2])
    total, _, incl = parse(path)
    missing = [
        n for n in (READ, FRAME, TABLE, CONN, SIDE, ZEEK, TIMELINE, FOOTPRINT, ON_FLOW, DELIVER)
        if n not in incl
    ]
    for n in missing:
        print(f"warning: {n} not in the profile (inlined?)", file=sys.stderr)
    print(f"total\t{total}\t{total / packets:.0f}")
    for name, v in stages(total, incl):
        print(f"{name}\t{v}\t{v / packets:.0f}")


if __name__ == "__main__":
    main()
