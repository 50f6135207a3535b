"""Servers under test: how each is started, how we know it is ready, how it is stopped, and
how much CPU its whole process tree has used.

Every server is started in its own session (so it can be cleaned up by its process-group id,
never by name), with the same app (tests/bench/app.py), bound to 127.0.0.1:<port>.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(BENCH_DIR, "..", ".."))
VENV_PY = os.path.join(REPO, ".venv", "bin", "python")
DEFAULT_ESG_BIN = os.path.join(REPO, "bazel-bin", "server", "master", "esg")
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class ServerSpec:
    name: str
    description: str
    # argv builder: (port, app_dir, opts) -> (argv, extra_env)
    build: object
    # workloads it cannot serve (e.g. nginx cannot echo a body)
    unsupported: tuple = ()
    # signal that asks for a graceful exit (callgrind needs one: it writes its data at exit)
    stop_signal: int = signal.SIGTERM
    needs: object = None  # () -> None or a reason string why it cannot run here
    # the modes (see MODES) it can be started in
    modes: tuple = ("tcp", "ws", "nginx-uds", "workers2", "idle", "wsgi", "fastapi", "starlette", "django-asgi",
                    "django-wsgi", "flask", "sse")


# Per-start options in `opts` (besides esg_bin/app_dir), set by the mode (see MODES):
#   uds: path of a UNIX socket to bind instead of 127.0.0.1:port
#   workers: worker processes (default 1)
#   ws: WebSockets must be served (Granian otherwise runs with --no-ws, its fastest HTTP setting)
#   keepalive: idle keep-alive timeout in seconds (idle-scale test; uvicorn/ESG default to 5 s)
#   wsgi: the app is a WSGI app (--interface wsgi); app: the app's import string (default app:app, or
#   app_wsgi:app with wsgi)


def _app(opts):
    return opts.get("app") or ("app_wsgi:app" if opts.get("wsgi") else "app:app")

def _bind(opts, port):
    if opts.get("uds"):
        return ["--uds", opts["uds"]]
    return ["--host", "127.0.0.1", "--port", str(port)]


def _uvicorn(http, loop):
    def build(port, app_dir, opts):
        argv = [VENV_PY, "-m", "uvicorn", _app(opts), "--app-dir", app_dir] + _bind(opts, port) + [
                "--http", http, "--loop", loop,
                "--no-access-log", "--log-level", "warning"]
        if opts.get("ws"):
            argv += ["--ws", "websockets"]
        if opts.get("workers", 1) != 1:
            argv += ["--workers", str(opts["workers"])]
        if opts.get("keepalive"):
            argv += ["--timeout-keep-alive", str(opts["keepalive"])]
        if opts.get("wsgi"):
            argv += ["--interface", "wsgi"]
        return (argv, {"PYTHONWARNINGS": "ignore::DeprecationWarning"} if opts.get("wsgi") else {})
    return build


def _granian(task_impl):
    def build(port, app_dir, opts):
        argv = [VENV_PY, "-m", "granian", "--interface", "wsgi" if opts.get("wsgi") else "asgi", "--loop", "uvloop",
                "--http", "1", "--ws" if opts.get("ws") else "--no-ws",
                "--workers", str(opts.get("workers", 1)),
                "--runtime-mode", "st", "--runtime-threads", "1",
                "--log-level", "warning", "--no-access-log",
                "--working-dir", app_dir]
        if opts.get("uds"):
            argv += ["--uds", opts["uds"], "--uds-permissions", "438"]  # 0o666
        else:
            argv += ["--host", "127.0.0.1", "--port", str(port)]
        if opts.get("keepalive"):
            # Granian has no keep-alive idle timeout option: an idle keep-alive connection is
            # closed by the header read timeout (default 30 s, at most 60 s); its default
            # backpressure (backlog/workers = 1024) also caps the connections it serves at once.
            argv += ["--backlog", "16384", "--backpressure", "16384",
                     "--http1-header-read-timeout", "60000"]
        if task_impl:
            argv += ["--task-impl", task_impl]
        return (argv + [_app(opts)], {})
    return build


def _esg(port, app_dir, opts):
    # ESG serves HTTP and WebSockets on the same listener by default (--ws auto): no ws switch.
    argv = [opts["esg_bin"], _app(opts), "--app-dir", app_dir] + _bind(opts, port) + [
            "--no-access-log", "--log-level", "warning"]
    if opts.get("wsgi"):
        argv += ["--interface", "wsgi"]
    if opts.get("workers", 1) != 1:
        argv += ["--workers", str(opts["workers"])]
    if opts.get("keepalive"):
        argv += ["--timeout-keep-alive", str(opts["keepalive"])]
    argv += opts.get("esg_args", [])  # run.py --esg-args
    return (argv, {"ESG_PYTHON": VENV_PY})


def _esg_with(*args):
    def build(port, app_dir, opts):
        argv, env = _esg(port, app_dir, opts)
        return argv + list(args), env
    return build


def _esg_needs(opts):
    b = opts["esg_bin"]
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        return f"ESG binary not found at {b} (build it, or pass --esg-bin PATH)"
    return None


def _hypercorn(port, app_dir, opts):
    return ([VENV_PY, "-m", "hypercorn", "-c", os.path.join(BENCH_DIR, "hypercorn.toml"), "--bind", f"127.0.0.1:{port}", "--worker-class", "uvloop",
             "--workers", "1", "--log-level", "warning",
             _app(opts)], {"PYTHONPATH": app_dir})


def _gunicorn_uvicorn(port, app_dir, opts):
    # uvicorn.workers.UvicornWorker picks httptools + uvloop ("auto") when they are installed.
    return ([VENV_PY, "-m", "gunicorn", "-w", "1", "-k", "uvicorn.workers.UvicornWorker",
             "-b", f"127.0.0.1:{port}", "--chdir", app_dir, "--log-level", "warning",
             "app:app"], {"PYTHONWARNINGS": "ignore::DeprecationWarning"})


def _gunicorn_gthread(port, app_dir, opts):
    # gunicorn's threaded sync worker: the usual way a WSGI app is deployed; 10 threads like ESG's pool.
    return ([VENV_PY, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "10",
             "-b", f"127.0.0.1:{port}", "--chdir", app_dir, "--log-level", "warning",
             _app(opts)], {})


def _nginx_needs(opts):
    return None if shutil.which("nginx") else "nginx is not installed"


def _nginx(port, app_dir, opts):
    d = tempfile.mkdtemp(prefix="esg-bench-nginx-")
    os.chmod(d, 0o755)  # nginx workers run as `nobody` when started by root
    conf = os.path.join(d, "nginx.conf")
    os.makedirs(os.path.join(d, "www"))
    with open(os.path.join(d, "www", "10k"), "wb") as f:
        f.write(b"x" * 10240)  # `return` cannot hold 10 KiB, so /10k is a static file
    with open(os.path.join(d, "www", "stream"), "wb") as f:
        f.write(b"s" * (1 << 20))  # stream-1mb's bytes as a static file (content-length, not chunked)
    with open(conf, "w") as f:
        f.write(f"""
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  keepalive_requests 1000000000;
  server {{
    listen 127.0.0.1:{port};
    default_type text/plain;
    etag off;
    location = /10k {{ root {d}/www; }}
    # sendfile off: nginx copies the file through user space like the app servers copy their chunks.
    location = /stream {{ root {d}/www; sendfile off; output_buffers 2 64k; }}
    location / {{ return 200 "Hello, world!"; }}
  }}
}}
""")
    return ([shutil.which("nginx"), "-c", conf, "-p", d], {})


SERVERS = {
    "esg": ServerSpec("esg", "ESG (C++ engine), 1 worker", _esg, needs=_esg_needs),
    "esg-coalesce": ServerSpec("esg-coalesce", "ESG as above with --coalesce-streams (SSE only)",
                               _esg_with("--coalesce-streams"), needs=_esg_needs, modes=("sse",)),
    "uvicorn": ServerSpec("uvicorn", "uvicorn --http httptools --loop uvloop", _uvicorn("httptools", "uvloop"),
                          stop_signal=signal.SIGINT),
    "granian": ServerSpec("granian", "granian asgi, uvloop, 1 worker, st runtime, 1 thread", _granian(None),
                          stop_signal=signal.SIGINT),
    # optional peers
    "granian-rtask": ServerSpec("granian-rtask", "granian as above with --task-impl rust", _granian("rust"),
                                stop_signal=signal.SIGINT),
    "uvicorn-h11": ServerSpec("uvicorn-h11", "uvicorn --http h11 --loop uvloop", _uvicorn("h11", "uvloop"),
                              stop_signal=signal.SIGINT),
    "uvicorn-asyncio": ServerSpec("uvicorn-asyncio", "uvicorn --http httptools --loop asyncio",
                                  _uvicorn("httptools", "asyncio"), stop_signal=signal.SIGINT),
    "hypercorn": ServerSpec("hypercorn", "hypercorn -k uvloop, 1 worker", _hypercorn,
                            stop_signal=signal.SIGINT, modes=("tcp", "fastapi", "starlette", "django-asgi", "sse")),
    "gunicorn-uvicorn": ServerSpec("gunicorn-uvicorn", "gunicorn -w 1 -k uvicorn.workers.UvicornWorker",
                                   _gunicorn_uvicorn, stop_signal=signal.SIGTERM, modes=("tcp",)),
    "gunicorn-gthread": ServerSpec("gunicorn-gthread", "gunicorn -w 1 -k gthread --threads 10 (WSGI only)",
                                   _gunicorn_gthread, stop_signal=signal.SIGTERM, modes=("wsgi", "django-wsgi", "flask")),
    "nginx": ServerSpec("nginx", "nginx `return 200` (native ceiling; hello, get10k and stream-1mb as static files)",
                        _nginx, unsupported=("post-echo-10k", "sleep"), stop_signal=signal.SIGQUIT,
                        needs=_nginx_needs, modes=("tcp",)),
}


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---------------------------------------------------------------- process tree CPU

def _stat_fields(pid):
    """Fields of /proc/PID/stat after the `comm` field (index 0 = state)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rindex(b")") + 2:].split()


