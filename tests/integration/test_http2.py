"""HTTP/2 (`--http2`): h2c with prior knowledge on TCP and UNIX listeners, h2 over TLS by ALPN, with real clients
(curl, h2load, httpx with h2) and raw frames (h2frames.py) for what clients do not do: floods, resets, held
request bodies.

Covered: the ASGI scope of a stream; request bodies of several MiB (windows reopened only as the app reads);
large streamed responses byte for byte, in chunks of any size; the peer's windows honoured exactly; a zero-window
reader bounded; an answer before the upload is read; HEAD; RST_STREAM as http.disconnect; many concurrent streams
on one connection; Starlette/FastAPI and WSGI/Flask apps; `Upgrade: h2c` served as HTTP/1.1; the preface without
--http2 (400); ALPN fallback to HTTP/1.1; WebSockets on HTTP/1.1 beside h2; SETTINGS_MAX_CONCURRENT_STREAMS and
its option; SIGTERM and SIGHUP (GOAWAY, the open stream finishes); and the defences: rapid reset, CONTINUATION
flood, PING/SETTINGS/WINDOW_UPDATE floods (GOAWAY ENHANCE_YOUR_CALM, worker RSS bounded, other connections
served), oversized header lists (431), CONNECT (501).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from hyperframe.frame import GoAwayFrame, WindowUpdateFrame

from esgtest import IO_TIMEOUT, decode_tagged, exchange, http_request, wait_for_file
from h2frames import (CANCEL, DEFAULT_WINDOW, ENHANCE_YOUR_CALM, NO_ERROR, PREFACE, PROTOCOL_ERROR, REFUSED_STREAM,
                      SETTINGS_INITIAL_WINDOW_SIZE,
                      SETTINGS_MAX_CONCURRENT_STREAMS, BackgroundSender, H2Conn)
from test_supervision import wait_workers

MIB = 1 << 20
RSS_GROWTH_BOUND = 32 * MIB  # what one hostile connection may make a worker grow by


def pattern(size: int) -> bytes:
    """apps/big.py's body: bytes(range(256)) repeated."""
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


# ------------------------------------------------------------------------------------------------ clients


