"""Steady GET + POST load on one HTTP endpoint, counting every failure: the load of the zero-drop deployment
tests (test_circus.py's graceful reload, test_pod_rollout.py's rolling update).

Each client thread alternates `GET /` and a `POST /echo` with a body it checks comes back intact. Every request
uses its own connection (`Connection: close`): what is measured is whether the deployment ever refuses,
resets or garbles a request, not HTTP keep-alive's own race (a server closing an idle connection while the
client reuses it, which clients handle by retrying idempotent requests). Timeouts are generous and bounded.
The app must answer `GET /` with `<pid> <version>` and echo POST bodies (apps/deploy_example.py does).
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LoadStats:
    ok: int = 0
    failed: int = 0
    posts: int = 0
    errors: list[str] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)
    versions: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        return (f"{self.ok} ok ({self.posts} POST), {self.failed} failed, {len(self.pids)} distinct pids, "
                f"versions {dict(self.versions)}")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class SteadyLoad:
    """`clients` threads sending GET and POST until stop(); `with SteadyLoad(...) as load:`."""

    def __init__(self, port: int | None = None, uds: str | None = None, clients: int = 4,
                 timeout: float = 30.0, pause: float = 0.0):
        assert (port is None) != (uds is None), "one of port, uds"
        self.port, self.uds, self.timeout, self.pause = port, uds, timeout, pause
        self.stats = LoadStats()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self) -> "SteadyLoad":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> LoadStats:
        self.stopping.set()
        for t in self.threads:
            t.join(self.timeout + 10)
        return self.stats

    def wait_requests(self, n: int, timeout: float = 60.0) -> None:
        """Until at least n more requests succeeded (bounded): proves the load is flowing."""
        target = self.stats.ok + n
        deadline = time.monotonic() + timeout
        while self.stats.ok < target and time.monotonic() < deadline:
            time.sleep(0.05)

    def _connection(self) -> http.client.HTTPConnection:
        if self.uds:
            return _UnixConnection(self.uds, self.timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def _one(self, seq: int, client: int) -> tuple[int | None, str | None, bool]:
        conn = self._connection()
        try:
            if seq % 2:
                body = f"client {client} request {seq} ".encode() + os.urandom(8).hex().encode() * 64
                conn.request("POST", "/echo", body=body, headers={"Connection": "close",
                                                                  "Content-Type": "application/octet-stream"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200 or data != body:
                    raise AssertionError(f"POST /echo: HTTP {resp.status}, {len(data)} of {len(body)} bytes back "
                                         f"{data[:120]!r}")
                return int(resp.getheader("x-pid", "0")), resp.getheader("x-version"), True
            conn.request("GET", "/", headers={"Connection": "close"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise AssertionError(f"GET /: HTTP {resp.status} {data[:200]!r}")
            pid, version = data.decode().split()
            return int(pid), version, False
        finally:
            conn.close()

    def _run(self, client: int) -> None:
        seq = client
        while not self.stopping.is_set():
            seq += 1
            try:
                pid, version, post = self._one(seq, client)
                with self.lock:
                    self.stats.ok += 1
                    self.stats.posts += post
                    self.stats.pids.add(pid)
                    self.stats.versions[version] += 1
            except (OSError, http.client.HTTPException, AssertionError, ValueError) as exc:
                with self.lock:
                    self.stats.failed += 1
                    if len(self.stats.errors) < 20:
                        self.stats.errors.append(f"{time.strftime('%H:%M:%S')} {type(exc).__name__}: {exc}")
            if self.pause:
                time.sleep(self.pause)