def descendants(root: int) -> list[int]:
    """root and all its descendants (walks /proc/*/stat ppid links)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(_stat_fields(d)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def cpu_ticks(pids) -> dict[int, int]:
    """utime+stime (clock ticks) per pid. /proc/PID/stat counts every thread of the process
    (live and exited threads); exited *child processes* are not in it (they would only show up
    in cutime/cstime once reaped), so we sample the set of live pids at the start and the end."""
    out = {}
    for p in pids:
        try:
            f = _stat_fields(p)
            out[p] = int(f[11]) + int(f[12])  # utime, stime (fields 14, 15 of stat)
        except (OSError, ValueError, IndexError):
            pass
    return out


def parse_cpulist(spec: str) -> list[int]:
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def cpu_counters(cpus) -> tuple[int, int, int, int]:
    """(busy, steal, total, irq) jiffies summed over the given CPUs, from /proc/stat.
    busy = user+nice+system (process time), irq = irq+softirq (kernel work, e.g. loopback TCP
    delivered in softirq context: not charged to any process)."""
    busy = steal = total = irq = 0
    want = {f"cpu{c}" for c in cpus}
    with open("/proc/stat") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] in want:
                v = list(map(int, parts[1:9]))
                busy += v[0] + v[1] + v[2]
                irq += v[5] + v[6]
                steal += v[7]
                total += sum(v)
    return busy, steal, total, irq


class TreeCpu:
    """CPU time of a process tree between start() and stop(), in seconds."""

    def __init__(self, root, cpus=None):
        self.root = root
        self.cpus = cpus or []

    def start(self):
        self.pids0 = descendants(self.root)
        self.t0 = cpu_ticks(self.pids0)
        self.c0 = cpu_counters(self.cpus)
        self.wall0 = time.monotonic()

    def stop(self):
        self.wall = time.monotonic() - self.wall0
        pids1 = descendants(self.root)
        t1 = cpu_ticks(pids1)
        c1 = cpu_counters(self.cpus)
        self.vanished = sorted(set(self.t0) - set(t1))
        self.appeared = sorted(set(t1) - set(self.t0))
        ticks = sum(t1[p] - self.t0.get(p, 0) for p in t1)
        self.per_pid = {p: (t1[p] - self.t0.get(p, 0)) / CLK_TCK for p in t1}
        self.seconds = ticks / CLK_TCK
        # What else ran on the server's CPU(s) meanwhile: other processes (other tenants, wrk if
        # not pinned), irq/softirq time, and hypervisor steal.
        busy, steal, total, irq = (b - a for a, b in zip(self.c0, c1))
        self.cpu_total_s = total / CLK_TCK
        self.other_busy_s = max(0.0, busy / CLK_TCK - self.seconds)
        self.steal_s = steal / CLK_TCK
        self.irq_s = irq / CLK_TCK
        return self.seconds


# ---------------------------------------------------------------- running a server

class Running:
    def __init__(self, spec: ServerSpec, port: int, proc: subprocess.Popen, log_path: str):
        self.spec, self.port, self.proc, self.log_path = spec, port, proc, log_path

    @property
    def pid(self):
        return self.proc.pid

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=15.0) -> int | None:
        """Graceful stop (signal to the root process only; its master stops its own workers);
        after `timeout`, SIGKILL to the whole process group we created."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, self.spec.stop_signal)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # leftovers in our own process group (e.g. a worker that outlived its master)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        return self.proc.returncode


