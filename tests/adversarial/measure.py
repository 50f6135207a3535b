"""Named bounds of the adversarial suite and the /proc measurements that check them.

Every adversarial test states what one hostile client (or app) may cost a worker, as one of the bounds below,
and checks it with these helpers: worker RSS growth (VmRSS of /proc/<pid>/status, sampled while the attack
runs, so a peak that is freed again still counts), worker CPU (utime+stime of /proc/<pid>/stat over an
interval), availability (a parallel client on a fresh connection answered within a deadline, one try, no
retry), and worker identity (the same pids before and after: no unexpected restart).

The bounds are limits of harm, not benchmarks: each is far from what a healthy build uses (a few MiB, ~0 % CPU
when idle, milliseconds per request) and far below what the defect it guards against costs (GiB, 100 % CPU,
no answer at all). $ESG_ADV_SLOWDOWN (a factor, default 1; tools/sanitize.sh sets it for the ASan build)
stretches the time bounds for slower builds.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field

from esgtest import children  # noqa: F401  (the shared harness's; tests import it from here)

SLOWDOWN = float(os.environ.get("ESG_ADV_SLOWDOWN", "1"))

# -- the named bounds
# Worker VmRSS above its pre-attack baseline. The same under ASan: its shadow adds 1/8 of what is allocated and
# tools/sanitize.sh caps the quarantine at 16 MiB, while a doubled bound let the unfixed ping flood pass there.
RSS_GROWTH_MAX_MIB = 64
IDLE_CPU_MAX = 0.20  # worker CPU share over IDLE_WINDOW once the attack has stopped
IDLE_WINDOW = 2.0  # seconds
BUSY_CPU_MAX = 0.90  # worker CPU demand during a hang/spin-class attack: never pinned at 100 %
BUSY_WINDOW = 1.5  # seconds
AVAILABILITY_DEADLINE = 1.0 * SLOWDOWN  # seconds for a parallel client's one request, connect to last byte
CLOSE_DEADLINE = 5.0 * SLOWDOWN  # seconds for the server to close a connection it has finished with
RESTART_DEADLINE = 20.0 * SLOWDOWN  # seconds for the master to bring the worker count back

MIB = 1024 * 1024
_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------------- /proc readers


def rss_bytes(pid: int) -> int:
    """VmRSS of `pid` in bytes (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2:].split()  # after "pid (comm) "; comm may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_share(pid: int, seconds: float) -> float:
    """Share of one CPU `pid` used over the next `seconds` (1.0 = one core pinned)."""
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


def _sched_ns(pid: int) -> dict[str, int]:
    """Per thread of `pid`: nanoseconds on a CPU + nanoseconds runnable but waiting for one (schedstat)."""
    out = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                on_cpu, waiting, _ = f.read().split()
            out[tid] = int(on_cpu) + int(waiting)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
    return out


def cpu_demand(pid: int, seconds: float) -> tuple[float, float]:
    """(demand, share) of `pid` over the next `seconds`. share: CPU actually used (1.0 = one core). demand: CPU
    used plus time spent runnable waiting for a CPU, so a spinning thread counts ~1.0 even when the shared
    machine gives it only part of a core (share alone would then look "not pinned")."""
    start_sched, start_cpu, start = _sched_ns(pid), cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    end_sched, end_cpu = _sched_ns(pid), cpu_seconds(pid)
    wall = time.monotonic() - start
    demand = sum(v - start_sched.get(tid, 0) for tid, v in end_sched.items()) / 1e9 / wall
    return demand, (end_cpu - start_cpu) / wall


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))




