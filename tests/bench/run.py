#!/work/main/.venv/bin/python
"""ESG benchmark harness: ESG vs uvicorn vs Granian (and optional peers), same app, same machine.

Not part of the pass/fail test suite. See tests/bench/README.md for the method.

    /work/main/.venv/bin/python tests/bench/run.py --quick
    /work/main/.venv/bin/python tests/bench/run.py                       # all workloads, 3 rounds x 5 s
    /work/main/.venv/bin/python tests/bench/run.py --callgrind --no-wrk  # instructions/request only
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import callgrind  # noqa: E402
import servers as S  # noqa: E402
import workloads as W  # noqa: E402
import wrkrun  # noqa: E402
from client import Client  # noqa: E402

BASELINE = "uvicorn"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default="esg,uvicorn,granian",
                   help=f"comma list from: {', '.join(S.SERVERS)} (default: esg,uvicorn,granian)")
    p.add_argument("--workloads", default=None,
                   help=f"comma list from: {', '.join(W.WORKLOADS)} (default: all; --quick: hello)")
    p.add_argument("--esg-bin", default=S.DEFAULT_ESG_BIN, help="ESG master binary (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    p.add_argument("--duration", type=float, default=None, help="seconds per measured wrk run (default 5)")
    p.add_argument("--warmup", type=float, default=None, help="seconds of wrk warm-up before each (default 2)")
    p.add_argument("--connections", type=int, default=None,
                   help="override every workload's wrk -c (defaults: 64; sleep: 512)")
    p.add_argument("--server-cpu", default="0", help="CPU list for the server (taskset -c), default 0")
    p.add_argument("--wrk-cpu", default="1", help="CPU list for wrk (taskset -c), default 1")
    p.add_argument("--quick", action="store_true",
                   help="hello only, 3 rounds x 3 s, 1 s warm-up (under 2 minutes); callgrind N=200")
    p.add_argument("--no-wrk", action="store_true", help="skip the wrk rounds (e.g. with --callgrind)")
    p.add_argument("--callgrind", action="store_true", help="also measure instructions/request under callgrind")
    p.add_argument("--callgrind-n", type=int, default=None, help="N of the N vs 2N runs (default 1000)")
    p.add_argument("--callgrind-workloads", default="hello", help="workloads for callgrind (default: hello)")
    p.add_argument("--keep-callgrind", action="store_true", help="keep the callgrind.out files in the results dir")
    p.add_argument("--out", default=os.path.join(S.BENCH_DIR, "results"), help="results root (default: %(default)s)")
    a = p.parse_args(argv)
    quick = a.quick
    a.rounds = a.rounds or 3
    a.duration = a.duration or (3.0 if quick else 5.0)
    a.warmup = a.warmup if a.warmup is not None else (1.0 if quick else 2.0)
    a.workloads = (a.workloads or ("hello" if quick else ",".join(W.WORKLOADS))).split(",")
    a.callgrind_n = a.callgrind_n or (200 if quick else 1000)
    a.servers = [s for s in a.servers.split(",") if s]
    a.callgrind_workloads = [w for w in a.callgrind_workloads.split(",") if w]
    for s in a.servers:
        if s not in S.SERVERS:
            p.error(f"--servers: unknown server {s!r} (known: {', '.join(S.SERVERS)})")
    for w in a.workloads + a.callgrind_workloads:
        if w not in W.WORKLOADS:
            p.error(f"unknown workload {w!r} (known: {', '.join(W.WORKLOADS)})")
    return a


def check_responses(run, workloads):
    """Same status, content-type and body from every server, before anything is measured."""
    problems, headers = {}, {}
    for wl in workloads:
        try:
            c = Client("127.0.0.1", run.port, timeout=30)
            st, hdrs, body = c.request(wl)
            c.close()
        except Exception as e:  # noqa: BLE001
            problems[wl] = f"request failed: {e!r}"
            continue
        h = dict(hdrs)
        if st != 200 or body != W.WORKLOADS[wl].expect_body or h.get(b"content-type") != b"text/plain":
            problems[wl] = f"status {st}, content-type {h.get(b'content-type')}, body {len(body)} bytes"
        headers[wl] = [k.decode() for k, _ in hdrs]
    return problems, headers


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def versions():
    v = {}
    py = S.VENV_PY
    code = ("import importlib.metadata as m\n"
            "for n in ['uvicorn','granian','uvloop','httptools','hypercorn','gunicorn','h11']:\n"
            "  try: print(n, m.version(n))\n"
            "  except Exception: print(n, '-')")
    out = subprocess.run([py, "-c", code], capture_output=True, text=True).stdout
    for line in out.splitlines():
        k, _, val = line.partition(" ")
        v[k] = val
    v["python"] = subprocess.run([py, "-V"], capture_output=True, text=True).stdout.strip()
    for prog, arg in (("wrk", "-v"), ("valgrind", "--version"), ("nginx", "-v")):
        try:
            r = subprocess.run([prog, arg], capture_output=True, text=True)
            v[prog] = (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            v[prog] = "-"
    try:
        v["repo_commit"] = subprocess.run(["git", "-C", S.REPO, "rev-parse", "--short", "HEAD"],
                                          capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return v


def machine():
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "ncpu": os.cpu_count(), "kernel": platform.release(),
            "loadavg": open("/proc/loadavg").read().split()[:3]}


# ------------------------------------------------------------------------- wrk rounds

def wrk_rounds(a, servers, opts, logdir, skipped):
    records = []   # one per (round, server, workload)
    headers = {}
    broken = set()  # (server, workload) whose responses were wrong
    for rnd in range(1, a.rounds + 1):
        for name in servers:
            spec = S.SERVERS[name]
            wls = [w for w in a.workloads if w not in spec.unsupported and (name, w) not in broken]
            if not wls:
                continue
            port = S.free_port()
            log(f"[round {rnd}/{a.rounds}] {name}: starting on :{port}")
            try:
                run = S.start(spec, opts, port, os.path.join(logdir, f"{name}.log"), cpu=a.server_cpu)
            except Exception as e:  # noqa: BLE001
                log(f"  {name}: could not start: {e}")
                skipped.setdefault(name, f"could not start: {str(e).splitlines()[0]}")
                continue
            try:
                problems, hdrs = check_responses(run, wls)
                headers.setdefault(name, hdrs)
                for wl, why in problems.items():
                    log(f"  {name} {wl}: WRONG RESPONSE ({why}); not measured")
                    broken.add((name, wl))
                    skipped.setdefault(f"{name}/{wl}", f"wrong response: {why}")
                for wl in wls:
                    if (name, wl) in broken:
                        continue
                    w = W.WORKLOADS[wl]
                    if a.warmup > 0:
                        wrkrun.run(port, w, a.warmup, cpu=a.wrk_cpu, connections=a.connections)
                    cpu = S.TreeCpu(run.pid, S.parse_cpulist(a.server_cpu))
                    wrk_cpus = S.parse_cpulist(a.wrk_cpu)
                    c0 = S.cpu_counters(wrk_cpus)
                    cpu.start()
                    res = wrkrun.run(port, w, a.duration, cpu=a.wrk_cpu, connections=a.connections)
                    cpu.stop()
                    cb, _, ct, _ = (y - x for x, y in zip(c0, S.cpu_counters(wrk_cpus)))
                    n = res["requests"] or 0
                    rec = {
                        "round": rnd, "server": name, "workload": wl, "port": port,
                        "rps": res["rps"], "requests": n,
                        "p50_ms": res["latency_ms"].get("p50"), "p99_ms": res["latency_ms"].get("p99"),
                        "latency_ms": res["latency_ms"], "socket_errors": res["errors"], "non_2xx": res["non_2xx"],
                        "cpu_s": cpu.seconds, "wall_s": cpu.wall,
                        "cpu_us_per_req": cpu.seconds * 1e6 / n if n else None,
                        "server_util": cpu.seconds / cpu.wall if cpu.wall else None,
                        "server_cpus_other_busy": cpu.other_busy_s / cpu.cpu_total_s if cpu.cpu_total_s else None,
                        "server_cpus_steal": cpu.steal_s / cpu.cpu_total_s if cpu.cpu_total_s else None,
                        "server_cpus_irq": cpu.irq_s / cpu.cpu_total_s if cpu.cpu_total_s else None,
                        "wrk_cpus_busy": cb / ct if ct else None,
                        "pids": sorted(cpu.t0), "cpu_per_pid_s": {str(k): v for k, v in cpu.per_pid.items()},
                        "pids_vanished": cpu.vanished, "pids_appeared": cpu.appeared,
                        "wrk_argv": res["argv"], "server_argv": run.argv, "server_env": run.env_extra,
                    }
                    errs = sum(res["errors"].values()) + res["non_2xx"]
                    log(f"  {name:>16} {wl:<14} {res['rps'] or 0:>10.0f} req/s  "
                        f"p50 {rec['p50_ms']} ms  p99 {rec['p99_ms']} ms  "
                        f"{rec['cpu_us_per_req'] or 0:6.1f} CPU-us/req  util {rec['server_util'] or 0:.2f}"
                        f"  other {rec['server_cpus_other_busy'] or 0:.2f} irq {rec['server_cpus_irq'] or 0:.2f}"
                        f" steal {rec['server_cpus_steal'] or 0:.2f}"
                        f"  wrk-cpu busy {rec['wrk_cpus_busy'] or 0:.2f}"
                        + (f"  ERRORS {errs}" if errs else "")
                        + (f"  pids vanished {cpu.vanished}" if cpu.vanished else ""))
                    records.append(rec)
            finally:
                rc = run.stop()
                if rc not in (0, None) and rc != -2 and rc != -15:
                    log(f"  {name}: exit code {rc} (see {run.log_path})")
    return records, headers


def summarize(records, servers, workloads, baseline):
    rows = []
    for wl in workloads:
        for name in servers:
            rs = [r for r in records if r["server"] == name and r["workload"] == wl]
            if not rs:
                continue
            ratio_rps, ratio_cpu = [], []
            for r in rs:
                b = [x for x in records if x["server"] == baseline and x["workload"] == wl
                     and x["round"] == r["round"]]
                if b and b[0]["rps"] and r["rps"]:
                    ratio_rps.append(r["rps"] / b[0]["rps"])
                if b and b[0]["cpu_us_per_req"] and r["cpu_us_per_req"]:
                    ratio_cpu.append(r["cpu_us_per_req"] / b[0]["cpu_us_per_req"])
            rows.append({
                "server": name, "workload": wl, "rounds": len(rs),
                "rps_median": median([r["rps"] for r in rs]),
                "rps_min": min((r["rps"] or 0) for r in rs), "rps_max": max((r["rps"] or 0) for r in rs),
                "p50_ms_median": median([r["p50_ms"] for r in rs]),
                "p99_ms_median": median([r["p99_ms"] for r in rs]),
                "cpu_us_per_req_median": median([r["cpu_us_per_req"] for r in rs]),
                "server_util_median": median([r["server_util"] for r in rs]),
                "other_busy_max": max((r["server_cpus_other_busy"] or 0) for r in rs),
                "steal_max": max((r["server_cpus_steal"] or 0) for r in rs),
                "irq_max": max((r["server_cpus_irq"] or 0) for r in rs),
                "wrk_cpu_busy_median": median([r["wrk_cpus_busy"] for r in rs]),
                "rps_vs_baseline": median(ratio_rps), "cpu_vs_baseline": median(ratio_cpu),
                "errors": sum(sum(r["socket_errors"].values()) + r["non_2xx"] for r in rs),
            })
    return rows


def _f(x, fmt):
    return "–" if x is None else format(x, fmt)


def markdown(meta, rows, cg_rows, skipped, headers, a):
    L = [f"# ESG benchmark — {meta['timestamp']}", ""]
    m = meta["machine"]
    L.append(f"Machine: {m['cpu']} ({m['ncpu']} CPUs), Linux {m['kernel']}, "
             f"loadavg before {' '.join(m['loadavg'])}, after {' '.join(meta['loadavg_after'])}.  ")
    v = meta["versions"]
    L.append("Versions: " + ", ".join(f"{k} {v[k]}" for k in
                                       ("python", "uvicorn", "granian", "uvloop", "httptools", "hypercorn", "gunicorn")
                                       if k in v) + f"; {v.get('wrk', '')}; repo {v.get('repo_commit', '?')}.")
    L.append("")
    if rows:
        L.append(f"## wrk: {a.rounds} interleaved rounds, {a.duration:g} s each after {a.warmup:g} s warm-up; "
                 f"server on CPU {a.server_cpu}, wrk on CPU {a.wrk_cpu}; medians over rounds; "
                 f"ratios against {meta['baseline']} in the same round")
        L.append("")
        L.append("| workload | server | req/s (median) | min–max | × uvicorn req/s | p50 ms | p99 ms "
                 "| CPU-µs/req | × uvicorn CPU | server CPU util | other procs/irq/steal on its CPU (max) | wrk CPU busy | errors |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            L.append(f"| {r['workload']} | {r['server']} | {_f(r['rps_median'], ',.0f')} "
                     f"| {_f(r['rps_min'], ',.0f')}–{_f(r['rps_max'], ',.0f')} | {_f(r['rps_vs_baseline'], '.2f')} "
                     f"| {_f(r['p50_ms_median'], '.2f')} | {_f(r['p99_ms_median'], '.2f')} "
                     f"| {_f(r['cpu_us_per_req_median'], '.1f')} | {_f(r['cpu_vs_baseline'], '.2f')} "
                     f"| {_f(r['server_util_median'], '.2f')} | {_f(r['other_busy_max'], '.2f')}/{_f(r['irq_max'], '.2f')}"
                     f"/{_f(r['steal_max'], '.2f')} "
                     f"| {_f(r['wrk_cpu_busy_median'], '.2f')} | {r['errors']} |")
        L.append("")
        L.append("CPU-µs/req = (utime+stime of the server's whole process tree, all threads) over the measured "
                 "wrk run ÷ completed requests. Server CPU util = that CPU time ÷ wall time (≈1.00 means the "
                 "server was CPU-bound on its core; much lower on a CPU-bound workload means the run was "
                 "disturbed or the client was the bottleneck). Other procs/irq/steal = share of the server CPU's time "
                 "spent in processes other than the server's (other tenants), in irq/softirq (kernel "
                 "network work not charged to any process), and hypervisor steal (from /proc/stat; "
                 "worst round). "
                 "wrk CPU busy ≈ 1.00 means the load generator's core was saturated (the RPS is then a "
                 "client limit, not the server's; CPU-µs/req is still valid).")
        L.append("")
    if cg_rows:
        L.append(f"## callgrind: user-space instructions per request, (I(2N) − I(N)) / N, N = {a.callgrind_n}, "
                 "serving process only")
        L.append("")
        L.append("| workload | server | instructions/req | × uvicorn | whole tree instr/req | I(N) | I(2N) |")
        L.append("|---|---|---:|---:|---:|---:|---:|")
        for r in cg_rows:
            L.append(f"| {r['workload']} | {r['server']} | {_f(r.get('instr_per_req'), ',.0f')} "
                     f"| {_f(r.get('vs_baseline'), '.2f')} | {_f(r.get('tree_instr_per_req'), ',.0f')} "
                     f"| {_f(r['runs'][0]['serving_instr'] if r.get('runs') else None, ',')} "
                     f"| {_f(r['runs'][1]['serving_instr'] if r.get('runs') else None, ',')} |")
        L.append("")
    if skipped:
        L.append("## Skipped")
        L.append("")
        for k, why in skipped.items():
            L.append(f"- **{k}**: {why}")
        L.append("")
    L.append("## Commands")
    L.append("")
    for name, cmd in meta["commands"].items():
        L.append(f"- {name}: `{cmd}`")
    L.append(f"- wrk: `{meta.get('wrk_example', '')}`")
    if headers:
        L.append("")
        L.append("Response header names (hello): " + "; ".join(
            f"{s}: {', '.join(h.get('hello', []))}" for s, h in headers.items()))
    L.append("")
    return "\n".join(L)


def main(argv=None):
    a = parse_args(argv)
    ts = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(a.out, ts)
    logdir = os.path.join(outdir, "logs")
    os.makedirs(logdir, exist_ok=True)
    opts = {"app_dir": S.BENCH_DIR, "esg_bin": os.path.abspath(a.esg_bin)}
    skipped = {}
    servers = []
    for name in a.servers:
        why = S.SERVERS[name].needs(opts) if S.SERVERS[name].needs else None
        if why:
            log(f"SKIP {name}: {why}")
            skipped[name] = why
        else:
            servers.append(name)
    if not servers:
        log("no server to measure")
        return 2
    baseline = BASELINE if BASELINE in servers else servers[0]
    if baseline != BASELINE:
        log(f"note: uvicorn not selected, ratios are against {baseline}")
    meta = {"timestamp": ts, "machine": machine(), "versions": versions(), "baseline": baseline,
            "args": {k: v for k, v in vars(a).items()}, "commands": {}}
    for name in servers:
        argv, env = S.SERVERS[name].build(8000, S.BENCH_DIR, opts)
        meta["commands"][name] = " ".join([f"{k}={v}" for k, v in env.items()]
                                          + ["taskset", "-c", a.server_cpu] + argv)
    meta["wrk_example"] = " ".join(wrkrun.command(8000, W.WORKLOADS[a.workloads[0]], a.duration,
                                                  a.connections, a.wrk_cpu))
    t0 = time.monotonic()
    records, headers, rows = [], {}, []
    if not a.no_wrk:
        records, headers = wrk_rounds(a, servers, opts, logdir, skipped)
        rows = summarize(records, servers, a.workloads, baseline)
    cg_rows = []
    if a.callgrind:
        workdir = os.path.join(outdir, "callgrind") if a.keep_callgrind else tempfile.mkdtemp(prefix="esg-cg-")
        os.chmod(workdir, 0o755)  # workers that drop privileges (nginx) write their callgrind.out here
        for wl in a.callgrind_workloads:
            for name in servers:
                if wl in S.SERVERS[name].unsupported:
                    continue
                log(f"[callgrind] {name} {wl}: N={a.callgrind_n} and 2N")
                try:
                    r = callgrind.measure(S.SERVERS[name], opts, wl, a.callgrind_n, workdir, logdir,
                                          keep=a.keep_callgrind)
                    log(f"  {name} {wl}: {r['instr_per_req']:,.0f} instructions/request "
                        f"(whole tree {r['tree_instr_per_req']:,.0f})")
                except Exception as e:  # noqa: BLE001
                    log(f"  {name} {wl}: callgrind failed: {e}")
                    skipped[f"callgrind {name}/{wl}"] = str(e).splitlines()[0]
                    continue
                cg_rows.append(r)
        for r in cg_rows:
            b = [x for x in cg_rows if x["server"] == baseline and x["workload"] == r["workload"]]
            r["vs_baseline"] = r["instr_per_req"] / b[0]["instr_per_req"] if b and b[0]["instr_per_req"] else None
    meta["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    meta["elapsed_s"] = time.monotonic() - t0
    md = markdown(meta, rows, cg_rows, skipped, headers, a)
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": rows, "records": records, "callgrind": cg_rows,
                   "skipped": skipped, "response_headers": headers}, f, indent=1, default=str)
    print(md)
    log(f"results: {outdir}/results.md (+ results.json, logs/); {meta['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