NOFILE = 65536


def raise_nofile(n: int = NOFILE):
    """`ulimit -n 65536` (soft and hard) for the calling process; used as the servers' preexec_fn
    (ESG's master and workers, uvicorn, Granian inherit it) and by the load clients. Needs root or
    a hard limit >= n; otherwise the soft limit is raised as far as the hard limit allows."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n), max(hard, n)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, n), hard), hard))


def nofile_limits(root: int) -> dict:
    """Max open files (soft) of each process of the tree, from /proc/PID/limits."""
    out = {}
    for pid in descendants(root):
        try:
            for line in open(f"/proc/{pid}/limits"):
                if line.startswith("Max open files"):
                    out[pid] = int(line.split()[3])
        except (OSError, ValueError):
            pass
    return out


def rss_kb(pid: int) -> int | None:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def tree_rss_kb(root: int) -> dict[int, int]:
    """VmRSS (KiB) of every process of root's tree."""
    out = {}
    for pid in descendants(root):
        r = rss_kb(pid)
        if r is not None:
            out[pid] = r
    return out


def start(spec: ServerSpec, opts: dict, port: int, log_path: str, cpu: str | None = "0",
          wrapper: list[str] | None = None, ready_timeout: float = 30.0) -> Running:
    argv, env_extra = spec.build(port, opts["app_dir"], opts)
    if wrapper:
        argv = wrapper + argv
    if cpu is not None:
        argv = ["taskset", "-c", cpu] + argv
    env = dict(os.environ)
    env.update(env_extra)
    env.setdefault("PYTHONHASHSEED", "0")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    logf = open(log_path, "ab")
    logf.write(("$ " + " ".join(f"{k}={v}" for k, v in env_extra.items()) + " " + " ".join(argv) + "\n").encode())
    logf.flush()
    proc = subprocess.Popen(argv, cwd=opts["app_dir"], env=env, stdin=subprocess.DEVNULL,
                            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=raise_nofile)
    logf.close()
    run = Running(spec, port, proc, log_path)
    run.argv, run.env_extra = argv, env_extra
    run.uds = opts.get("uds")
    try:
        if run.uds:
            wait_ready_uds(run, ready_timeout)
        else:
            wait_ready(run, ready_timeout)
    except Exception:
        run.stop(timeout=5)
        raise
    return run


