"""Supervision under load: a SIGHUP storm (20 reloads asked for in 2 s) loses no request and ends with N
workers of a new generation; kill -9 of a worker loses at most that worker's in-flight requests and the master
replaces it. The load is LOAD_CLIENTS threads, each looping one request at a time on a fresh connection."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import measure
from measure import children, wait_until

LOAD_CLIENTS = 2
REQUEST_TIMEOUT = 10.0  # per request of the load (a failure is an error or a wrong answer, not slowness)


class Load:
    """LOAD_CLIENTS threads requesting GET /pid until stopped; counts answers and records failures."""

    def __init__(self, server):
        self.server = server
        self.ok = 0
        self.failures: list[str] = []
        self.pids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(LOAD_CLIENTS)]

    def __enter__(self) -> "Load":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def _one(self) -> int:
        with socket.create_connection((self.server.host, self.server.port), timeout=REQUEST_TIMEOUT) as sock:
            sock.sendall(b"GET /pid HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200 "):
            raise AssertionError(f"answer {data[:200]!r}")
        return int(body)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pid = self._one()
                with self._lock:
                    self.ok += 1
                    self.pids.add(pid)
            except (OSError, AssertionError, ValueError) as e:
                with self._lock:
                    self.failures.append(f"{time.monotonic():.3f} {type(e).__name__}: {e}")

    def wait_for(self, count: int) -> None:
        start = self.ok
        wait_until(lambda: self.ok >= start + count, 10.0 * measure.SLOWDOWN, f"{count} more load requests")


def test_sighup_storm_under_load_loses_no_request(esg_server):
    """20 SIGHUPs, 0.1 s apart, while clients loop requests: no request fails, reloads coalesce, and the
    master ends with exactly 2 workers, none of them from before the storm."""
    server = esg_server(["--workers", "2"])
    before = wait_until(lambda: (lambda p: p if len(p) == 2 else None)(children(server.proc.pid)),
                        measure.RESTART_DEADLINE, "2 workers")
    with Load(server) as load:
        load.wait_for(5)
        for _ in range(20):
            os.kill(server.proc.pid, signal.SIGHUP)
            time.sleep(0.1)

        def settled():
            pids = children(server.proc.pid)
            return pids if len(pids) == 2 and not set(pids) & set(before) else None

        after = wait_until(settled, measure.RESTART_DEADLINE, "2 workers of a new generation after the storm")
        load.wait_for(10)
    assert server.alive(), server.describe()
    assert not load.failures, (f"{len(load.failures)} of {load.ok + len(load.failures)} requests failed during "
                               f"the SIGHUP storm; first: {load.failures[:3]}\n{server.stderr()[-3000:]}")
    assert set(after) == set(children(server.proc.pid)), "workers changed after the storm settled"
    server.wait_for_output(r"Reload finished")


def test_kill_9_of_a_worker_under_load_loses_only_its_in_flight_requests(esg_server):
    """kill -9 of one of 2 workers while clients loop requests: the master starts a replacement, and at most
    LOAD_CLIENTS requests (the ones that worker had in flight) fail."""
    server = esg_server(["--workers", "2"])
    before = wait_until(lambda: (lambda p: p if len(p) == 2 else None)(children(server.proc.pid)),
                        measure.RESTART_DEADLINE, "2 workers")
    victim = before[0]
    with Load(server) as load:
        load.wait_for(5)
        os.kill(victim, signal.SIGKILL)

        def replaced():
            pids = children(server.proc.pid)
            return pids if len(pids) == 2 and victim not in pids else None

        after = wait_until(replaced, measure.RESTART_DEADLINE, "the killed worker replaced")
        load.wait_for(10)
    assert server.alive(), server.describe()
    assert len(load.failures) <= LOAD_CLIENTS, (
        f"{len(load.failures)} requests failed after kill -9 of one worker; at most its in-flight ones "
        f"(LOAD_CLIENTS = {LOAD_CLIENTS}) may: {load.failures[:5]}")
    assert before[1] in after, "the surviving worker was replaced too"
