"""Recycling by memory and by age through the `esg` command (and esg.run): --limit-worker-memory replaces a
worker whose RSS passed the limit, --limit-worker-lifetime one that ran long enough — the replacement first,
then the old worker drains, so no request fails. Each is visible in `esgctl status` (restart counters, the
recycling worker), in `esgctl events` (worker_recycling) and in the log."""

from __future__ import annotations

import json
import subprocess
import textwrap
import threading

import pytest

from test_control import _esgctl, esgctl, ok, sockdir  # noqa: F401  (fixture)
from test_supervision import WAIT, get_info, wait_until, wait_workers
from deploy_support import APPS, env_for, free_port, get, procs, python  # noqa: F401  (fixture)


def restarts(sock: str) -> dict:
    status = json.loads(ok(esgctl(sock, "--json", "status")))
    return {r["reason"]: int(r.get("count", 0)) for r in status["worker_restarts"]}


@pytest.mark.timeout(180)
def test_limit_worker_memory_replaces_a_leaking_worker_without_failed_requests(esg_server, sockdir):
    sock = str(sockdir / "control.sock")
    server = esg_server(["--workers", "2", "--limit-worker-memory", "150", "--control-socket", sock],
                        app="leaky:app")
    first = set(wait_workers(server, 2))
    assert restarts(sock) == {"crash": 0, "heartbeat": 0, "max-requests": 0, "memory": 0, "age": 0, "reload": 0}
    events = subprocess.Popen([_esgctl(), "--socket", sock, "events", "--count", "20", "--timeout", str(WAIT)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    banner: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(events.stdout.readline, "")), daemon=True)
    reader.start()
    threading.Thread(target=lambda: banner.extend(iter(events.stderr.readline, "")), daemon=True).start()
    try:
        # esgctl prints its banner once the master has subscribed it (initial metadata follows Subscribe):
        # an event sent before that — the scale below — would be missed and never shown.
        wait_until(lambda: any("watching events" in line for line in banner), what="esgctl events' banner",
                   server=server)
        ok(esgctl(sock, "scale", "3"))
        wait_until(lambda: any("scale" in line for line in lines),
                   what="the events subscription", server=server)
        first = set(wait_workers(server, 3))
        with server.client(headers={"connection": "close"}) as c:
            grown = c.get("/grow", params={"mib": "200"}).json()
        assert grown["rss_mib"] > 150 and grown["pid"] in first
        server.wait_for_output(rf"Worker \[{grown['pid']}\] uses \d+ MiB \(--limit-worker-memory 150\): "
                               r"starting its replacement", timeout=WAIT)
        answered = set()
        for _ in range(60):  # every request succeeds while the worker is replaced (get_info asserts 200)
            answered.add(get_info(server)["pid"])
        wait_until(lambda: grown["pid"] not in wait_workers(server, 3), what="the leaking worker gone",
                   server=server)
        server.wait_for_output(rf"Worker \[{grown['pid']}\] \(generation 1\) stopped \(exit code 0\)")
        counts = restarts(sock)
        assert counts["memory"] == 1 and counts["crash"] == 0, counts
        assert "memory=1" in ok(esgctl(sock, "status"))
    finally:
        events.terminate()
        events.wait(timeout=WAIT)
        reader.join(timeout=WAIT)
    out = "".join(lines)
    assert "worker_recycling" in out and "memory: uses" in out, out


def test_limit_worker_lifetime_replaces_every_worker_in_turn(esg_server, sockdir):
    sock = str(sockdir / "control.sock")
    server = esg_server(["--workers", "2", "--limit-worker-lifetime", "2", "--control-socket", sock],
                        app="leaky:app")
    first = set(wait_workers(server, 2))
    seen = set()
    wait_until(lambda: seen.add(get_info(server)["pid"]) or len(seen - first) >= 2, what="two replaced workers",
               server=server)
    server.wait_for_output(r"ran \d+s \(--limit-worker-lifetime\): starting its replacement")
    wait_until(lambda: restarts(sock)["age"] >= 2, what="two age restarts", server=server)
    counts = restarts(sock)
    assert counts["crash"] == 0 and counts["memory"] == 0, counts


def test_esg_run_with_an_import_string_takes_the_limits(procs, tmp_path):
    port = free_port()
    script = tmp_path / "run_leaky.py"
    script.write_text(textwrap.dedent(f"""
        import esg
        if __name__ == "__main__":
            esg.run("leaky:app", port={port}, limit_worker_memory=150, limit_worker_lifetime=3600)
        """))
    p = procs([python(), str(script)], name="run_leaky", env=env_for(pythonpath=[APPS]), cwd=tmp_path)
    p.wait_output("ESG running on", timeout=WAIT)
    pid = json.loads(get(f"http://127.0.0.1:{port}/grow?mib=200").text)["pid"]
    p.wait_output(f"Worker [{pid}] uses", timeout=WAIT)
    wait_until(lambda: json.loads(get(f"http://127.0.0.1:{port}/").text)["pid"] != pid, WAIT,
               what="a replacement worker answering")


def test_app_objects_and_gunicorn_refuse_the_master_only_limits(tmp_path):
    code = ("import esg\nfrom leaky import app\n"
            "try:\n    esg.run(app, limit_worker_memory=100)\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([python(), "-c", code], capture_output=True, text=True, timeout=WAIT,
                         env=env_for(pythonpath=[APPS]), cwd=tmp_path)
    assert "ConfigError esg.run(): limit_worker_memory need the app as an import string" in out.stdout, out