def _listen_inodes(port: int) -> set[str]:
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                out.add(f"socket:[{f[9]}]")
    return out


def tree_listens(root: int, port: int) -> bool:
    """Does a process of root's tree hold a listening socket on port? (Guards against another
    program on this shared machine taking the port between free_port() and our bind, and against
    TCP self-connects when probing a port nobody listens on yet.)"""
    inodes = _listen_inodes(port)
    if not inodes:
        return False
    for pid in descendants(root):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return True
                except OSError:
                    pass
        except OSError:
            pass
    return False


def wait_ready_uds(run: Running, timeout: float):
    """Same as wait_ready, for a server bound to a UNIX socket: the socket file exists and one GET /
    through it is answered with 200."""
    from client import Client  # noqa: E402
    deadline = time.monotonic() + timeout
    while True:
        if run.proc.poll() is not None:
            raise RuntimeError(f"{run.spec.name} exited with {run.proc.returncode} before it was ready:\n"
                               + run.log_tail())
        if time.monotonic() > deadline:
            raise RuntimeError(f"{run.spec.name} not listening on {run.uds} after {timeout:.0f}s:\n"
                               + run.log_tail())
        try:
            c = Client.unix(run.uds, timeout=max(1.0, deadline - time.monotonic()))
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.05)
            continue
        try:
            status, _, _ = c.request("hello")
        finally:
            c.close()
        if status != 200:
            raise RuntimeError(f"{run.spec.name}: GET / answered {status} while starting")
        return


