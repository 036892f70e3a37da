#!/usr/bin/env python3
"""Terminal output with ANSI colours (stdin) -> an SVG "screenshot" (stdout).

Regenerates docs/terminal.svg from the binary:
  COLUMNS=100 TZ=UTC LANG=C.UTF-8 tcpdiag replay fixtures/half_open_flood.pcap \
      --format table --color always | python3 docs/ansi2svg.py > docs/terminal.svg
"""
import html
import re
import sys

COLOURS = {"31": "#ff6b6b", "32": "#8ae234", "33": "#fce94f", "34": "#729fcf", "36": "#34e2e2"}
FG, BG, CW, LH = "#d3d7cf", "#1e1e1e", 8.4, 18

lines = sys.stdin.read().rstrip("\n").split("\n")
cols = max(len(re.sub(r"\x1b\[[0-9;]*m", "", l)) for l in lines)
width, height = int(cols * CW + 24), len(lines) * LH + 24
out = [
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
    f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">',
    f'<rect width="100%" height="100%" rx="6" fill="{BG}"/>',
]
for i, line in enumerate(lines):
    y = 12 + (i + 1) * LH - 4
    parts = re.split(r"(\x1b\[[0-9;]*m)", line)
    spans, style = [], {"fill": FG, "bold": False, "dim": False}
    for p in parts:
        m = re.fullmatch(r"\x1b\[([0-9;]*)m", p)
        if m:
            for code in (m.group(1) or "0").split(";"):
                if code == "0":
                    style = {"fill": FG, "bold": False, "dim": False}
                elif code == "1":
                    style["bold"] = True
                elif code == "2":
                    style["dim"] = True
                elif code in COLOURS:
                    style["fill"] = COLOURS[code]
            continue
        if not p:
            continue
        attrs = f'fill="{style["fill"]}"'
        if style["bold"]:
            attrs += ' font-weight="bold"'
        if style["dim"]:
            attrs += ' fill-opacity="0.6"'
        spans.append(f"<tspan {attrs}>{html.escape(p)}</tspan>")
    out.append(f'<text x="12" y="{y}" xml:space="preserve">{"".join(spans)}</text>')
out.append("</svg>")
print("\n".join(out))