def wait_until(predicate, timeout: float, what: str):
    """Poll `predicate` (bounded) until it returns something truthy; AssertionError naming `what` if never."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:.1f}s")
        time.sleep(0.05)


# ----------------------------------------------------------------------------------------------- watchers


@dataclass
class RssWatch:
    """Samples a worker's VmRSS every 20 ms in a thread, so the peak of an attack is seen even if freed later.

    `exceeded` is set as soon as growth passes the bound: attack loops check it to stop early, so an unfixed
    build fails the test after a few hundred MiB instead of taking the machine's memory."""

    pid: int
    bound: int = RSS_GROWTH_MAX_MIB * MIB
    bound_name: str = "RSS_GROWTH_MAX_MIB"
    baseline: int = 0
    peak: int = 0
    exceeded: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "RssWatch":
        self.baseline = self.peak = rss_bytes(self.pid)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._sample()

    def _sample(self) -> None:
        rss = rss_bytes(self.pid)
        self.peak = max(self.peak, rss)
        if self.growth > self.bound:
            self.exceeded.set()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def check(self, what: str) -> None:
        assert self.growth <= self.bound, (
            f"{what}: worker {self.pid} RSS grew by {self.growth / MIB:.1f} MiB (from {self.baseline / MIB:.1f} to "
            f"a peak of {self.peak / MIB:.1f} MiB); bound {self.bound_name} = {self.bound / MIB:.0f} MiB")


def check_idle(pid: int, what: str, window: float = IDLE_WINDOW) -> float:
    """After an attack: the worker's CPU over `window` must be below IDLE_CPU_MAX."""
    share = cpu_share(pid, window)
    assert share < IDLE_CPU_MAX, (f"{what}: worker {pid} used {share:.0%} CPU over {window}s after the attack "
                                  f"stopped; bound IDLE_CPU_MAX = {IDLE_CPU_MAX:.0%}")
    return share


def check_not_pinned(pid: int, what: str, window: float = BUSY_WINDOW) -> float:
    """During a hang/spin-class attack: the worker's CPU demand (used + runnable-waiting, see cpu_demand) over
    `window` must be below BUSY_CPU_MAX: it must not be pinned, whatever share the busy machine gives it."""
    demand, share = cpu_demand(pid, window)
    assert demand < BUSY_CPU_MAX, (f"{what}: worker {pid} wanted {demand:.0%} of a CPU over {window}s during the "
                                   f"attack (used {share:.0%}): it spins; bound BUSY_CPU_MAX = {BUSY_CPU_MAX:.0%}")
    return demand


def check_same_workers(server, before: list[int], what: str) -> None:
    """No unexpected restart: the master's workers are exactly the ones that ran before the attack."""
    after = children(server.proc.pid)
    assert after == before, (f"{what}: worker pids changed from {before} to {after} (a worker died or was "
                             f"replaced)\n{server.stderr()[-3000:]}")


# ----------------------------------------------------------------------------------------------- probing


def probe(server, path: str = "/ok", deadline: float = AVAILABILITY_DEADLINE) -> float:
    """One request on a fresh connection, no retry: the complete 200 answer must arrive within `deadline`.

    Returns the seconds it took. This is the availability bound: a worker that one client has made hang,
    spin or drown answers nobody else."""
    start = time.monotonic()
    request = f"GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n".encode()
    data = b""
    try:
        if server.uds:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(deadline)
            sock.connect(server.uds)
        else:
            sock = socket.create_connection((server.host, server.port), timeout=deadline)
        with sock:
            sock.sendall(request)
            while True:
                left = deadline - (time.monotonic() - start)
                if left <= 0:
                    raise socket.timeout()
                sock.settimeout(left)
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        raise AssertionError(f"availability: a parallel client got no complete answer within {deadline:.1f}s "
                             f"(AVAILABILITY_DEADLINE): {type(e).__name__} {e}; received {data[:200]!r}") from None
    elapsed = time.monotonic() - start
    assert data.startswith(b"HTTP/1.1 200 "), f"availability: parallel client got {data[:300]!r}"
    assert elapsed <= deadline, f"availability: answered in {elapsed:.2f}s > AVAILABILITY_DEADLINE {deadline:.1f}s"
    return elapsed


class Prober:
    """Runs probe() every `interval` seconds in a thread while an attack runs; collects every failure."""

    def __init__(self, server, interval: float = 0.25, path: str = "/ok"):
        self.server = server
        self.interval = interval
        self.path = path
        self.done = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Prober":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                probe(self.server, self.path)
            except AssertionError as e:
                self.failures.append(str(e))
            self.done += 1
            self._stop.wait(self.interval)

    def check(self, what: str) -> None:
        assert self.done > 0, f"{what}: the availability prober never ran"
        assert not self.failures, (f"{what}: {len(self.failures)} of {self.done} parallel probes failed; first: "
                                   f"{self.failures[0]}")