def wait_ready(run: Running, timeout: float):
    """Ready = our process tree listens on the port and one GET / is answered with 200. Only a
    refused connect is retried, so the app sees exactly one request before the measurement
    (this matters for callgrind)."""
    from client import Client  # noqa: E402  (sibling module)
    deadline = time.monotonic() + timeout
    while True:
        if run.proc.poll() is not None:
            raise RuntimeError(f"{run.spec.name} exited with {run.proc.returncode} before it was ready:\n"
                               + run.log_tail())
        if time.monotonic() > deadline:
            raise RuntimeError(f"{run.spec.name} not listening on :{run.port} after {timeout:.0f}s:\n"
                               + run.log_tail())
        if not tree_listens(run.pid, run.port):
            if _listen_inodes(run.port):
                # someone else's socket, or a master that has not bound yet while a stranger did
                time.sleep(0.1)
            time.sleep(0.05)
            continue
        try:
            c = Client("127.0.0.1", run.port, timeout=max(1.0, deadline - time.monotonic()))
        except ConnectionRefusedError:
            time.sleep(0.05)
            continue
        try:
            status, headers, body = c.request("hello")
        except Exception as e:
            raise RuntimeError(f"{run.spec.name}: readiness probe GET / failed: {e!r}") from e
        finally:
            c.close()
        if status != 200:
            raise RuntimeError(f"{run.spec.name}: GET / answered {status} while starting")
        return


# ---------------------------------------------------------------- nginx in front (nginx-uds mode)

def nginx_proxy_spec(uds: str, keepalive: int = 64) -> ServerSpec:
    """nginx listening on 127.0.0.1:PORT, proxy_pass to the server's UNIX socket with upstream
    keepalive (HTTP/1.1, `Connection: ""`), 1 worker, no access log, no buffering of the response
    to disk. Run as root, it keeps its worker as root (`user root;`) so it can connect to a socket
    the server created with its default permissions."""
    def build(port, app_dir, opts):
        d = tempfile.mkdtemp(prefix="esg-bench-nginx-proxy-")
        os.chmod(d, 0o755)
        conf = os.path.join(d, "nginx.conf")
        user = "user root;" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(f"""
daemon off;
master_process on;
{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  keepalive_requests 1000000000;
  upstream app {{
    server unix:{uds};
    keepalive {keepalive};
    keepalive_requests 1000000000;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }}
  }}
}}
""")
        return ([shutil.which("nginx"), "-c", conf, "-p", d], {})
    return ServerSpec("nginx-proxy", "nginx proxy_pass to a UNIX socket", build,
                      stop_signal=signal.SIGQUIT, needs=_nginx_needs, modes=("tcp",))


# How a server is started for each mode: opts overrides, the CPUs of the server (None: the
# harness's --server-cpu) and of the load generator (None: --wrk-cpu).
MODES = {
    "tcp": {"opts": {}, "server_cpu": None, "client_cpu": None},
    "ws": {"opts": {"ws": True}, "server_cpu": None, "client_cpu": None},
    # server and nginx share CPU 0 (nginx-cpu), wrk alone on CPU 1
    "nginx-uds": {"opts": {}, "server_cpu": None, "client_cpu": None, "uds": True},
    # two workers may use both CPUs; wrk stays pinned to CPU 1 and competes with one of them
    "workers2": {"opts": {"workers": 2}, "server_cpu": "0-1", "client_cpu": None},
    # the WSGI app (app_wsgi.py), --interface wsgi; pinned as tcp
    "wsgi": {"opts": {"wsgi": True}, "server_cpu": None, "client_cpu": None},
    # framework apps (frameworks/*.py), pinned as tcp
    "fastapi": {"opts": {"app": "frameworks.bench_fastapi:app"}, "server_cpu": None, "client_cpu": None},
    "starlette": {"opts": {"app": "frameworks.bench_starlette:app"}, "server_cpu": None, "client_cpu": None},
    "django-asgi": {"opts": {"app": "frameworks.bench_django:asgi_app"}, "server_cpu": None, "client_cpu": None},
    "django-wsgi": {"opts": {"app": "frameworks.bench_django:wsgi_app", "wsgi": True}, "server_cpu": None,
                    "client_cpu": None},
    "flask": {"opts": {"app": "frameworks.bench_flask:app", "wsgi": True}, "server_cpu": None, "client_cpu": None},
    "sse": {"opts": {"app": "frameworks.bench_sse:app"}, "server_cpu": None, "client_cpu": None},
}
# Modes that only change the app (one worker, TCP, pinned as tcp): callgrind can measure their workloads.
APP_MODES = ("wsgi", "fastapi", "starlette", "django-asgi", "django-wsgi", "flask", "sse")
