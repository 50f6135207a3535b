"""PNG chart of a results.json (matplotlib, Agg backend).

    /work/main/.venv/bin/python tests/bench/chart.py RESULTS.json OUT.png

matplotlib is Debian's python3-matplotlib (tools/debian-packages.txt), not a venv package: the
venv has the same Python 3.11, so its dist-packages directory is appended to sys.path here (at
the end, so nothing in the venv is shadowed). run.py calls this in a subprocess.
"""
from __future__ import annotations

import json
import sys

sys.path.append("/usr/lib/python3/dist-packages")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"esg": "#d62728", "uvicorn": "#7f7f7f", "granian": "#1f77b4"}


def _color(name, i):
    return COLORS.get(name, plt.cm.tab10((i + 3) % 10))


def _grouped(ax, cats, servers, value, title, ylabel, fmt="{:.2f}", hline=None, log=False):
    width = 0.8 / max(1, len(servers))
    for i, s in enumerate(servers):
        xs, ys = [], []
        for j, c in enumerate(cats):
            v = value(s, c)
            if v is not None:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(v)
        bars = ax.bar(xs, ys, width, label=s, color=_color(s, i))
        for x, y in zip(xs, ys):
            ax.annotate(fmt.format(y), (x, y), ha="center", va="bottom", fontsize=6.5,
                        xytext=(0, 1), textcoords="offset points", rotation=90 if len(servers) > 3 else 0)
        del bars
    ax.set_xticks(range(len(cats)))
    ax.set_xticklabels(cats, rotation=20, ha="right", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    if log:
        ax.set_yscale("log")
    if hline is not None:
        ax.axhline(hline, color="black", lw=0.7, ls="--")
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)


def main(path, out):
    j = json.load(open(path))
    rows = j.get("summary", [])
    cg = j.get("callgrind", [])
    idle = j.get("idle", [])
    servers = []
    for r in rows + cg + idle:
        if r["server"] not in servers:
            servers.append(r["server"])
    cats = []
    for r in rows:
        if r["workload"] not in cats:
            cats.append(r["workload"])
    by = {(r["server"], r["workload"]): r for r in rows}

    fig, axes = plt.subplots(2, 2, figsize=(15, 9.5))
    ts = j.get("meta", {}).get("timestamp", "")
    fig.suptitle(f"ESG vs uvicorn vs Granian — {ts} (2 vCPU, noisy shared VM; medians of interleaved rounds)",
                 fontsize=11)
    if not rows:
        for ax in axes[0]:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "no wrk run", ha="center")
    else:
        _top(axes, cats, servers, by)
    _rest(axes, servers, cg, idle)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(out, dpi=110)
    return 0


def _top(axes, cats, servers, by):
    _grouped(axes[0][0], cats, servers,
             lambda s, c: (by.get((s, c)) or {}).get("rps_vs_baseline"),
             "throughput ÷ uvicorn's in the same round (req/s; messages/s for ws-echo)", "× uvicorn", hline=1.0)
    _grouped(axes[0][1], cats, servers,
             lambda s, c: (by.get((s, c)) or {}).get("cpu_us_per_req_median"),
             "server CPU-µs per request (whole process tree; lower is better)", "CPU-µs / request",
             fmt="{:.1f}", log=True)
    axes[0][0].legend(fontsize=8)


def _rest(axes, servers, cg, idle):
    cg_cats = []
    for r in cg:
        if r["workload"] not in cg_cats:
            cg_cats.append(r["workload"])
    cgby = {(r["server"], r["workload"]): r for r in cg}
    if cg:
        _grouped(axes[1][0], cg_cats, [s for s in servers if any(r["server"] == s for r in cg)],
                 lambda s, c: (cgby.get((s, c)) or {}).get("instr_per_req", 0) / 1e3 or None,
                 "callgrind user-space instructions per request (thousands; lower is better)", "k instructions",
                 fmt="{:.1f}k")
    else:
        axes[1][0].set_axis_off()
        axes[1][0].text(0.5, 0.5, "no callgrind run", ha="center")
    if idle:
        ax = axes[1][1]
        names = [r["server"] for r in idle]
        vals = [(r.get("tree_bytes_per_conn") or 0) / 1024 for r in idle]
        ax.bar(range(len(names)), vals, color=[_color(n, i) for i, n in enumerate(names)])
        for i, r in enumerate(idle):
            ax.annotate(f"{vals[i]:.2f} KiB/conn\nfresh req p50 {r.get('fresh_p50_ms') or 0:.2f} ms\n"
                        f"{r.get('still_open')}/{r.get('n')} open",
                        (i, vals[i]), ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                        textcoords="offset points")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=8)
        ax.axhline(1.0, color="black", lw=0.7, ls="--")
        ax.set_title(f"RSS growth per idle keep-alive connection ({idle[0].get('n')} open; target ≤ 1 KiB)",
                     fontsize=10)
        ax.set_ylabel("KiB / connection", fontsize=8)
        ax.margins(y=0.3)
        ax.grid(axis="y", alpha=0.3)
    else:
        axes[1][1].set_axis_off()
        axes[1][1].text(0.5, 0.5, "no idle-scale run", ha="center")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
