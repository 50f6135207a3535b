"""Per-event CPU cost of the `sse` workload for servers that are already running, measured side by side.

    python sse_cost.py [-cCONNECTIONS] SECONDS NAME:PORT:PID [NAME:PORT:PID ...]

Starts one `wrk -c256` (or -cCONNECTIONS: that many streams) per server at the same time (all on CPU 1) against GET /sse, and reports for each
server process PID (the worker; all its threads): user and system CPU per event, from /proc/PID/stat over
the run, and writev(2) calls per event (`perf stat -e syscalls:sys_enter_writev -p PID`, when perf can).
Events are counted from the bytes wrk read (102 bytes per event on the wire: a 96-byte event in chunked
framing), so streams still open at the end count for what they received — run.py's req/s counts whole
200-event answers, which 256 streams finish in batches.

Why side by side: on a shared machine, servers measured in turn see different neighbours; measured in the
same seconds, they see the same ones. Used for "SSE: where each event's cost goes" in README.md.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import wrkrun  # tests/bench/wrkrun.py: wrk's output parsed

EVENT_WIRE_BYTES = 102  # "60\r\n" + 96-byte event + "\r\n" (frameworks/bench_sse.py)


def cpu_seconds(pid: int) -> tuple[float, float]:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def main(argv: list[str]) -> None:
    connections = 256
    if argv[0].startswith("-c"):
        connections, argv = int(argv[0][2:]), argv[1:]
    seconds = int(argv[0])
    servers = [(name, int(port), int(pid)) for name, port, pid in (a.split(":") for a in argv[1:])]
    perf = shutil.which("perf")
    counters = [subprocess.Popen([perf, "stat", "-x,", "-e", "syscalls:sys_enter_writev", "-p", str(pid)],
                                 stderr=subprocess.PIPE, text=True) if perf else None
                for _, _, pid in servers]
    before = [cpu_seconds(pid) for _, _, pid in servers]
    loads = [subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "60s",
                               f"http://127.0.0.1:{port}/sse"], stdout=subprocess.PIPE, text=True)
             for _, port, _ in servers]
    outputs = [p.communicate()[0] for p in loads]
    after = [cpu_seconds(pid) for _, _, pid in servers]
    for (name, _, _), out, (u0, s0), (u1, s1), counter in zip(servers, outputs, before, after, counters):
        events = (wrkrun.parse(out).get("bytes_read") or 0) / EVENT_WIRE_BYTES
        writev = "n/a"
        if counter:
            counter.send_signal(2)
            text = counter.communicate()[1]
            if text.split(",")[0].strip().isdigit() and events:
                writev = f"{int(text.split(',')[0]) / events:.3f}"
        if not events:
            print(f"{name:10s} no events read")
            continue
        user, system = (u1 - u0) * 1e6 / events, (s1 - s0) * 1e6 / events
        print(f"{name:10s} events {events:9.0f}  user {user:5.2f}  sys {system:5.2f}  total {user + system:5.2f} "
              f"CPU-µs/event  writev/event {writev}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1:])
