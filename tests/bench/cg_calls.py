"""Per-request calls and inclusive instructions of functions, from two callgrind.out files (N and 2N requests).

    python cg_calls.py FILE_N FILE_2N N REGEX [--from CALLER_REGEX]

For every function whose name matches REGEX: (calls in FILE_2N - calls in FILE_N) / N and the same for the
inclusive cost of those calls (callgrind's `calls=` lines), i.e. per warm request. Recursive calls of a
function into itself are not counted twice. With --from, only calls made by functions matching
CALLER_REGEX (e.g. the inclusive cost of ESG's PyIter_Send on the app's coroutine:
`'^PyIter_Send$' --from StartEager`). Run run.py with --keep-callgrind to keep the files (the serving
process's is the largest file of the run's directory). Used for the function-level evidence of README.md's
"Per-request split" section.
"""
from __future__ import annotations

import collections
import re
import sys


def _short(name: str) -> str:
    return name.replace("(anonymous namespace)", "{anon}").split("(")[0]


def call_edges(path: str):
    """{(caller, callee): [calls, inclusive instructions]} of one callgrind.out file (name compression
    resolved; costs are the first event, Ir)."""
    names = {}
    edges = collections.defaultdict(lambda: [0, 0])
    fn = cfn = None
    pending = None

    def name(s):
        m = re.match(r"\((\d+)\)(?: (.*))?", s)
        if not m:
            return s
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), s)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if pending is not None:
                parts = line.split()
                e = edges[(fn, cfn)]
                e[0] += pending
                e[1] += int(parts[1]) if len(parts) > 1 else 0
                pending = None
            elif line.startswith("fn="):
                fn = name(line[3:])
            elif line.startswith("cfn="):
                cfn = name(line[4:])
            elif line.startswith("calls="):
                pending = int(line[6:].split()[0])
            elif line.startswith(("fl=", "fi=", "fe=", "cfi=", "cfl=", "ob=", "cob=")):
                name(line.split("=", 1)[1])
    return edges


def per_callee(path, callee_rx, caller_rx=None):
    out = collections.defaultdict(lambda: [0, 0])
    for (a, b), (calls, incl) in call_edges(path).items():
        if not b or not callee_rx.search(b) or (a and _short(a) == _short(b)):
            continue
        if caller_rx is not None and not (a and caller_rx.search(a)):
            continue
        out[_short(b)][0] += calls
        out[_short(b)][1] += incl
    return out


def main(argv):
    caller = None
    if "--from" in argv:
        i = argv.index("--from")
        caller = re.compile(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    f1, f2, n, rx = argv[0], argv[1], int(argv[2]), re.compile(argv[3])
    a, b = per_callee(f1, rx, caller), per_callee(f2, rx, caller)
    rows = [(k, (b[k][0] - a[k][0]) / n, (b[k][1] - a[k][1]) / n) for k in set(a) | set(b)]
    print(f"{'calls/req':>10} {'incl instr/req':>15}  function")
    for k, calls, incl in sorted(rows, key=lambda r: -r[2]):
        if calls or incl:
            print(f"{calls:>10.2f} {incl:>15,.0f}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