def curl(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """curl with its exit status checked; stdout holds `-w` output (the body goes to a file or /dev/null)."""
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed (tools/debian-packages.txt)", pytrace=False)
    proc = subprocess.run(["curl", "-sS", "--max-time", str(timeout), *args], capture_output=True, timeout=timeout + 10)
    return proc


def curl_get(url: str, *flags: str, out: Path | None = None) -> tuple[str, str, bytes]:
    """(http_version, status, body) of one curl request; fails the test when curl fails."""
    target = str(out) if out is not None else "-"
    proc = curl(*flags, "-o", target, "-w", "\n%{http_version} %{http_code}", url)
    assert proc.returncode == 0, f"curl {flags} {url} failed ({proc.returncode}): {proc.stderr.decode()}"
    stdout = proc.stdout
    body, _, tail = stdout.rpartition(b"\n")
    version, _, status = tail.decode().partition(" ")
    return version, status, out.read_bytes() if out is not None else body


def h2c_client(server, **kwargs) -> httpx.Client:
    """httpx speaking h2c with prior knowledge (http1=False) to the server's TCP or UNIX listener."""
    transport = httpx.HTTPTransport(uds=server.uds, http1=False, http2=True)
    return httpx.Client(base_url=server.base_url, transport=transport, trust_env=False, timeout=IO_TIMEOUT, **kwargs)


def h2c_url(server, path: str = "/") -> str:
    return f"http://{server.host}:{server.port}{path}"


# ------------------------------------------------------------------------------------------------ TLS


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    """A test CA and a localhost/127.0.0.1 server certificate it signed."""
    d = tmp_path_factory.mktemp("h2tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ESG h2 Test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "server.ext", "-out", "server.pem", cwd=d)
    return d


def tls_args(certs: Path) -> list[str]:
    return ["--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile", str(certs / "server.key")]


def tls_curl_flags(certs: Path, server) -> list[str]:
    return ["--cacert", str(certs / "ca.pem"), "--resolve", f"localhost:{server.port}:127.0.0.1"]


def alpn_of(server, certs: Path, offer: list[str] | None) -> str | None:
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if offer is not None:
        ctx.set_alpn_protocols(offer)
    with socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            return sock.selected_alpn_protocol()


# ------------------------------------------------------------------------------------------------ serving


def test_get_over_h2c_tcp_with_curl(serve):
    server = serve("hello:app", "--http2")
    assert curl_get(h2c_url(server), "--http2-prior-knowledge") == ("2", "200", b"Hello, world!")
    assert curl_get(h2c_url(server, "/missing"), "--http2-prior-knowledge") == ("2", "404", b"Not here")
    # The same listener still serves HTTP/1.1 clients.
    assert curl_get(h2c_url(server), "--http1.1") == ("1.1", "200", b"Hello, world!")


def test_get_over_h2c_unix_socket(esg_server, tmp_path):
    sock = tmp_path / "h2.sock"
    server = esg_server(["--http2", "--uds", str(sock)], app="hello:app")
    assert curl_get("http://localhost/", "--unix-socket", str(sock), "--http2-prior-knowledge") == (
        "2", "200", b"Hello, world!")
    with h2c_client(server) as c:
        r = c.get("/")
    assert (r.http_version, r.status_code, r.text) == ("HTTP/2", 200, "Hello, world!")


def test_h2_over_tls_by_alpn(esg_server, certs):
    server = esg_server(["--http2", *tls_args(certs)], app="scope_echo:app")
    version, status, body = curl_get(f"https://localhost:{server.port}/tls?x=1", "--http2",
                                     *tls_curl_flags(certs, server))
    assert (version, status) == ("2", "200")
    scope = decode_tagged(json.loads(body))
    assert (scope["http_version"], scope["scheme"], scope["path"]) == ("2", "https", "/tls")
    assert alpn_of(server, certs, ["h2", "http/1.1"]) == "h2"
    with httpx.Client(http2=True, verify=ssl.create_default_context(cafile=str(certs / "ca.pem")),
                      trust_env=False, timeout=IO_TIMEOUT) as c:
        r = c.get(f"https://localhost:{server.port}/httpx")
    assert r.http_version == "HTTP/2"
    assert decode_tagged(r.json())["scheme"] == "https"


def test_h2_over_tls_bodies_and_concurrency(esg_server, certs):
    """Over TLS: 6 MiB up and 6 MiB down through the windows, and h2load's 1,000 requests on 4 connections."""
    server = esg_server(["--http2", *tls_args(certs)], app="big:app")
    body = pattern(6 * MIB)[::-1]
    with httpx.Client(http2=True, verify=ssl.create_default_context(cafile=str(certs / "ca.pem")),
                      trust_env=False, timeout=IO_TIMEOUT) as c:
        r = c.post(f"https://localhost:{server.port}/count", content=body)
        assert r.http_version == "HTTP/2"
        assert r.text.split()[:2] == [str(len(body)), hashlib.sha256(body).hexdigest()]
        r = c.get(f"https://localhost:{server.port}/stream?size={6 * MIB}&chunk=65536")
        assert r.content == pattern(6 * MIB)
    proc = subprocess.run(["h2load", "-n", "1000", "-c", "4", "-m", "20",
                           f"https://127.0.0.1:{server.port}/bytes?size=100"], capture_output=True, text=True,
                          timeout=120)
    assert "status codes: 1000 2xx" in proc.stdout, proc.stdout
    assert "Application protocol: h2\n" in proc.stdout, proc.stdout


def test_alpn_falls_back_to_http11(esg_server, certs):
    server = esg_server(["--http2", *tls_args(certs)], app="scope_echo:app")
    assert alpn_of(server, certs, ["http/1.1"]) == "http/1.1"
    assert alpn_of(server, certs, None) is None
    version, status, body = curl_get(f"https://localhost:{server.port}/one", "--http1.1",
                                     *tls_curl_flags(certs, server))
    assert (version, status) == ("1.1", "200")
    assert decode_tagged(json.loads(body))["http_version"] == "1.1"


def test_tls_without_http2_does_not_offer_h2(esg_server, certs):
    server = esg_server(tls_args(certs), app="hello:app")
    assert alpn_of(server, certs, ["h2", "http/1.1"]) == "http/1.1"
    assert alpn_of(server, certs, ["h2"]) is None  # nothing in common: no ALPN, and HTTP/1.1 if anything
    assert curl_get(f"https://localhost:{server.port}/", "--http2", *tls_curl_flags(certs, server))[:2] == (
        "1.1", "200")


def test_scope_over_h2c(serve):
    server = serve("scope_echo:app", "--http2")
    with h2c_client(server) as c:
        r = c.post("/some/where?a=1&b=%20x", content=b"hi", headers={"x-custom": "Value", "cookie": "a=1"})
    assert r.http_version == "HTTP/2"
    scope = decode_tagged(r.json())
    assert scope["type"] == "http"
    assert scope["http_version"] == "2"
    assert (scope["method"], scope["scheme"], scope["path"]) == ("POST", "http", "/some/where")
    assert scope["raw_path"] == b"/some/where"
    assert scope["query_string"] == b"a=1&b=%20x"
    headers = [tuple(h) for h in scope["headers"]]
    names = [n for n, _ in headers]
    assert not any(n.startswith(b":") for n in names), names
    assert all(n == n.lower() for n in names), names
    host = [v for n, v in headers if n == b"host"]
    assert host == [f"{server.host}:{server.port}".encode()], headers
    assert (b"x-custom", b"Value") in headers
    assert (b"cookie", b"a=1") in headers
    assert (b"content-length", b"2") in headers
    assert list(scope["server"]) == [server.host, server.port]
    assert scope["client"][0] == "127.0.0.1"


def test_cookies_in_several_fields_are_joined(esg_server):
    server = esg_server(["--http2"], app="scope_echo:app")
    with H2Conn.open(server) as conn:
        conn.send(conn.headers_frame(1, conn.request_fields(extra=[("cookie", "a=1"), ("cookie", "b=2")])))
        conn.read_until(lambda: 1 in conn.ended, what="the response")
        assert conn.status(1) == 200
        scope = decode_tagged(json.loads(conn.data[1]))
    assert [v for n, v in scope["headers"] if n == b"cookie"] == [b"a=1; b=2"]
    assert [v for n, v in scope["headers"] if n == b"host"] == [b"esg.test"]


def test_post_body_of_several_mib(esg_server, tmp_path):
    """8 MiB up, the app reads it through receive() (the windows reopened as it consumes) and hashes it; 4 MiB
    echoed back byte for byte; and the same upload with curl."""
    server = esg_server(["--http2"], app="big:app")
    body = pattern(8 * MIB)[::-1]
    with h2c_client(server) as c:
        r = c.post("/count", content=body)
        assert r.http_version == "HTTP/2" and r.status_code == 200
        length, digest, messages = r.text.split()
        assert (int(length), digest) == (len(body), hashlib.sha256(body).hexdigest())
        assert int(messages) > 1, "an 8 MiB body arrived in one http.request message"
    echo = esg_server(["--http2"], app="echo_body:app")
    with h2c_client(echo) as c:
        r = c.post("/echo", content=body[:4 * MIB])
    assert r.status_code == 200 and r.content == body[:4 * MIB]
    upload = tmp_path / "upload.bin"
    upload.write_bytes(body)
    version, status, answer = curl_get(h2c_url(server, "/count"), "--http2-prior-knowledge",
                                       "--data-binary", f"@{upload}")
    assert (version, status) == ("2", "200")
    assert answer.split()[:2] == [str(len(body)).encode(), hashlib.sha256(body).hexdigest().encode()]


def test_response_before_the_request_body_is_read(esg_server, tmp_path):
    """An app that answers without reading a 3 MB upload: the client's upload must not hang on a window that is
    never reopened — the server resets the stream with NO_ERROR after the response (RFC 9113 §8.1) or reads and
    discards the rest. HTTP/1.1 for comparison."""
    server = esg_server(["--http2"], app="hello:app")
    upload = tmp_path / "upload.bin"
    upload.write_bytes(pattern(3_000_000))
    assert curl_get(h2c_url(server), "--http1.1", "--data-binary", f"@{upload}") == ("1.1", "200", b"Hello, world!")
    # httpx (h2) sends the whole body, then reads: the server drops the unread rest and gives its window back.
    # (Not curl: Debian's curl 7.88 stops sending once the response has ended and then waits for its own
    # upload forever, whatever the server does — a RST_STREAM NO_ERROR included.)
    with h2c_client(server) as c:
        for _ in range(2):  # the connection serves on afterwards
            r = c.post(h2c_url(server), content=upload.read_bytes())
            assert (r.http_version, r.status_code, r.content) == ("HTTP/2", 200, b"Hello, world!")
    with H2Conn.open(server) as conn:
        conn.ping_roundtrip(b"settings")
        conn.send(conn.headers_frame(1, method="POST", path="/", end_stream=False))
        conn.send_body(1, pattern(DEFAULT_WINDOW), end_stream=False)
        conn.read_until(lambda: 1 in conn.ended, what="the response")
        assert (conn.status(1), conn.data[1]) == (200, b"Hello, world!")
        conn.read_until(lambda: 1 in conn.resets or conn.stream_window(1) > 0,
                        what="RST_STREAM(NO_ERROR) or a WINDOW_UPDATE for the body nobody reads")
        assert conn.resets.get(1, NO_ERROR) == NO_ERROR, conn.summary()


def test_request_window_opens_only_as_the_app_reads(esg_server, markers):
    """A stream's whole window sent to an app that has not called receive(): no WINDOW_UPDATE for it (a PING
    answered after the DATA proves the server processed it); once the app reads, the window reopens and the
    rest of the body goes through."""
    server = esg_server(["--http2"], app="h2_app:app")
    with H2Conn.open(server) as conn:
        conn.ping_roundtrip(b"settings")  # the server's SETTINGS (and its connection WINDOW_UPDATE) are in
        window = conn.server_settings.get(SETTINGS_INITIAL_WINDOW_SIZE, DEFAULT_WINDOW)
        assert 0 < window <= 1 * MIB, conn.server_settings
        body = pattern(window + 300_000)
        conn.send(conn.headers_frame(1, path="/hold?id=w", end_stream=False))
        wait_for_file(markers / "holding-w")
        conn.send_body(1, body[:window], end_stream=False)
        before = conn.ping_roundtrip(b"afterdat")
        time.sleep(0.2)  # give a wrong implementation time to open the window anyway; proven by the next PING
        before += conn.ping_roundtrip(b"again..!")
        opened = [f for f in before if isinstance(f, WindowUpdateFrame) and f.stream_id == 1]
        assert not opened, f"the stream's window was reopened before the app read anything: {conn.summary()}"
        assert 1 not in conn.ended
        (markers / "go-w").write_text("1")
        conn.read_until(lambda: any(isinstance(f, WindowUpdateFrame) and f.stream_id == 1 for f in conn.frames),
                        what="a WINDOW_UPDATE for stream 1 once the app reads")
        conn.send_body(1, body[window:])
        conn.read_until(lambda: 1 in conn.ended, what="the response to the held body")
    assert conn.status(1) == 200
    assert conn.data[1].decode() == f"{len(body)} {hashlib.sha256(body).hexdigest()}"


def test_large_streamed_response_byte_for_byte(esg_server, tmp_path):
    server = esg_server(["--http2"], app="big:app")
    size = 12 * MIB + 123
    expected = pattern(size)
    with h2c_client(server) as c:
        with c.stream("GET", f"/stream?size={size}&chunk=65536") as r:
            assert r.http_version == "HTTP/2" and r.status_code == 200
            got = b"".join(r.iter_bytes())
        assert got == expected
        r = c.get(f"/bytes?size={4 * MIB}")
        assert r.content == pattern(4 * MIB)
        assert r.headers["content-length"] == str(4 * MIB)
    out = tmp_path / "download.bin"
    assert curl_get(h2c_url(server, f"/stream?size={size}&chunk=1000"), "--http2-prior-knowledge", out=out)[:2] == (
        "2", "200")
    assert out.read_bytes() == expected


@pytest.mark.parametrize("chunk", [65536, 65537, 131072, MIB])
def test_streamed_response_in_chunks_of_any_size(esg_server, chunk):
    """Each more_body message bigger than the write high-water mark (64 KiB) waits for the one before to drain;
    every one of them must be sent."""
    server = esg_server(["--http2"], app="big:app")
    size = 4 * chunk + 17
    version, status, body = curl_get(h2c_url(server, f"/stream?size={size}&chunk={chunk}"), "--http2-prior-knowledge")
    assert (version, status, len(body)) == ("2", "200", size)
    assert body == pattern(size)


def test_response_honours_the_peers_window(esg_server):
    """A client whose stream window is 0 gets the response's HEADERS and no DATA; each WINDOW_UPDATE lets
    exactly that many bytes through."""
    server = esg_server(["--http2"], app="big:app")
    with H2Conn.open(server, {SETTINGS_INITIAL_WINDOW_SIZE: 0}, auto_window=False) as conn:
        conn.send(conn.headers_frame(1, path=f"/bytes?size={MIB}"))
        conn.read_until(lambda: conn.status(1) is not None, what="the response's HEADERS")
        assert conn.status(1) == 200
        conn.ping_roundtrip(b"zero-win")
        conn.ping_roundtrip(b"zero-wi2")
        assert conn.received(1) == 0, conn.summary()
        # (frame, bytes of DATA expected in all after it): the stream window, then the connection window
        # (65,535, never reopened until the last step) bounds what is sent.
        steps = [(H2Conn.window_update(1, 1000), 1000), (H2Conn.window_update(1, 5000), 6000),
                 (H2Conn.window_update(1, 70_000), DEFAULT_WINDOW), (H2Conn.window_update(0, 10_465), 76_000)]
        for frame, total in steps:
            conn.send(frame)
            conn.read_until(lambda: conn.received(1) >= total, what=f"{total} bytes of DATA in all")
            conn.ping_roundtrip(b"credit..")
            conn.ping_roundtrip(b"credit.2")
            assert conn.received(1) == total, f"the server sent past the window: {conn.summary()}"
        assert 1 not in conn.ended


def test_zero_window_reader_keeps_the_worker_bounded(esg_server):
    """Streams whose client never opens its window: the app's send() waits (backpressure), the worker does not
    buffer the 4 x 64 MiB answers, and other clients are served."""
    server = esg_server(["--http2"], app="big:app")
    pid = wait_workers(server, 1)[0]
    with h2c_client(server) as c:  # warm up
        assert len(c.get(f"/stream?size={4 * MIB}&chunk=65536").content) == 4 * MIB
    base = rss(pid)
    with H2Conn.open(server, {SETTINGS_INITIAL_WINDOW_SIZE: 0}, auto_window=False) as conn:
        for sid in (1, 3, 5, 7):
            conn.send(conn.headers_frame(sid, path=f"/stream?size={64 * MIB}&chunk=65536"))
        conn.read_until(lambda: all(conn.status(s) == 200 for s in (1, 3, 5, 7)), what="4 response HEADERS")
        peak = base
        for _ in range(20):  # 2 s for the apps to produce what they may
            peak = max(peak, rss(pid))
            time.sleep(0.1)
        assert peak - base < RSS_GROWTH_BOUND, f"worker RSS grew by {(peak - base) >> 20} MiB"
        assert curl_get(h2c_url(server, "/bytes?size=100"), "--http2-prior-knowledge")[:2] == ("2", "200")
        assert sum(conn.received(s) for s in (1, 3, 5, 7)) == 0


def test_head_answers_the_get_headers(esg_server):
    """HEAD over h2: the headers a GET gets (content-length of the body the app gave), no body; as HTTP/1.1."""
    server = esg_server(["--http2"], app="hello:app")
    with H2Conn.open(server) as conn:
        conn.send(conn.headers_frame(1, method="HEAD", path="/"))
        conn.read_until(lambda: 1 in conn.ended, what="the HEAD response")
        assert conn.status(1) == 200
        assert dict(conn.headers[1]).get("content-length") in (None, "13"), conn.headers[1]
        assert conn.data.get(1, b"") == b""
        assert conn.get(3) == (200, b"Hello, world!")
    h1 = exchange(server, http_request("HEAD", "/"), head=True)
    assert h1.header("content-length") == "13"


def test_reset_stream_reaches_the_app_as_disconnect(esg_server, markers):
    server = esg_server(["--http2"], app="disconnect:app")
    with H2Conn.open(server) as conn:
        conn.send(conn.headers_frame(1, path="/?id=rst"))
        wait_for_file(markers / "waiting-rst")
        conn.send(H2Conn.rst(1, CANCEL))
        assert wait_for_file(markers / "disconnect-rst") == "http.disconnect"
        # The connection lives on for other streams.
        conn.send(conn.headers_frame(3, path="/after-response?id=after"))
        conn.read_until(lambda: conn.data.get(3) == b"done", what="stream 3 answered after stream 1's reset")
    # Closing the connection disconnects what was waiting on it.
    with H2Conn.open(server) as conn:
        conn.send(conn.headers_frame(1, path="/?id=close"))
        wait_for_file(markers / "waiting-close")
    assert wait_for_file(markers / "disconnect-close") == "http.disconnect"


def test_per_stream_limits(esg_server):
    """--limit-concurrency counts streams (503 beyond it), --limit-request-body answers 413 on the stream."""
    server = esg_server(["--http2", "--limit-concurrency", "3", "--limit-request-body", "100000"], app="slow:app")
    with H2Conn.open(server) as conn:
        ids = range(1, 13, 2)  # 6 streams at once
        for sid in ids:
            conn.send(conn.headers_frame(sid, path=f"/slow?id={sid}&delay=1"))
        conn.read_until(lambda: all(s in conn.ended for s in ids), timeout=15, what="6 answers")
        assert sorted(conn.status(s) for s in ids) == [200, 200, 200, 503, 503, 503], conn.summary()
    echo = esg_server(["--http2", "--limit-request-body", "100000"], app="big:app")
    with h2c_client(echo) as c:
        assert c.post("/count", content=b"x" * 100_001).status_code == 413
        assert c.post("/count", content=b"x" * 100_000).text.startswith("100000 ")


def test_timeout_send_cuts_a_zero_window_reader(esg_server):
    server = esg_server(["--http2", "--timeout-send", "1"], app="big:app")
    with H2Conn.open(server, {SETTINGS_INITIAL_WINDOW_SIZE: 0}, auto_window=False) as conn:
        conn.send(conn.headers_frame(1, path=f"/stream?size={8 * MIB}&chunk=65536"))
        conn.read_to_close(15)
        assert conn.received(1) == 0
    assert curl_get(h2c_url(server, "/bytes?size=10"), "--http2-prior-knowledge")[:2] == ("2", "200")


def test_many_concurrent_streams_on_one_connection(esg_server):
    server = esg_server(["--http2"], app="scope_echo:app")

    async def main():
        transport = httpx.AsyncHTTPTransport(http1=False, http2=True)
        async with httpx.AsyncClient(base_url=server.base_url, transport=transport, trust_env=False,
                                     timeout=30) as c:
            return await asyncio.gather(*(c.get(f"/n/{i}") for i in range(300)))

    responses = asyncio.run(main())
    scopes = [decode_tagged(r.json()) for r in responses]
    assert [s["path"] for s in scopes] == [f"/n/{i}" for i in range(300)]
    assert all(r.http_version == "HTTP/2" and r.status_code == 200 for r in responses)
    assert len({tuple(s["client"]) for s in scopes}) == 1, "httpx was expected to multiplex on one connection"


def test_h2load_all_2xx(esg_server):
    if shutil.which("h2load") is None:
        pytest.fail("h2load is not installed (Debian nghttp2-client, tools/debian-packages.txt)", pytrace=False)
    server = esg_server(["--http2"], app="hello:app")
    proc = subprocess.run(["h2load", "-n", "1000", "-c", "4", "-m", "20", h2c_url(server)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "requests: 1000 total, 1000 started, 1000 done, 1000 succeeded, 0 failed, 0 errored" in proc.stdout, \
        proc.stdout
    assert "status codes: 1000 2xx" in proc.stdout, proc.stdout
    assert "Application protocol: h2c" in proc.stdout, proc.stdout


def test_max_concurrent_streams_setting_and_option(esg_server):
    default = esg_server(["--http2"], app="hello:app")
    with H2Conn.open(default) as conn:
        conn.ping_roundtrip(b"settings")
        assert conn.server_settings.get(SETTINGS_MAX_CONCURRENT_STREAMS) == 100, conn.server_settings
    limited = esg_server(["--http2", "--http2-max-concurrent-streams", "7"], app="slow:app")
    with H2Conn.open(limited) as conn:
        conn.ping_roundtrip(b"settings")  # the server's SETTINGS received and acknowledged
        assert conn.server_settings.get(SETTINGS_MAX_CONCURRENT_STREAMS) == 7, conn.server_settings
        for sid in range(1, 15, 2):  # 7 streams open in the app for 2 s
            conn.send(conn.headers_frame(sid, path=f"/slow?id={sid}&delay=2"))
        conn.ping_roundtrip(b"7 opened")
        conn.send(conn.headers_frame(15, path="/slow?id=15&delay=0"))  # the 8th
        conn.read_until(lambda: 15 in conn.ended or conn.goaways or conn.eof, what="the 8th stream refused")
        assert conn.status(15) is None, conn.summary()
        assert conn.resets.get(15) in (PROTOCOL_ERROR, REFUSED_STREAM) or any(
            g.error_code == PROTOCOL_ERROR for g in conn.goaways), conn.summary()
    # h2load keeps to the limit it was told (-m 7) and every request is answered.
    proc = subprocess.run(["h2load", "-n", "20", "-c", "1", "-m", "7", h2c_url(limited, "/?delay=0")],
                          capture_output=True, text=True, timeout=120)
    assert "status codes: 20 2xx" in proc.stdout, proc.stdout


def test_bad_max_concurrent_streams_is_a_cli_error(run_esg):
    for value in ("0", "-1", "many"):
        proc = run_esg(["--http2", "--http2-max-concurrent-streams", value, "hello:app"])
        assert proc.returncode == 2, (value, proc.stderr)
        assert "--http2-max-concurrent-streams" in proc.stderr, proc.stderr


def test_starlette_over_h2c(serve, markers):
    server = serve("starlette_app:app", "--http2")
    with h2c_client(server) as c:
        assert c.get("/").text == "Hello, Starlette!"
        body = bytes(range(97, 123)) * 100_000  # 2.6 MB
        r = c.post("/echo", content=body)
        assert (r.status_code, r.headers["x-length"]) == (200, str(len(body)))
        assert r.content == body[::-1]
        r = c.get("/stream")
        assert (r.http_version, r.text) == ("HTTP/2", "".join(f"line {i}\n" for i in range(5)))
        assert c.get("/background?name=h2").text == "scheduled"
    assert wait_for_file(markers / "bg-h2") == "done"


def test_fastapi_over_h2c(esg_server, markers):
    server = esg_server(["--http2"], app="fastapi_app:app")
    with h2c_client(server) as c:
        assert c.get("/items/42?q=h2").json() == {"item_id": 42, "q": "h2"}
        r = c.post("/items", json={"name": "pen", "price": 1.25, "tags": ["a"]})
        assert r.json() == {"name": "pen", "double": 2.5, "tags": ["a"]}
        assert c.get("/stream").content == b"part-0;part-1;part-2;part-3;"
        assert c.post("/background/f2").json() == {"scheduled": "f2"}
        assert c.get("/sync").status_code == 200
    assert wait_for_file(markers / "bg-f2") == "done"


def test_wsgi_app_over_h2c(esg_server):
    server = esg_server(["--http2", "--interface", "wsgi"], app="wsgi_raw:app")
    with h2c_client(server) as c:
        environ = c.get("/environ?x=1").json()
        assert environ["SERVER_PROTOCOL"] == "HTTP/2"
        assert environ["HTTP_HOST"] == f"{server.host}:{server.port}"
        assert (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ["QUERY_STRING"]) == ("GET", "/environ",
                                                                                              "x=1")
        body = bytes(range(256)) * 8192  # 2 MiB through wsgi.input
        r = c.post("/read", content=body)
        assert r.json()["body"].encode("latin-1") == body
        r = c.get("/stream?n=40&size=65536")
        assert r.content == b"".join(bytes([65 + i % 26]) * 65536 for i in range(40))


def test_flask_over_h2c(esg_server):
    server = esg_server(["--http2", "--interface", "wsgi"], app="wsgi_flask:app")
    with h2c_client(server) as c:
        r = c.get("/")
        assert (r.http_version, r.status_code, r.text) == ("HTTP/2", 200, "Hello, Flask!")
        info = c.get("/info?k=v").json()
        assert (info["host"], info["scheme"], info["args"]) == (f"{server.host}:{server.port}", "http", {"k": "v"})
        body = b"flask over h2 " * 50_000
        r = c.post("/echo", content=body)
        assert (r.headers["x-length"], r.content) == (str(len(body)), body[::-1])


# ------------------------------------------------------------------------------------------ what stays HTTP/1.1


def test_upgrade_h2c_is_served_as_http11(esg_server):
    server = esg_server(["--http2"], app="scope_echo:app")
    resp = exchange(server, http_request("GET", "/up", headers=[
        ("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")]))
    assert (resp.version, resp.status) == ("HTTP/1.1", 200), resp.raw
    assert decode_tagged(resp.json())["http_version"] == "1.1"
    # curl --http2 on cleartext asks for the upgrade and stays on HTTP/1.1.
    assert curl_get(h2c_url(server, "/curl"), "--http2")[:2] == ("1.1", "200")


def test_preface_without_http2_is_400(esg_server):
    server = esg_server([], app="hello:app")
    with server.connect() as conn:
        conn.send(PREFACE)
        resp = conn.read_response()
    assert resp.status == 400
    proc = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", h2c_url(server))
    assert proc.stdout.decode() != "2 200", proc.stdout


def test_websocket_stays_on_http11_beside_h2(esg_server):
    server = esg_server(["--http2"], app="ws_app:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/echo", headers=[("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                                    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                                    ("Sec-WebSocket-Version", "13")]))
        resp = conn.read_response()
    assert resp.status == 101, resp.raw
    assert resp.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_connect_is_501(esg_server):
    server = esg_server(["--http2"], app="hello:app")
    with H2Conn.open(server) as conn:
        conn.send(conn.headers_frame(1, [(":method", "CONNECT"), (":authority", "example.com:443")]))
        conn.read_until(lambda: 1 in conn.ended, what="an answer to CONNECT")
        assert conn.status(1) == 501, conn.summary()
        assert conn.get(3) == (200, b"Hello, world!")


# ------------------------------------------------------------------------------------------------ shutdown


def test_sigterm_sends_goaway_and_lets_the_open_stream_finish(esg_server, markers):
    server = esg_server(["--http2"], app="slow:app")
    with H2Conn.open(server) as conn:
        conn.send(conn.headers_frame(1, path="/slow?id=g&delay=1.5"))
        wait_for_file(markers / "started-g")
        server.send_signal(signal.SIGTERM)
        conn.read_until(lambda: 1 in conn.ended, timeout=15, what="the slow stream finishes after SIGTERM")
        assert conn.status(1) == 200 and conn.data[1] == b"slow done", conn.summary()
        conn.read_to_close(15)
    assert conn.goaways, f"no GOAWAY on a graceful stop: {conn.summary()}"
    assert all(g.error_code == NO_ERROR for g in conn.goaways), conn.summary()
    assert conn.goaways[-1].last_stream_id == 1, conn.summary()
    assert server.wait() == 0, server.describe()


def test_sigterm_tells_an_idle_connection_the_last_stream_before_closing(esg_server):
    """An HTTP/2 connection with no stream open when the worker stops: the worker does not wait for it, but it
    still gets the two GOAWAYs — the notice, then the last stream id it processed — before the close."""
    server = esg_server(["--http2"], app="hello:app")
    with H2Conn.open(server) as conn:
        assert conn.get(1) == (200, b"Hello, world!")
        assert conn.get(3) == (200, b"Hello, world!")
        server.send_signal(signal.SIGTERM)
        conn.read_to_close(15)
    assert [g.error_code for g in conn.goaways] == [NO_ERROR, NO_ERROR], conn.summary()
    assert conn.goaways[0].last_stream_id == 2**31 - 1 and conn.goaways[-1].last_stream_id == 3, conn.summary()
    assert server.wait() == 0, server.describe()


def test_sighup_reload_sends_goaway_and_lets_the_open_stream_finish(esg_server, markers):
    server = esg_server(["--http2"], app="slow:app")
    with H2Conn.open(server) as conn:
        conn.send(conn.headers_frame(1, path="/slow?id=r&delay=1.5"))
        wait_for_file(markers / "started-r")
        server.send_signal(signal.SIGHUP)
        conn.read_until(lambda: 1 in conn.ended, timeout=15, what="the slow stream finishes across the reload")
        assert conn.status(1) == 200 and conn.data[1] == b"slow done", conn.summary()
        conn.read_until(lambda: bool(conn.goaways), timeout=15, what="a GOAWAY from the draining worker")
    assert all(g.error_code == NO_ERROR for g in conn.goaways), conn.summary()
    # The new generation serves h2.
    assert curl_get(h2c_url(server, "/slow?delay=0"), "--http2-prior-knowledge") == ("2", "200", b"slow done")
    assert server.alive()


# ------------------------------------------------------------------------------------------------ defences


def _attack_and_check(server, data: bytes, *, allow_close: bool = False) -> H2Conn:
    """Send `data` (after the preface) from a thread while reading: the server must answer with GOAWAY
    ENHANCE_YOUR_CALM (or, with allow_close, close), keep the worker's RSS bounded, and serve a new connection.

    Each attack is kept under 64 KiB, one write: the server has read all of it when it gives up, so its close
    is a FIN after the GOAWAY rather than a reset that could discard the GOAWAY in this client's kernel."""
    assert len(data) < 65536
    pid = wait_workers(server, 1)[0]
    with H2Conn.open(server) as warm:  # the allocator reaches its steady state first
        for i in range(1, 20, 2):
            assert warm.get(i) == (200, b"Hello, world!")
    base = rss(pid)
    conn = H2Conn.open(server)
    with conn:
        sender = BackgroundSender(conn.sock, data)
        peak = base
        deadline = time.monotonic() + 20
        while not conn.eof and time.monotonic() < deadline:
            try:
                conn.read_frame(0.2)
            except socket.timeout:
                pass
            peak = max(peak, rss(pid))
        sender.join(IO_TIMEOUT)
    calm = [g for g in conn.goaways if g.error_code == ENHANCE_YOUR_CALM]
    if allow_close:
        assert calm or (conn.eof and not conn.goaways), f"neither GOAWAY 0xb nor a plain close: {conn.summary()}"
    else:
        assert calm, f"no GOAWAY ENHANCE_YOUR_CALM: {conn.summary()}"
    assert conn.eof, f"the connection stayed open after the GOAWAY: {conn.summary()}"
    assert peak - base < RSS_GROWTH_BOUND, f"worker RSS grew by {(peak - base) >> 20} MiB"
    # Other connections are served, with both clients.
    assert curl_get(h2c_url(server), "--http2-prior-knowledge") == ("2", "200", b"Hello, world!")
    with H2Conn.open(server) as other:
        assert other.get(1) == (200, b"Hello, world!")
    assert server.alive()
    return conn


def test_rapid_reset_gets_goaway_enhance_your_calm(esg_server):
    server = esg_server(["--http2"], app="hello:app")
    enc = H2Conn(socket.socket())  # only its encoder, to build the frames
    data = b"".join(enc.headers_frame(sid, path=f"/r{sid}") + enc.rst(sid, CANCEL)
                    for sid in range(1, 2001, 2))  # 1,000 streams opened and reset
    enc.close()
    conn = _attack_and_check(server, data)
    last = conn.goaways[-1].last_stream_id
    assert last < 1999, f"GOAWAY came only after all 1,000 resets (last stream {last})"


def test_continuation_flood_is_cut(esg_server):
    server = esg_server(["--http2"], app="hello:app")
    enc = H2Conn(socket.socket())
    fields = enc.request_fields(extra=[(f"x-h{i}", f"{i:08d}" * 8) for i in range(800)])
    block = enc.block(fields)
    enc.close()
    # ~40 KB of header block in 1,000-byte frames, END_HEADERS never sent: HEADERS + 39 CONTINUATIONs.
    data = H2Conn.split_block(1, block, 1000, end_headers=False)
    assert data.count(b"\x09\x00\x00\x00\x00\x01") >= 30  # CONTINUATIONs (type 9, no flags, stream 1)
    _attack_and_check(server, data, allow_close=True)


@pytest.mark.parametrize("kind", ["ping", "settings", "window_update"])
def test_control_frame_flood_gets_goaway(esg_server, kind):
    server = esg_server(["--http2"], app="hello:app")
    frame = {"ping": H2Conn.ping(b"flooding"),
             "settings": bytes.fromhex("000000040000000000"),  # empty SETTINGS
             "window_update": H2Conn.window_update(0, 1)}[kind]
    _attack_and_check(server, frame * (65535 // len(frame)))  # 3,855 PINGs, 7,281 SETTINGS, 5,041 WINDOW_UPDATEs


@pytest.mark.parametrize("shape", ["large", "many"])
def test_oversized_header_list_is_431_and_the_connection_lives(esg_server, shape):
    server = esg_server(["--http2"], app="scope_echo:app")
    with H2Conn.open(server) as conn:
        if shape == "large":  # 40 KiB decoded, over the 32 KiB list bound, in 3 frames
            extra = [(f"x-big-{i}", f"{i:04d}" * 500) for i in range(20)]
        else:  # 150 fields, over the 100-field bound
            extra = [(f"x-n-{i}", "v") for i in range(150)]
        block = conn.block(conn.request_fields(extra=extra))
        conn.send(H2Conn.split_block(1, block, 16384))
        conn.read_until(lambda: 1 in conn.ended, what="an answer to the oversized header list")
        assert conn.status(1) == 431, conn.summary()
        assert conn.status(3) is None
        status, body = conn.get(3, "/after")
        assert status == 200 and decode_tagged(json.loads(body))["path"] == "/after"
