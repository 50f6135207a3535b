"""Running wrk (pinned to its own CPU) and parsing its --latency output."""
from __future__ import annotations

import re
import shutil
import subprocess

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_BYTES = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    return round(float(m.group(1)) * _UNITS[m.group(2)], 6) if m else None


def parse(out: str) -> dict:
    r = {"requests": None, "rps": None, "latency_ms": {}, "errors": {}, "non_2xx": 0}
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(\w+),", out, re.M)
    if m:
        r["requests"] = int(m.group(1))
        r["duration_s"] = _ms(m.group(2) + m.group(3)) / 1e3
    m = re.search(r"^Requests/sec:\s*([\d.]+)", out, re.M)
    if m:
        r["rps"] = float(m.group(1))
    m = re.search(r"requests in [\d.]+\w+, ([\d.]+)([KMGT]?B) read", out)
    if m:
        r["bytes_read"] = float(m.group(1)) * _BYTES[m.group(2)]
    dist = out.split("Latency Distribution", 1)
    if len(dist) == 2:
        for pct, val in re.findall(r"^\s*(\d+)%\s+(\S+)", dist[1], re.M):
            r["latency_ms"][f"p{pct}"] = _ms(val)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r["errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups())))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non_2xx"] = int(m.group(1))
    return r


def command(port, workload, duration, connections=None, cpu="1", threads=1):
    argv = ["wrk", f"-t{threads}", f"-c{connections or workload.connections}", f"-d{max(1, round(duration))}s",
            "--latency", "--timeout", "10s"]
    if workload.lua:
        argv += ["-s", workload.lua_path()]
    argv.append(f"http://127.0.0.1:{port}{workload.path}")
    if cpu is not None:
        argv = ["taskset", "-c", cpu] + argv
    return argv


def run(port, workload, duration, cpu="1", connections=None) -> dict:
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed")
    argv = command(port, workload, duration, connections, cpu)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stderr.strip()}")
    r = parse(p.stdout)
    if workload.answer_bytes and r.get("bytes_read") and r.get("duration_s"):
        # A long stream: wrk counts an answer only once it is whole, so the streams still open at the end
        # (up to one answer per connection) would be lost; count the answers' worth of bytes read instead.
        r["requests"] = r["bytes_read"] / workload.answer_bytes
        r["rps"] = r["requests"] / r["duration_s"]
    r["argv"] = argv
    r["raw"] = p.stdout
    return r
