#!/work/main/.venv/bin/python
"""ESG benchmark harness: ESG vs uvicorn vs Granian (and optional peers), same app, same machine.

Not part of the pass/fail test suite. See tests/bench/README.md for the method.

    /work/main/.venv/bin/python tests/bench/run.py --all     # everything: all workloads, callgrind, idle, chart
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
import shlex
import shutil
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
import wsload  # noqa: E402
import idle  # noqa: E402
import app_cost  # noqa: E402
import split  # noqa: E402
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
    p.add_argument("--esg-args", default="",
                   help="extra options for ESG's command line, one string split like a shell's "
                        "(e.g. --esg-args '--metrics-bind 127.0.0.1:0' to measure the metrics' cost)")
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
    p.add_argument("--nginx-cpu", default="0",
                   help="CPU list for nginx in the nginx-uds workload (default 0: it shares the server's CPU; "
                        "wrk keeps CPU 1 to itself)")
    p.add_argument("--idle", action="store_true",
                   help="also run the idle-scale test (--idle-n keep-alive connections, RSS per connection, "
                        "fresh-request latency)")
    p.add_argument("--idle-n", type=int, default=10000, help="idle connections (default 10000)")
    p.add_argument("--idle-servers", default=None, help="servers for the idle test (default: --servers)")
    p.add_argument("--all", action="store_true",
                   help="everything in one go (8-10 minutes here): every workload, 3 rounds x 4 s after 1 s "
                        "warm-up, callgrind (hello, N=500), idle scale (10,000), chart")
    p.add_argument("--no-chart", action="store_true", help="do not draw chart.png")
    p.add_argument("--out", default=os.path.join(S.BENCH_DIR, "results"), help="results root (default: %(default)s)")
    a = p.parse_args(argv)
    quick = a.quick
    if a.all:
        a.callgrind = True
        a.idle = True
        a.duration = a.duration or 4.0
        a.warmup = a.warmup if a.warmup is not None else 1.0
        a.callgrind_n = a.callgrind_n or 500
    a.rounds = a.rounds or 3
    a.duration = a.duration or (3.0 if quick else 5.0)
    a.warmup = a.warmup if a.warmup is not None else (1.0 if quick else 2.0)
    a.workloads = (a.workloads or ("hello" if quick else ",".join(W.WORKLOADS))).split(",")
    a.callgrind_n = a.callgrind_n or (200 if quick else 1000)
    a.servers = [s for s in a.servers.split(",") if s]
    a.callgrind_workloads = [w for w in a.callgrind_workloads.split(",") if w]
    a.idle_servers = [s for s in (a.idle_servers or ",".join(a.servers)).split(",") if s]
    for w in a.callgrind_workloads:
        if W.WORKLOADS[w].mode not in ("tcp",) + S.APP_MODES:
            p.error(f"--callgrind-workloads: {w} is not a plain HTTP workload")
    for s in a.servers:
        if s not in S.SERVERS:
            p.error(f"--servers: unknown server {s!r} (known: {', '.join(S.SERVERS)})")
    for w in a.workloads + a.callgrind_workloads:
        if w not in W.WORKLOADS:
            p.error(f"unknown workload {w!r} (known: {', '.join(W.WORKLOADS)})")
    return a


def check_responses(port, workloads):
    """Same status, content-type and body from every server, before anything is measured."""
    problems, headers = {}, {}
    for wl in workloads:
        try:
            c = Client("127.0.0.1", port, timeout=30)
            st, hdrs, body = c.request(wl)
            c.close()
        except Exception as e:  # noqa: BLE001
            problems[wl] = f"request failed: {e!r}"
            continue
        h = dict(hdrs)
        w = W.WORKLOADS[wl]
        if st != 200 or not w.body_matches(body) or h.get(b"content-type") != w.content_type:
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

def _measure_wrk(a, port, w, client_cpu):
    if a.warmup > 0:
        wrkrun.run(port, w, a.warmup, cpu=client_cpu, connections=a.connections)
    return lambda: wrkrun.run(port, w, a.duration, cpu=client_cpu, connections=a.connections)


def _ws_run(port, w, duration, client_cpu, connections=None, warmup=0.0):
    argv = ["taskset", "-c", client_cpu, S.VENV_PY, os.path.join(S.BENCH_DIR, "wsload.py"), str(port),
            "--conns", str(connections or w.connections), "--size", str(w.ws_size),
            "--duration", str(duration), "--path", w.path]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 90)
    if p.returncode != 0:
        raise RuntimeError(f"wsload failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    r = json.loads(p.stdout)
    return {"requests": r["messages"], "rps": r["mps"], "latency_ms": r["latency_ms"],
            "errors": {"wrong_frames": r["wrong_frames"], "handshake": r["handshake_errors"],
                       "closed_early": r["closed_early"]},
            "non_2xx": 0, "argv": argv, "raw": p.stdout, "client_cpu_util": r["client_cpu_util"]}


def _measure_ws(a, port, w, client_cpu):
    if a.warmup > 0:
        _ws_run(port, w, a.warmup, client_cpu, a.connections)
    return lambda: _ws_run(port, w, a.duration, client_cpu, a.connections)


def start_mode(name, mode, a, opts, logdir):
    """Start server `name` as `mode` wants; returns (run, proxy or None, client port, server cpus,
    client cpus)."""
    m = S.MODES[mode]
    o = dict(opts, **m["opts"])
    server_cpu = m["server_cpu"] or a.server_cpu
    client_cpu = m["client_cpu"] or a.wrk_cpu
    port = S.free_port()
    tag = name if mode == "tcp" else f"{name}-{mode}"
    if m.get("uds"):
        d = tempfile.mkdtemp(prefix="esg-bench-uds-")
        os.chmod(d, 0o755)
        o["uds"] = os.path.join(d, "app.sock")
        run = S.start(S.SERVERS[name], o, 0, os.path.join(logdir, f"{tag}.log"), cpu=server_cpu)
        run.tmpdirs = [d]
        try:
            proxy = S.start(S.nginx_proxy_spec(o["uds"]), opts, port,
                            os.path.join(logdir, f"{tag}-nginx.log"), cpu=a.nginx_cpu)
        except Exception:
            run.stop()
            shutil.rmtree(d, ignore_errors=True)
            raise
        conf_dir = proxy.argv[proxy.argv.index("-p") + 1]
        shutil.copy(os.path.join(conf_dir, "nginx.conf"), os.path.join(logdir, f"{tag}-nginx.conf"))
        run.tmpdirs.append(conf_dir)
        return run, proxy, port, server_cpu, client_cpu
    run = S.start(S.SERVERS[name], o, port, os.path.join(logdir, f"{tag}.log"), cpu=server_cpu)
    return run, None, port, server_cpu, client_cpu


def wrk_rounds(a, servers, opts, logdir, skipped):
    records = []   # one per (round, server, workload)
    headers = {}
    broken = set()  # (server, workload) whose responses were wrong
    modes = []
    for wl in a.workloads:
        if W.WORKLOADS[wl].mode not in modes:
            modes.append(W.WORKLOADS[wl].mode)
    for rnd in range(1, a.rounds + 1):
        for name in servers:
            spec = S.SERVERS[name]
            for mode in modes:
                if mode not in spec.modes:
                    continue
                wls = [w for w in a.workloads if W.WORKLOADS[w].mode == mode and w not in spec.unsupported
                       and (name, w) not in broken]
                if not wls:
                    continue
                log(f"[round {rnd}/{a.rounds}] {name} ({mode}): starting")
                try:
                    run, proxy, port, server_cpu, client_cpu = start_mode(name, mode, a, opts, logdir)
                except Exception as e:  # noqa: BLE001
                    log(f"  {name} ({mode}): could not start: {e}")
                    skipped.setdefault(f"{name} ({mode})", f"could not start: {str(e).splitlines()[0]}")
                    continue
                try:
                    _rounds_one(a, rnd, name, mode, wls, run, proxy, port, server_cpu, client_cpu,
                                records, headers, broken, skipped)
                finally:
                    if proxy is not None:
                        proxy.stop()
                    rc = run.stop()
                    for d in getattr(run, "tmpdirs", ()):
                        shutil.rmtree(d, ignore_errors=True)
                    if rc not in (0, None) and rc != -2 and rc != -15:
                        log(f"  {name}: exit code {rc} (see {run.log_path})")
    return records, headers


def _rounds_one(a, rnd, name, mode, wls, run, proxy, port, server_cpu, client_cpu, records, headers,
                broken, skipped):
    http_wls = [w for w in wls if W.WORKLOADS[w].kind == "wrk"]
    problems, hdrs = check_responses(port, http_wls)
    for wl in wls:
        if W.WORKLOADS[wl].kind == "ws":
            why = wsload.check(port, W.WORKLOADS[wl].path)
            if why:
                problems[wl] = why
    for k, v in hdrs.items():
        headers.setdefault(name, {}).setdefault(k, v)
    for wl, why in problems.items():
        log(f"  {name} {wl}: WRONG RESPONSE ({why}); not measured")
        broken.add((name, wl))
        skipped.setdefault(f"{name}/{wl}", f"wrong response: {why}")
    for wl in wls:
        if (name, wl) in broken:
            continue
        w = W.WORKLOADS[wl]
        try:
            go = (_measure_ws if w.kind == "ws" else _measure_wrk)(a, port, w, client_cpu)
            cpu = S.TreeCpu(run.pid, S.parse_cpulist(server_cpu))
            pcpu = S.TreeCpu(proxy.pid) if proxy is not None else None
            client_cpus = S.parse_cpulist(client_cpu)
            c0 = S.cpu_counters(client_cpus)
            cpu.start()
            if pcpu:
                pcpu.start()
            res = go()
            cpu.stop()
            if pcpu:
                pcpu.stop()
        except Exception as e:  # noqa: BLE001
            log(f"  {name} {wl}: load run failed: {e}")
            skipped.setdefault(f"{name}/{wl} round {rnd}", f"load run failed: {str(e).splitlines()[0]}")
            if run.proc.poll() is not None:
                log(f"  {name} exited with {run.proc.returncode}: {run.log_tail(10)}")
                break
            continue
        cb, _, ct, _ = (y - x for x, y in zip(c0, S.cpu_counters(client_cpus)))
        n = res["requests"] or 0
        rec = {
            "round": rnd, "server": name, "workload": wl, "mode": mode, "port": port,
            "rps": res["rps"], "requests": n,
            "p50_ms": res["latency_ms"].get("p50"), "p99_ms": res["latency_ms"].get("p99"),
            "latency_ms": res["latency_ms"], "socket_errors": res["errors"], "non_2xx": res["non_2xx"],
            "cpu_s": cpu.seconds, "wall_s": cpu.wall,
            "cpu_us_per_req": cpu.seconds * 1e6 / n if n else None,
            "server_cpus": server_cpu, "client_cpus": client_cpu,
            "server_util": cpu.seconds / cpu.wall if cpu.wall else None,
            "server_cpus_other_busy": cpu.other_busy_s / cpu.cpu_total_s if cpu.cpu_total_s else None,
            "server_cpus_steal": cpu.steal_s / cpu.cpu_total_s if cpu.cpu_total_s else None,
            "server_cpus_irq": cpu.irq_s / cpu.cpu_total_s if cpu.cpu_total_s else None,
            # wrk: busy share of the load generator's CPU(s); ws: the wsload process's own CPU ÷ wall
            "wrk_cpus_busy": res.get("client_cpu_util", cb / ct if ct else None),
            "load_cpus_busy": cb / ct if ct else None,
            "proxy_cpu_us_per_req": pcpu.seconds * 1e6 / n if pcpu and n else None,
            "pids": sorted(cpu.t0), "cpu_per_pid_s": {str(k): v for k, v in cpu.per_pid.items()},
            "pids_vanished": cpu.vanished, "pids_appeared": cpu.appeared,
            "wrk_argv": res["argv"], "server_argv": run.argv, "server_env": run.env_extra,
            "proxy_argv": proxy.argv if proxy else None,
        }
        errs = sum(res["errors"].values()) + res["non_2xx"]
        log(f"  {name:>16} {wl:<15} {res['rps'] or 0:>10.0f} req/s  "
            f"p50 {rec['p50_ms']} ms  p99 {rec['p99_ms']} ms  "
            f"{rec['cpu_us_per_req'] or 0:6.1f} CPU-us/req  util {rec['server_util'] or 0:.2f}"
            f"  other {rec['server_cpus_other_busy'] or 0:.2f} irq {rec['server_cpus_irq'] or 0:.2f}"
            f" steal {rec['server_cpus_steal'] or 0:.2f}"
            f"  client-cpu busy {rec['wrk_cpus_busy'] or 0:.2f}"
            + (f"  nginx {rec['proxy_cpu_us_per_req']:.1f} CPU-us/req" if rec["proxy_cpu_us_per_req"] else "")
            + (f"  ERRORS {errs} {res['errors']}" if errs else "")
            + (f"  pids vanished {cpu.vanished}" if cpu.vanished else ""))
        records.append(rec)
        if run.proc.poll() is not None:
            log(f"  {name} EXITED during {wl} with {run.proc.returncode}: {run.log_tail(10)}")
            skipped.setdefault(f"{name} ({mode}) round {rnd}", f"server exited with {run.proc.returncode} during {wl}")
            break


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
                "proxy_cpu_us_per_req_median": median([r.get("proxy_cpu_us_per_req") for r in rs]),
                "mode": rs[0].get("mode", "tcp"),
                "errors": sum(sum(r["socket_errors"].values()) + r["non_2xx"] for r in rs),
            })
    return rows


def _f(x, fmt):
    return "–" if x is None else format(x, fmt)


def pivot(rows, servers, cg_rows):
    """Compact table: one line per workload, the servers side by side."""
    wls = []
    for r in rows:
        if r["workload"] not in wls:
            wls.append(r["workload"])
    by = {(r["server"], r["workload"]): r for r in rows}
    others = [s for s in servers if s != BASELINE]
    L = ["| workload | " + " | ".join(f"{s} req/s" for s in servers) + " | "
         + " | ".join(f"{s} × uvicorn" for s in others) + " | "
         + " | ".join(f"{s} CPU-µs/req" for s in servers) + " | "
         + " | ".join(f"{s} p50/p99 ms" for s in servers) + " |"]
    L.append("|---|" + "---:|" * (3 * len(servers) + len(others)))
    for wl in wls:
        cells = [wl]
        cells += [_f((by.get((s, wl)) or {}).get("rps_median"), ",.0f") for s in servers]
        cells += [_f((by.get((s, wl)) or {}).get("rps_vs_baseline"), ".2f") for s in others]
        cells += [_f((by.get((s, wl)) or {}).get("cpu_us_per_req_median"), ".1f") for s in servers]
        cells += [f"{_f((by.get((s, wl)) or {}).get('p50_ms_median'), '.2f')} / "
                  f"{_f((by.get((s, wl)) or {}).get('p99_ms_median'), '.2f')}" for s in servers]
        L.append("| " + " | ".join(cells) + " |")
    for wl in sorted({r["workload"] for r in cg_rows}):
        cb = {r["server"]: r for r in cg_rows if r["workload"] == wl}
        cells = [f"{wl}: instructions/req (callgrind)"]
        cells += [_f((cb.get(s) or {}).get("instr_per_req"), ",.0f") for s in servers]
        cells += [_f((cb.get(s) or {}).get("vs_baseline"), ".2f") for s in others]
        cells += [""] * (2 * len(servers))
        L.append("| " + " | ".join(cells) + " |")
    return L


def markdown(meta, rows, cg_rows, skipped, headers, a, idle_rows=(), servers=(), split_res=None):
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
        L.append("## Summary (medians of the rounds; × uvicorn = median of per-round ratios)")
        L.append("")
        L.extend(pivot(rows, list(servers), cg_rows))
        L.append("")
        L.append("ws-echo: messages/s instead of req/s, CPU-µs per message. nginx-uds-hello: the server's own "
                 "CPU only (nginx's is in the detailed table). hello-2w: `--workers 2`, server on CPUs 0-1, "
                 "wrk on CPU 1 (compare with hello: 1 worker alone on CPU 0).")
        L.append("")
    if rows:
        L.append(f"## Detailed: {a.rounds} interleaved rounds, {a.duration:g} s each after {a.warmup:g} s warm-up; "
                 f"server on CPU {a.server_cpu}, wrk on CPU {a.wrk_cpu}; medians over rounds; "
                 f"ratios against {meta['baseline']} in the same round")
        L.append("")
        L.append("| workload | server | req/s (median) | min–max | × uvicorn req/s | p50 ms | p99 ms "
                 "| CPU-µs/req | × uvicorn CPU | nginx CPU-µs/req | server CPU util | other procs/irq/steal on its CPU (max) "
                 "| client CPU busy | errors |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            L.append(f"| {r['workload']} | {r['server']} | {_f(r['rps_median'], ',.0f')} "
                     f"| {_f(r['rps_min'], ',.0f')}–{_f(r['rps_max'], ',.0f')} | {_f(r['rps_vs_baseline'], '.2f')} "
                     f"| {_f(r['p50_ms_median'], '.2f')} | {_f(r['p99_ms_median'], '.2f')} "
                     f"| {_f(r['cpu_us_per_req_median'], '.1f')} | {_f(r['cpu_vs_baseline'], '.2f')} "
                     f"| {_f(r.get('proxy_cpu_us_per_req_median'), '.1f')} "
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
                 "Client CPU busy: for wrk, the busy share of wrk's CPU (≈ 1.00: the load generator's core was "
                 "saturated, so the RPS is a client limit; CPU-µs/req is still valid); for ws-echo, the "
                 "wsload.py process's own CPU time ÷ wall time. "
                 "Pinning: server on CPU 0 and load on CPU 1, except nginx-uds-hello (nginx on CPU "
                 f"{a.nginx_cpu} beside the server, so server CPU util < 1 there) and hello-2w (server on CPUs 0-1, "
                 "wrk on CPU 1: the second worker competes with wrk).")
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
    if split_res:
        L.extend(split.markdown(*split_res))
    if idle_rows:
        L.append(f"## Idle scale: {idle_rows[0]['n']:,} keep-alive connections, each after one GET /")
        L.append("")
        L.append("| server | still open | RSS before → after (tree, KiB) | **RSS/conn (tree)** | RSS/conn (worker) "
                 "| fresh request p50 (max), idle open | fresh p50, nothing open | time to open all | open errors "
                 "| max open files (server procs) |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in idle_rows:
            if "error" in r:
                L.append(f"| {r['server']} | failed: {r['error']} |||||||||")
                continue
            L.append(f"| {r['server']} | {r['still_open']:,}/{r['opened']:,} "
                     f"| {r['tree_rss_before_kb']:,} → {r['tree_rss_after_kb']:,} "
                     f"| {_f(r['tree_bytes_per_conn'], ',.0f')} B | {_f(r['worker_bytes_per_conn'], ',.0f')} B "
                     f"| {r['fresh_p50_ms']:.2f} ms ({r['fresh_max_ms']:.2f}) | {r['fresh_p50_ms_before']:.2f} ms "
                     f"| {r['open_seconds']:.1f} s | {r['open_errors']} "
                     f"| {', '.join(sorted(set(map(str, r['nofile_limits'].values()))))} |")
        L.append("")
        L.append("RSS = VmRSS of /proc/PID/status summed over the server's processes (tree) or of the worker that "
                 "served the connections; per connection = growth ÷ connections still open after "
                 "the settle time. Fresh request = connect + GET / + whole response on a new connection, "
                 "sequential, 15 samples. Keep-alive timeouts raised to 600 s (ESG, uvicorn) and Granian's "
                 "header-read timeout to its maximum 60 s with `--backlog/--backpressure 16384` (by default it "
                 "serves at most 1024 connections at once and closes idle ones after 30 s).")
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


def _app_split(a, cg_rows, workdir, skipped):
    """The server vs framework+app split (split.py) of the callgrind workloads app_cost.py can drive, when
    one of them is a framework workload: (rows, in-process measurement), or None."""
    wls = [w for w in a.callgrind_workloads
           if W.WORKLOADS[w].mode in app_cost.ASGI_APPS or W.WORKLOADS[w].mode in app_cost.WSGI_APPS]
    if not cg_rows or all(W.WORKLOADS[w].mode in ("tcp", "wsgi") for w in wls):
        return None  # no framework workload (hello, wsgi-hello alone): no split, --quick/--all stay as fast
    log(f"[app cost] framework+app in-process (app_cost.py), N={a.callgrind_n} and 2N: {', '.join(wls)}")
    try:
        m = split.measure(wls, app_cost.interface, a.callgrind_n, os.path.join(workdir, "app-cost"), S.VENV_PY,
                          log=log)
    except Exception as e:  # noqa: BLE001
        log(f"  app cost failed: {e}")
        skipped["app cost (split)"] = str(e).splitlines()[0]
        return None
    totals = {(r["server"], r["workload"]): r["instr_per_req"] for r in cg_rows}
    return split.split(totals, {w: v["app"] for w, v in m["apps"].items()}), m


def main(argv=None):
    a = parse_args(argv)
    ts = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(a.out, ts)
    logdir = os.path.join(outdir, "logs")
    os.makedirs(logdir, exist_ok=True)
    opts = {"app_dir": S.BENCH_DIR, "esg_bin": os.path.abspath(a.esg_bin), "esg_args": shlex.split(a.esg_args)}
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
    used_modes = []
    for wl in a.workloads:
        if W.WORKLOADS[wl].mode not in used_modes:
            used_modes.append(W.WORKLOADS[wl].mode)
    for name in servers:
        for mode in used_modes:
            if mode not in S.SERVERS[name].modes:
                continue
            m = S.MODES[mode]
            o = dict(opts, **m["opts"])
            if m.get("uds"):
                o["uds"] = "/tmp/esg-bench-uds-XXXX/app.sock"
            argv, env = S.SERVERS[name].build(8000, S.BENCH_DIR, o)
            meta["commands"][name if mode == "tcp" else f"{name} ({mode})"] = " ".join(
                [f"{k}={v}" for k, v in env.items()] + ["taskset", "-c", m["server_cpu"] or a.server_cpu] + argv)
    if "nginx-uds" in used_modes:
        meta["commands"]["nginx (nginx-uds)"] = (
            f"taskset -c {a.nginx_cpu} nginx -c CONF (proxy_pass to unix:SOCK, upstream keepalive 64, "
            "proxy_http_version 1.1, Connection \"\"; the exact file: logs/*-nginx-uds-nginx.conf)")
    if "ws" in used_modes:
        meta["commands"]["wsload"] = (f"taskset -c {a.wrk_cpu} {S.VENV_PY} tests/bench/wsload.py PORT --conns 64 "
                                      f"--size 64 --duration {a.duration:g}")
    meta["wrk_example"] = " ".join(wrkrun.command(8000, W.WORKLOADS[a.workloads[0]], a.duration,
                                                  a.connections, a.wrk_cpu))
    t0 = time.monotonic()
    records, headers, rows = [], {}, []
    if not a.no_wrk:
        records, headers = wrk_rounds(a, servers, opts, logdir, skipped)
        rows = summarize(records, servers, a.workloads, baseline)
    cg_rows, split_res = [], None
    if a.callgrind:
        if a.keep_callgrind:
            workdir = os.path.join(outdir, "callgrind")
            os.makedirs(workdir, exist_ok=True)
        else:
            workdir = tempfile.mkdtemp(prefix="esg-cg-")
        os.chmod(workdir, 0o755)  # workers that drop privileges (nginx) write their callgrind.out here
        for wl in a.callgrind_workloads:
            for name in servers:
                if wl in S.SERVERS[name].unsupported:
                    continue
                log(f"[callgrind] {name} {wl}: N={a.callgrind_n} and 2N")
                try:
                    mode = W.WORKLOADS[wl].mode
                    if mode not in S.SERVERS[name].modes:
                        continue
                    r = callgrind.measure(S.SERVERS[name], dict(opts, **S.MODES[mode]["opts"]), wl,
                                          a.callgrind_n, workdir, logdir,
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
        split_res = _app_split(a, cg_rows, workdir, skipped)
    idle_rows = []
    if a.idle:
        for name in a.idle_servers:
            if name not in servers or "idle" not in S.SERVERS[name].modes:
                continue
            log(f"[idle] {name}: {a.idle_n} keep-alive connections")
            try:
                r = idle.measure(S.SERVERS[name], opts, a.idle_n, logdir, server_cpu=a.server_cpu,
                                 client_cpu=a.wrk_cpu)
                log(f"  {name}: {r['still_open']}/{r['opened']} open, "
                    f"{(r['tree_bytes_per_conn'] or 0):.0f} B/conn (worker {(r['worker_bytes_per_conn'] or 0):.0f}), "
                    f"fresh request p50 {r['fresh_p50_ms']:.2f} ms (max {r['fresh_max_ms']:.2f}), "
                    f"{r['open_errors']} open errors")
            except Exception as e:  # noqa: BLE001
                log(f"  {name}: idle test failed: {e}")
                r = {"server": name, "n": a.idle_n, "error": str(e).splitlines()[0]}
                skipped[f"idle {name}"] = r["error"]
            idle_rows.append(r)
    meta["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    meta["elapsed_s"] = time.monotonic() - t0
    md = markdown(meta, rows, cg_rows, skipped, headers, a, [r for r in idle_rows], servers, split_res)
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"meta": meta, "summary": rows, "records": records, "callgrind": cg_rows,
                   "idle": [r for r in idle_rows if "error" not in r],
                   "skipped": skipped, "response_headers": headers,
                   "split": {"rows": split_res[0], **split_res[1]} if split_res else None},
                  f, indent=1, default=str)
    if not a.no_chart and (rows or cg_rows or idle_rows):
        p = subprocess.run([S.VENV_PY, os.path.join(S.BENCH_DIR, "chart.py"), os.path.join(outdir, "results.json"),
                            os.path.join(outdir, "chart.png")], capture_output=True, text=True)
        if p.returncode != 0:
            log(f"chart failed: {p.stderr.strip()[-800:]}")
        else:
            log(f"chart: {outdir}/chart.png")
    print(md)
    log(f"results: {outdir}/results.md (+ results.json, logs/); {meta['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
