"""Harness for the black-box suite: start/stop the esg executable, raw HTTP/1.x over sockets, small waits.

Nothing here imports ESG. Raw sockets are used wherever the exact bytes on the wire matter (framing, order of
pipelined answers, 100 Continue, close vs keep-alive); httpx is used where they do not.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"

START_TIMEOUT = 20.0  # seconds until "ESG running on ..." must appear
STOP_TIMEOUT = 15.0  # seconds a SIGTERM'd server gets before SIGKILL
IO_TIMEOUT = 10.0  # seconds any single socket read may block

READY_RE = re.compile(r"ESG running on (?P<where>.+?) \(Press CTRL\+C to quit\)")
HTTP_URL_RE = re.compile(r"^https?://(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:/]+)):(?P<port>\d+)$")
UNIX_RE = re.compile(r"^unix socket (?P<path>.+)$")


# --------------------------------------------------------------------------------------------- process control


def children(pid: int) -> list[int]:
    """Live (non-zombie) processes whose parent is `pid` (from /proc): a master's workers."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses
        fields = data[data.rindex(b")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != b"Z":
            found.append(int(entry))
    return sorted(found)


def esg_bin() -> str:
    """The esg executable from $ESG_BIN; fails the calling test (never skips) when it is not usable."""
    path = os.environ.get("ESG_BIN")
    if not path:
        pytest.fail("ESG_BIN is not set: export ESG_BIN=/path/to/esg (e.g. bazel-bin/server/master/esg) "
                    "to run the integration suite against a build", pytrace=False)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        pytest.fail(f"ESG_BIN={path!r} is not an executable file", pytrace=False)
    return path


def server_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.setdefault("ESG_PYTHON", sys.executable)
    # Keep the defaults the tests assume (one worker, default trusted proxies) whatever the caller's shell has.
    env.pop("WEB_CONCURRENCY", None)
    env.pop("FORWARDED_ALLOW_IPS", None)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


def _has_listener(args: list[str]) -> bool:
    for a in args:
        if a in ("--port", "--uds", "--fd") or a.startswith(("--port=", "--uds=", "--fd=")):
            return True
    return False


def build_argv(args: list[str], app: str | None, app_dir) -> list[str]:
    argv = [esg_bin(), *args]
    if app is not None and not _has_listener(args):
        argv += ["--port", "0"]
    if app_dir is not None and not any(a == "--app-dir" or a.startswith("--app-dir=") for a in args):
        argv += ["--app-dir", str(app_dir)]
    if app is not None:
        argv.append(app)
    return argv


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the session the server was started in (master and any workers it left behind)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def run_esg_process(args: list[str], *, timeout: float, env: dict, cwd, app_dir) -> subprocess.CompletedProcess:
    argv = [esg_bin(), *args]
    if app_dir is not None and not any(a == "--app-dir" or a.startswith("--app-dir=") for a in args):
        argv[1:1] = ["--app-dir", str(app_dir)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            cwd=cwd, env=server_env(env), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        pytest.fail(f"esg did not exit within {timeout}s: {argv}\n--- stdout\n{out.decode(errors='replace')}"
                    f"\n--- stderr\n{err.decode(errors='replace')}", pytrace=False)
    return subprocess.CompletedProcess(argv, proc.returncode, out.decode(errors="replace"),
                                       err.decode(errors="replace"))


class EsgServer:
    """A running esg process, its captured output, and where it listens."""

    def __init__(self, proc: subprocess.Popen, argv: list[str], stdout_path: Path, stderr_path: Path):
        self.proc = proc
        self.argv = argv
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.host: str | None = None
        self.port: int | None = None
        self.uds: str | None = None
        self.returncode: int | None = None

    # -- output
    def stdout_bytes(self) -> bytes:
        return self.stdout_path.read_bytes()

    def stderr_bytes(self) -> bytes:
        return self.stderr_path.read_bytes()

    def stdout(self) -> str:
        return self.stdout_bytes().decode("utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_bytes().decode("utf-8", errors="replace")

    def describe(self) -> str:
        return (f"argv: {self.argv}\nreturncode: {self.proc.poll()}\n--- stdout\n{self.stdout()[-4000:]}"
                f"\n--- stderr\n{self.stderr()[-6000:]}")

    def wait_for_output(self, pattern: str, stream: str = "stderr", timeout: float = IO_TIMEOUT,
                        flags: int = re.M) -> re.Match:
        """Wait (bounded) until `pattern` matches the captured stdout/stderr; fail with both outputs if not."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern, flags)
        while True:
            text = self.stderr() if stream == "stderr" else self.stdout()
            m = rx.search(text)
            if m:
                return m
            if time.monotonic() > deadline:
                pytest.fail(f"{pattern!r} did not appear on {stream} within {timeout}s\n{self.describe()}",
                            pytrace=False)
            time.sleep(0.05)

    # -- readiness
    def wait_ready_log(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            m = READY_RE.search(self.stderr())
            if m:
                self._parse_where(m.group("where").strip())
                return
            if self.proc.poll() is not None:
                pytest.fail(f"esg exited with {self.proc.returncode} before reporting 'ESG running on'\n"
                            f"{self.describe()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"esg did not report 'ESG running on ... (Press CTRL+C to quit)' within {timeout}s\n"
                            f"{self.describe()}", pytrace=False)
            time.sleep(0.02)

    def _parse_where(self, where: str) -> None:
        m = HTTP_URL_RE.match(where)
        if m:
            self.host = m.group("v6") or m.group("host")
            self.port = int(m.group("port"))
            return
        m = UNIX_RE.match(where)
        if m:
            self.uds = m.group("path")

    def wait_ready_connect(self, timeout: float) -> None:
        """Readiness without the log line (e.g. --log-level warning): connect until accepted."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.connect().close()
                return
            except OSError:
                pass
            if self.proc.poll() is not None:
                pytest.fail(f"esg exited with {self.proc.returncode} before accepting\n{self.describe()}",
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"esg did not accept a connection within {timeout}s\n{self.describe()}", pytrace=False)
            time.sleep(0.05)

    # -- talking to it
    @property
    def base_url(self) -> str:
        if self.uds:
            return "http://localhost"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def client(self, **kwargs) -> httpx.Client:
        transport = httpx.HTTPTransport(uds=self.uds) if self.uds else None
        return httpx.Client(base_url=self.base_url, transport=transport, trust_env=False,
                            timeout=IO_TIMEOUT, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        with self.client() as c:
            return c.request(method, path, **kwargs)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def connect(self, timeout: float = IO_TIMEOUT) -> "RawConnection":
        if self.uds:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(self.uds)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        return RawConnection(sock, self)

    # -- stopping
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send_signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Wait for the master to exit; returns the exit code, or None if it is still running."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Signal the master and wait; SIGKILL the whole session if it does not exit in time.

        Returns the exit code of the graceful stop, or None when it had to be killed.
        """
        if self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            return self.returncode
        self.send_signal(sig)
        code = self.wait(timeout)
        if code is None:
            _kill_group(self.proc)
            return None
        # Sweep workers the master may have left in its session (they would keep ports and files busy).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return code


def start_esg(args: list[str], *, app, workdir: Path, cwd, env, app_dir, pass_fds, stdin, ready,
              ready_timeout, index: int) -> EsgServer:
    argv = build_argv(args, app, app_dir)
    out_path = workdir / f"esg-{index}.stdout"
    err_path = workdir / f"esg-{index}.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL if stdin is None else stdin,
                                cwd=cwd or workdir, env=server_env(env), pass_fds=tuple(pass_fds),
                                start_new_session=True)
    server = EsgServer(proc, argv, out_path, err_path)
    timeout = ready_timeout or START_TIMEOUT
    if ready == "log":
        server.wait_ready_log(timeout)
    elif ready == "connect":
        for i, a in enumerate(args):
            if a == "--uds":
                server.uds = args[i + 1]
            elif a.startswith("--uds="):
                server.uds = a.split("=", 1)[1]
        server.wait_ready_connect(timeout)
    return server


# --------------------------------------------------------------------------------------------------- raw HTTP


def http_request(method: str = "GET", target: str = "/", *, headers=(), body: bytes | None = None,
                 version: str = "HTTP/1.1", host: bool = True) -> bytes:
    """Bytes of one request. Adds Host (HTTP/1.1) and Content-Length (when body is given and not chunked)."""
    lines = [f"{method} {target} {version}".encode("latin-1")]
    names = {h[0].lower() for h in headers}
    if host and "host" not in names:
        lines.append(b"Host: esg.test")
    for name, value in headers:
        n = name if isinstance(name, bytes) else name.encode("latin-1")
        v = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(n + b": " + v)
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def chunked(*parts: bytes) -> bytes:
    """A chunked request body made of `parts`, with the last-chunk."""
    out = b""
    for p in parts:
        out += f"{len(p):x}\r\n".encode() + p + b"\r\n"
    return out + b"0\r\n\r\n"


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)  # names lowercased, values latin-1
    body: bytes = b""
    raw: bytes = b""
    complete: bool = True  # False: the connection ended before the framing said the body was over
    chunked: bool = False

    def header(self, name: str) -> str | None:
        name = name.lower()
        for n, v in self.headers:
            if n == name:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for n, v in self.headers if n == name]

    def has(self, name: str) -> bool:
        return self.header(name) is not None

    def json(self):
        return json.loads(self.body)


class ConnectionClosed(Exception):
    """The server closed the connection before sending any byte of a response."""


class RawConnection:
    """A client socket with an HTTP/1.x response reader that keeps unread bytes for pipelined answers."""

    def __init__(self, sock: socket.socket, server: "EsgServer | None" = None):
        self.sock = sock
        self.server = server
        self.buf = b""
        self.eof = False
        self.received = b""  # everything ever received, for assertions on the exact bytes

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes, bytewise: bool = False) -> None:
        if not bytewise:
            self.sock.sendall(data)
            return
        if self.sock.family != socket.AF_UNIX:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self, timeout: float = IO_TIMEOUT) -> bool:
        """Read more bytes into the buffer; False at EOF (or a reset). Raises socket.timeout on silence."""
        if self.eof:
            return False
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        self.received += chunk
        return True

    def read_until_close(self, timeout: float = IO_TIMEOUT) -> bytes:
        """All remaining bytes until the server closes (fails the test if it stays open past `timeout`)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"server did not close the connection within {timeout}s; got {self.buf[:500]!r}",
                            pytrace=False)
            try:
                self._fill(left)
            except socket.timeout:
                continue
        data, self.buf = self.buf, b""
        return data

    def closed_by_server(self, timeout: float = IO_TIMEOUT) -> bool:
        """True when the server closes with no further bytes within `timeout`; False if it stays open."""
        try:
            while self._fill(timeout):
                pass
        except socket.timeout:
            return False
        return True

    def _read_exact(self, n: int) -> bool:
        while len(self.buf) < n:
            if not self._fill():
                return False
        return True

    def _read_line(self) -> bytes | None:
        while b"\r\n" not in self.buf:
            if not self._fill():
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self, head: bool = False) -> Response:
        """Read one response (an interim 1xx counts as one). `head`: the request was HEAD (no body).

        Fails the test with what was received so far (and the server's output) if the server goes silent."""
        try:
            return self._read_response(head)
        except socket.timeout:
            context = self.server.describe() if self.server is not None else ""
            pytest.fail(f"no complete response within {IO_TIMEOUT}s of silence; received so far "
                        f"({len(self.received)} bytes): {self.received[:600]!r}\n{context}", pytrace=False)

    def _read_response(self, head: bool) -> Response:
        while b"\r\n\r\n" not in self.buf:
            if not self._fill():
                if not self.buf:
                    raise ConnectionClosed("server closed the connection without a response")
                raise AssertionError(f"connection closed inside a response head: {self.buf!r}")
        head_bytes, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.split(b"\r\n")
        m = re.match(rb"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
        assert m, f"bad status line {lines[0]!r}"
        resp = Response(m.group(1).decode(), int(m.group(2)), (m.group(3) or b"").decode("latin-1"))
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            assert sep, f"bad header line {line!r} in {head_bytes!r}"
            resp.headers.append((name.decode("latin-1").lower(), value.strip(b" \t").decode("latin-1")))
        start_len = len(self.received) - len(self.buf) - len(head_bytes) - 4
        te = ",".join(resp.header_all("transfer-encoding")).lower()
        cl = resp.header("content-length")
        if head or 100 <= resp.status < 200 or resp.status in (204, 304):
            pass
        elif "chunked" in te:
            resp.chunked = True
            resp.body, resp.complete = self._read_chunked()
        elif cl is not None:
            n = int(cl)
            resp.complete = self._read_exact(n)
            resp.body, self.buf = self.buf[:n], self.buf[n:]
        else:
            resp.body = self.read_until_close()
        resp.raw = self.received[start_len:len(self.received) - len(self.buf)]
        return resp

    def _read_chunked(self) -> tuple[bytes, bool]:
        body = b""
        while True:
            line = self._read_line()
            if line is None:
                return body, False
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while True:  # trailers up to the empty line
                    t = self._read_line()
                    if t is None:
                        return body, False
                    if t == b"":
                        return body, True
            if not self._read_exact(size + 2):
                body += self.buf
                self.buf = b""
                return body, False
            body += self.buf[:size]
            assert self.buf[size:size + 2] == b"\r\n", f"chunk not followed by CRLF: {self.buf[:size + 2]!r}"
            self.buf = self.buf[size + 2:]


def exchange(server: EsgServer, data: bytes, *, bytewise: bool = False, head: bool = False) -> Response:
    """One request on a fresh connection, one response back."""
    with server.connect() as conn:
        conn.send(data, bytewise=bytewise)
        return conn.read_response(head=head)


# ------------------------------------------------------------------------------------------------------ waits


def wait_for_file(path: Path, timeout: float = IO_TIMEOUT) -> str:
    """Wait (bounded) for a marker file an app writes; returns its text."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"marker {path} did not appear within {timeout}s", pytrace=False)
        time.sleep(0.02)
    return path.read_text()


def decode_tagged(obj):
    """Inverse of apps/asgi_util.encode_tagged: {"bytes": s} -> bytes, {"tuple": [...]} -> tuple."""
    if isinstance(obj, dict):
        if set(obj) == {"__bytes__"}:
            return obj["__bytes__"].encode("latin-1")
        if set(obj) == {"__tuple__"}:
            return tuple(decode_tagged(x) for x in obj["__tuple__"])
        return {k: decode_tagged(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_tagged(x) for x in obj]
    return obj
