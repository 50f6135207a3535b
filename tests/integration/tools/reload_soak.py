#!/usr/bin/env python3
"""Reload soak: ESG (--workers W, UNIX socket) behind Debian's nginx, C keep-alive clients, R SIGHUP reloads
one after another; prints requests, failures, RPS and reload durations.

    ESG_BIN=bazel-bin/server/master/esg .venv/bin/python tests/integration/tools/reload_soak.py \\
        [--reloads 50] [--clients 32] [--workers 4]

Exit status 1 when any request failed.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from nginx_front import Load, Nginx, reload_n_times  # noqa: E402

APPS = HERE.parent / "apps"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reloads", type=int, default=50)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds of load before the first reload")
    args = parser.parse_args()
    esg = os.environ.get("ESG_BIN") or str(HERE.parents[2] / "bazel-bin/server/master/esg")
    python = os.environ.get("ESG_PYTHON") or sys.executable
    with tempfile.TemporaryDirectory(prefix="esg-soak-") as tmp:
        tmp_path = Path(tmp)
        uds = tmp_path / "esg.sock"
        err_path = tmp_path / "esg.stderr"
        env = dict(os.environ, ESG_PYTHON=python, PYTHONDONTWRITEBYTECODE="1")
        env.pop("WEB_CONCURRENCY", None)
        with open(err_path, "wb") as err:
            proc = subprocess.Popen([esg, "--workers", str(args.workers), "--uds", str(uds), "--no-access-log",
                                     "--app-dir", str(APPS), "sup_info:app"], stdout=subprocess.DEVNULL,
                                    stderr=err, env=env, start_new_session=True)
        nginx = Nginx(tmp_path / "nginx", uds)
        try:
            deadline = time.monotonic() + 30
            while b"ESG running on" not in err_path.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    print(err_path.read_text(), file=sys.stderr)
                    return 2
                time.sleep(0.05)
            inode = uds.stat().st_ino
            nginx.start()
            with Load(nginx.port, args.clients) as load:
                time.sleep(args.settle)
                durations = reload_n_times(proc.pid, err_path, args.reloads)
                time.sleep(args.settle)
            stats = load.stats
            nginx_errors = [line for line in nginx.error_log().splitlines() if "[error]" in line or "[crit]" in line]
            same_inode = uds.stat().st_ino == inode
        finally:
            nginx.stop()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        total = stats.ok + stats.failed
        print(f"workers={args.workers} clients={args.clients} reloads={args.reloads} duration={load.elapsed:.1f}s")
        print(f"requests={total} ok={stats.ok} failed={stats.failed} rps={total / load.elapsed:.0f}")
        print(f"distinct worker pids that answered={len(stats.pids)} "
              f"(expected about {args.workers * (args.reloads + 1)})")
        print(f"reload seconds: median={statistics.median(durations):.3f} "
              f"p90={sorted(durations)[int(len(durations) * 0.9) - 1]:.3f} max={max(durations):.3f}")
        print(f"socket inode unchanged={same_inode} esg exit={proc.returncode}")
        for e in stats.errors[:5]:
            print("error:", e[:120])
        for line in nginx_errors[:5]:
            print("nginx:", line)
        return 1 if stats.failed or not same_inode else 0


if __name__ == "__main__":
    sys.exit(main())
