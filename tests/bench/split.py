"""Per-request split of the callgrind instructions: server vs framework + app (issue 16).

A server's instructions per request (callgrind.py: serving process, N vs 2N) contain the server's own code,
the interpreter work it causes (the C-API calls it makes, its Python) and the framework + app. Callgrind
cannot tell the server's Python from the framework's (both are `_PyEval_EvalFrameDefault`), so the
framework + app part is measured apart, in-process and without any server, by app_cost.py under
callgrind with the same N vs 2N subtraction:

    framework+app = D(app) - D(null) - sum over the driver's callbacks of calls x cost per call
    server part   = total - framework+app        (the same framework+app for every server)
    ratio         = ESG's server part / a peer's server part

D(app) is the driver's instructions per request with the workload's app, D(null) with an app that returns
at once, the per-call costs from apps that call send / receive / start_response 8 times
(see app_cost.py). The arithmetic is below (pure functions, split_test.py); `measure()` runs the driver.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
CALLS = 8  # the calibration apps call their callback this many times

ASGI_CALIB = ("asgi-null", "asgi-send8", "asgi-null-r", "asgi-recv8")
WSGI_CALIB = ("wsgi-null", "wsgi-sr8")


def per_request(i_n: int, i_2n: int, n: int) -> float:
    """(I(2N) - I(N)) / N."""
    return (i_2n - i_n) / n


def driver_costs(calib: dict) -> dict:
    """The driver's own cost, from the calibration apps' instructions per request (None where not measured):
    base per request (asgi / wsgi) and per call (send, receive, start_response)."""
    c = {}
    if all(k in calib for k in ASGI_CALIB):
        c["asgi"] = calib["asgi-null"]
        c["send"] = (calib["asgi-send8"] - calib["asgi-null"]) / CALLS
        c["receive"] = (calib["asgi-recv8"] - calib["asgi-null-r"]) / CALLS
    if all(k in calib for k in WSGI_CALIB):
        c["wsgi"] = calib["wsgi-null"]
        c["start_response"] = (calib["wsgi-sr8"] - calib["wsgi-null"]) / CALLS
    return c


def app_cost(interface: str, driver_instr: float, counts: dict, costs: dict) -> float:
    """Framework + app instructions per request: the driver's total less its base and its callbacks."""
    out = driver_instr - costs[interface]
    for callback, calls in counts.items():
        out -= calls * costs[callback]
    return out


def split(totals: dict, app: dict, esg: str = "esg") -> list:
    """Rows (workload, server, total, framework+app, server part, server share of the total, and
    vs_esg: ESG's server part / this server's). totals: {(server, workload): instr/req};
    app: {workload: framework+app instr/req}. Workloads without an app figure are left out."""
    rows = []
    for (server, wl), total in totals.items():
        if wl not in app or total is None:
            continue
        part = total - app[wl]
        rows.append({"workload": wl, "server": server, "total": total, "app": app[wl], "server_part": part,
                     "server_share": part / total if total else None})
    for r in rows:
        e = [x for x in rows if x["server"] == esg and x["workload"] == r["workload"]]
        r["esg_vs"] = (e[0]["server_part"] / r["server_part"]
                       if e and r["server"] != esg and r["server_part"] > 0 else None)
    return rows


# ------------------------------------------------------------------ running the driver under callgrind

def _driver_instr(argv_tail, n, workdir, tag, python):
    from callgrind import totals
    got = []
    for k in (n, 2 * n):
        out = os.path.join(workdir, f"app-{tag}-{k}.out")
        argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python,
                os.path.join(BENCH_DIR, "app_cost.py")] + argv_tail + [str(k)]
        p = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="0"))
        if p.returncode != 0:
            raise RuntimeError(f"app_cost.py {' '.join(argv_tail)} {k} failed ({p.returncode}): "
                               f"{p.stderr.strip()[-400:]}")
        got.append(totals(out))
    return per_request(got[0], got[1], n)


def measure(workloads, interface_of, n, workdir, python, log=print):
    """{"calib": {...}, "costs": {...}, "apps": {workload: {"driver", "counts", "app"}}}."""
    if not shutil.which("valgrind"):
        raise RuntimeError("valgrind is not installed")
    os.makedirs(workdir, exist_ok=True)
    kinds = {interface_of(w) for w in workloads}
    calib = {}
    for k in (ASGI_CALIB if "asgi" in kinds else ()) + (WSGI_CALIB if "wsgi" in kinds else ()):
        calib[k] = _driver_instr(["--calib", k], n, workdir, k, python)
        log(f"  [app cost] calibration {k}: {calib[k]:,.0f} instructions/request")
    costs = driver_costs(calib)
    apps = {}
    for w in workloads:
        p = subprocess.run([python, os.path.join(BENCH_DIR, "app_cost.py"), "--counts", w, "1"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"app_cost.py --counts {w}: {p.stderr.strip()[-400:]}")
        counts = json.loads(p.stdout)
        d = _driver_instr([w], n, workdir, w, python)
        apps[w] = {"driver": d, "counts": counts, "app": app_cost(interface_of(w), d, counts, costs)}
        log(f"  [app cost] {w}: framework+app {apps[w]['app']:,.0f} instructions/request "
            f"(driver {d:,.0f}, calls {counts})")
    return {"n": n, "calib": calib, "costs": costs, "apps": apps}


def markdown(rows, m) -> list:
    """The results.md section."""
    c = m["costs"]
    L = [f"## Per-request split: server vs framework + app (callgrind; framework + app in-process, "
         f"app_cost.py, N = {m['n']})", "",
         "| workload | server | total instr/req | framework+app | server part | server % | ESG part ÷ this |",
         "|---|---|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["workload"], r["server"] != "esg", r["server"])):
        share = f"{100 * r['server_share']:.0f}%" if r["server_share"] is not None else "–"
        vs = f"{r['esg_vs']:.2f}" if r["esg_vs"] is not None else "–"
        L.append(f"| {r['workload']} | {r['server']} | {r['total']:,.0f} | {r['app']:,.0f} | "
                 f"{r['server_part']:,.0f} | {share} | {vs} |")
    L.append("")
    L.append("Driver costs subtracted (instr/req or per call): " + ", ".join(
        f"{k} {v:,.0f}" for k, v in c.items()) + ". Calls per request: " + "; ".join(
        f"{w} {a['counts']}" for w, a in m["apps"].items()) + ".")
    L.append("")
    return L
