"""Idle scale: N (default 10,000) keep-alive connections, each after one request.

For one server:
  1. start it (keep-alive timeout raised to 600 s where the server has one: uvicorn and ESG close
     idle connections after 5 s by default; `ulimit -n` raised by the launcher, see
     servers.raise_nofile), warm it with 200 requests on one connection and 50 short connections;
  2. RSS before: VmRSS of every process of its tree (/proc/PID/status) and of the serving worker
     (the process holding the server side of a probe connection);
  3. fresh-connection latency with nothing else open: connect + GET / + whole response, `fresh`
     times, sequentially (median and max);
  4. open N connections (500 at a time, non-blocking), each sends GET / and reads the whole
     response, then stays open and idle;
  5. after `settle` seconds: RSS after; how many of the N are still open (recv MSG_PEEK); the
     fresh-connection latency again, while the N are open;
  6. close everything, stop the server.
RSS growth per connection = (RSS after − RSS before) ÷ connections still open.
The client runs in this process, pinned to the load CPU, with its own RLIMIT_NOFILE raised.
"""
from __future__ import annotations

import errno
import os
import selectors
import socket
import statistics
import time

import servers as S
from callgrind import serving_pid
from client import Client

REQ = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _complete(buf: bytes) -> bool:
    i = buf.find(b"\r\n\r\n")
    if i < 0:
        return False
    cl = 0
    for line in buf[:i].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            cl = int(v)
    return len(buf) >= i + 4 + cl


def fresh_latency(port: int, n: int, gap: float = 0.05) -> list[float]:
    """n sequential fresh connections, each: connect, GET /, read the response; seconds each."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(REQ)
        buf = b""
        while not _complete(buf):
            d = s.recv(65536)
            if not d:
                raise ConnectionError("fresh connection closed before the response")
            buf += d
        out.append(time.perf_counter() - t)
        if not buf.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"fresh request answered {buf[:40]!r}")
        s.close()
        time.sleep(gap)
    return out


def open_idle(port: int, n: int, batch: int = 500, timeout: float = 60.0):
    """Open n keep-alive connections, one GET / each; returns (sockets, errors, seconds)."""
    sel = selectors.DefaultSelector()
    done, errors = [], []
    t0 = time.monotonic()
    for start in range(0, n, batch):
        pend = {}
        for _ in range(min(batch, n - start)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            r = s.connect_ex(("127.0.0.1", port))
            if r not in (0, errno.EINPROGRESS):
                errors.append(os.strerror(r))
                s.close()
                continue
            pend[s] = b""
            sel.register(s, selectors.EVENT_WRITE, "w")
        deadline = time.monotonic() + timeout
        while pend and time.monotonic() < deadline:
            for key, ev in sel.select(1.0):
                s = key.fileobj
                if key.data == "w":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        errors.append(os.strerror(err))
                        sel.unregister(s)
                        del pend[s]
                        s.close()
                        continue
                    s.send(REQ)
                    sel.modify(s, selectors.EVENT_READ, "r")
                else:
                    try:
                        d = s.recv(65536)
                    except OSError as e:
                        d, err = b"", e
                    if not d:
                        errors.append("closed before the response")
                        sel.unregister(s)
                        del pend[s]
                        s.close()
                        continue
                    pend[s] += d
                    if _complete(pend[s]):
                        if not pend[s].startswith(b"HTTP/1.1 200"):
                            errors.append(f"answered {pend[s][:30]!r}")
                        sel.unregister(s)
                        del pend[s]
                        done.append(s)
        for s in list(pend):
            errors.append("no response within the timeout")
            sel.unregister(s)
            s.close()
    sel.close()
    return done, errors, time.monotonic() - t0


def still_open(socks) -> int:
    alive = 0
    for s in socks:
        try:
            d = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            if d:
                alive += 1  # unexpected data, but open
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def measure(spec, opts, n, logdir, server_cpu="0", client_cpu="1", fresh=15, settle=3.0):
    S.raise_nofile()
    import resource
    my_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if my_limit < n + 100:
        raise RuntimeError(f"the client's RLIMIT_NOFILE is {my_limit}, below {n} connections")
    o = dict(opts, keepalive=600)
    port = S.free_port()
    run = S.start(spec, o, port, os.path.join(logdir, f"idle-{spec.name}.log"), cpu=server_cpu)
    old_aff = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(S.parse_cpulist(client_cpu)))
    socks = []
    try:
        limits = S.nofile_limits(run.pid)
        c = Client("127.0.0.1", port)
        for _ in range(200):
            c.request("hello")
        worker = serving_pid(run.pid, port, c.local_port())
        c.close()
        fresh_latency(port, 50, gap=0)
        time.sleep(1.0)
        rss0 = S.tree_rss_kb(run.pid)
        lat0 = fresh_latency(port, fresh)
        socks, errors, open_s = open_idle(port, n)
        time.sleep(settle)
        rss1 = S.tree_rss_kb(run.pid)
        alive = still_open(socks)
        lat1 = fresh_latency(port, fresh)
        alive_after = still_open(socks)
        rc_alive = run.proc.poll() is None
        tot0, tot1 = sum(rss0.values()), sum(rss1.values())
        w0, w1 = rss0.get(worker), rss1.get(worker)
        return {
            "server": spec.name, "n": n, "opened": len(socks), "open_errors": len(errors),
            "open_error_kinds": sorted(set(errors))[:5], "open_seconds": open_s,
            "still_open": alive, "still_open_after_fresh": alive_after, "server_alive": rc_alive,
            "nofile_limits": {str(k): v for k, v in limits.items()},
            "rss_before_kb": {str(k): v for k, v in rss0.items()},
            "rss_after_kb": {str(k): v for k, v in rss1.items()},
            "tree_rss_before_kb": tot0, "tree_rss_after_kb": tot1,
            "worker_pid": worker, "worker_rss_before_kb": w0, "worker_rss_after_kb": w1,
            "tree_bytes_per_conn": (tot1 - tot0) * 1024 / alive if alive else None,
            "worker_bytes_per_conn": (w1 - w0) * 1024 / alive if alive and w0 and w1 else None,
            "fresh_ms_before": [round(x * 1e3, 3) for x in lat0],
            "fresh_ms": [round(x * 1e3, 3) for x in lat1],
            "fresh_p50_ms_before": statistics.median(lat0) * 1e3,
            "fresh_p50_ms": statistics.median(lat1) * 1e3, "fresh_max_ms": max(lat1) * 1e3,
            "server_argv": run.argv,
        }
    finally:
        for s in socks:
            s.close()
        os.sched_setaffinity(0, old_aff)
        run.stop()
