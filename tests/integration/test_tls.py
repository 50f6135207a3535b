"""HTTPS: the --ssl-* options end to end (app: apps/tls_app.py).

Certificates are made once per module with the `openssl` command: a test CA, a server certificate for
localhost/127.0.0.1 signed by it (plain and password-protected key), a client certificate, an unrelated key.
Clients verify the server against that CA.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from esgtest import IO_TIMEOUT, RawConnection, http_request

APP = "tls_app:app"
PASSWORD = "s3cret pass"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=ESG Test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)
    for name, ext in (("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")):
        (d / f"{name}.ext").write_text(ext)
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)
    _openssl("pkey", "-in", "server.key", "-aes256", "-passout", f"pass:{PASSWORD}", "-out", "server-enc.key", cwd=d)
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key", cwd=d)
    return d


def tls_args(certs: Path, *extra: str) -> list[str]:
    return ["--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile", str(certs / "server.key"), *extra]


def client_context(certs: Path, *, client_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    if client_cert:
        ctx.load_cert_chain(str(certs / "client.pem"), str(certs / "client.key"))
    return ctx


def url(server, path: str = "/") -> str:
    return f"https://localhost:{server.port}{path}"


def https_client(certs: Path, **kwargs) -> httpx.Client:
    return httpx.Client(verify=client_context(certs, **kwargs), trust_env=False, timeout=IO_TIMEOUT)


def tls_connect(server, ctx: ssl.SSLContext, *, suppress_ragged_eofs: bool = True) -> RawConnection:
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT)
    try:
        sock = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=suppress_ragged_eofs)
        return RawConnection(sock, server)
    except BaseException:
        raw.close()
        raise


# ------------------------------------------------------------------------------------------------- serving


def test_https_scope_scheme_alpn_and_running_line(serve, certs):
    server = serve(APP, *tls_args(certs))
    assert "ESG running on https://127.0.0.1:" in server.stderr()
    with https_client(certs) as c:
        r = c.get(url(server, "/scope"))
    assert r.status_code == 200
    assert r.json() == {"scheme": "https", "path": "/scope", "http_version": "1.1"}
    with tls_connect(server, client_context(certs)) as conn:
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
        # ALPN: the client did not offer any here; with an offer the server picks http/1.1 (checked below).
    ctx = client_context(certs)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with tls_connect(server, ctx) as conn:
        assert conn.sock.selected_alpn_protocol() == "http/1.1"
        conn.send(http_request("GET", "/scope"))
        assert conn.read_response().json()["scheme"] == "https"


def alpn_selected(server, certs: Path, offer: list[str]) -> str | None:
    """The protocol the server selected by ALPN for a client offering `offer` (None: no ALPN answer)."""
    ctx = client_context(certs)
    ctx.set_alpn_protocols(offer)
    with tls_connect(server, ctx) as conn:
        return conn.sock.selected_alpn_protocol()


def test_http2_offers_alpn_h2_then_http_1_1(esg_server, certs):
    server = esg_server(tls_args(certs, "--http2", "--http2-max-concurrent-streams", "32"), app=APP)
    assert alpn_selected(server, certs, ["h2", "http/1.1"]) == "h2"
    assert alpn_selected(server, certs, ["http/1.1", "h2"]) == "h2", "the server's preference (h2) wins"
    assert alpn_selected(server, certs, ["h2"]) == "h2"
    assert alpn_selected(server, certs, ["http/1.1"]) == "http/1.1"
    # A client that speaks only HTTP/1.1 is served as without --http2.
    ctx = client_context(certs)
    ctx.set_alpn_protocols(["http/1.1"])
    with tls_connect(server, ctx) as conn:
        conn.send(http_request("GET", "/scope"))
        assert conn.read_response().json() == {"scheme": "https", "path": "/scope", "http_version": "1.1"}


def test_without_http2_alpn_never_selects_h2(esg_server, certs):
    server = esg_server(tls_args(certs), app=APP)
    assert alpn_selected(server, certs, ["h2", "http/1.1"]) == "http/1.1"
    assert alpn_selected(server, certs, ["h2"]) is None, "an h2-only client gets no ALPN answer"
    assert alpn_selected(server, certs, ["http/1.1"]) == "http/1.1"


def test_plain_http_to_a_tls_port_is_not_served(esg_server, certs):
    server = esg_server(tls_args(certs), app=APP)
    with server.connect() as conn:
        conn.send(http_request("GET", "/scope"))
        data = conn.read_until_close()
    assert b"HTTP/1.1 200" not in data


def test_keep_alive(esg_server, certs):
    server = esg_server(tls_args(certs), app=APP)
    with tls_connect(server, client_context(certs)) as conn:
        for i in range(3):
            conn.send(http_request("POST", "/echo", body=f"one-{i}".encode()))
            r = conn.read_response()
            assert (r.status, r.body) == (200, f"one-{i}".encode())


def test_pipelining(esg_server, certs):
    """Also fails with plain HTTP on a tree where test_http_protocol's pipelining tests fail (engine)."""
    server = esg_server(tls_args(certs), app=APP)
    with tls_connect(server, client_context(certs)) as conn:
        # Three requests in one TLS write, answered in order.
        conn.send(b"".join(http_request("POST", "/echo", body=f"pipe-{i}".encode()) for i in range(3)))
        assert [conn.read_response().body for _ in range(3)] == [b"pipe-0", b"pipe-1", b"pipe-2"]
        # Separate TLS records sent back to back (one Read() must drain every record in the socket).
        for i in range(3):
            conn.send(http_request("POST", "/echo", body=f"rec-{i}".encode()))
        assert [conn.read_response().body for _ in range(3)] == [b"rec-0", b"rec-1", b"rec-2"]


def test_large_bodies_both_ways(serve, certs):
    server = serve(APP, *tls_args(certs))
    payload = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    # (A keep-alive request after a large request body stalls with plain HTTP too, an engine issue outside
    # TLS: the upload gets a connection of its own.)
    with https_client(certs) as c:
        r = c.post(url(server, "/echo"), content=payload)
        assert r.status_code == 200
        assert len(r.content) == len(payload)
        assert r.content == payload
    with https_client(certs) as c:
        r = c.get(url(server, f"/big?n={5 * 1024 * 1024 + 7}"))
        assert r.status_code == 200
        expected = (bytes(range(256)) * 256 * 81)[:5 * 1024 * 1024 + 7]
        assert r.content == expected
        # The connection is still usable afterwards (keep-alive over TLS after a big exchange).
        assert c.get(url(server, "/scope")).json()["scheme"] == "https"


def test_slow_reader_gets_the_whole_body(esg_server, certs):
    """The server fills the socket, waits for EPOLLOUT, and resumes from the unsent bytes (TLS retry)."""
    server = esg_server(tls_args(certs), app=APP)
    n = 16 * 1024 * 1024  # more than the socket buffers hold while the client is not reading
    with https_client(certs) as c:
        with c.stream("GET", url(server, f"/big?n={n}")) as r:
            time.sleep(1.0)  # let the server run into a full socket
            body = r.read()
        assert r.status_code == 200
        assert len(body) == n
        assert body == (bytes(range(256)) * 256 * 257)[:n]
        assert c.get(url(server, "/scope")).status_code == 200


# -------------------------------------------------------------------------------------------- key material


def test_password_protected_key(esg_server, certs):
    server = esg_server(["--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile", str(certs / "server-enc.key"),
                         "--ssl-keyfile-password", PASSWORD], app=APP)
    with https_client(certs) as c:
        assert c.get(url(server, "/scope")).json()["scheme"] == "https"


def _assert_usage_error(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Error: " in result.stderr
    for f in fragments:
        assert f in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "Started server process" not in result.stderr  # refused before any worker was spawned


def test_wrong_password_is_a_start_up_error(run_esg, certs):
    r = run_esg(["--port", "0", "--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile",
                 str(certs / "server-enc.key"), "--ssl-keyfile-password", "wrong", APP])
    _assert_usage_error(r, "--ssl-keyfile-password", "server-enc.key")
    assert "wrong" not in r.stderr.replace("(wrong password?)", "")  # the password itself is never printed


def test_encrypted_key_without_password(run_esg, certs):
    r = run_esg(["--port", "0", "--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile",
                 str(certs / "server-enc.key"), APP])
    _assert_usage_error(r, "--ssl-keyfile", "encrypted", "--ssl-keyfile-password")


def test_bad_cert_path(run_esg, certs, tmp_path):
    missing = tmp_path / "nope.pem"
    r = run_esg(["--port", "0", "--ssl-certfile", str(missing), "--ssl-keyfile", str(certs / "server.key"), APP])
    _assert_usage_error(r, f"--ssl-certfile '{missing}'", "No such file or directory")


def test_not_a_certificate(run_esg, certs):
    r = run_esg(["--port", "0", "--ssl-certfile", str(certs / "server.key"), "--ssl-keyfile",
                 str(certs / "server.key"), APP])
    _assert_usage_error(r, "--ssl-certfile", "not a usable PEM certificate")


def test_mismatched_key(run_esg, certs):
    r = run_esg(["--port", "0", "--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile", str(certs / "other.key"),
                 APP])
    _assert_usage_error(r, "--ssl-keyfile", "other.key", "does not match the certificate")


@pytest.mark.parametrize("args, fragment", [
    (["--ssl-version", "4"], "--ssl-version 4"),
    (["--ssl-version", "16"], "--ssl-version 16"),
    (["--ssl-cert-reqs", "2"], "needs --ssl-ca-certs"),
    (["--ssl-cert-reqs", "7", "--ssl-ca-certs", "ca.pem"], "--ssl-cert-reqs 7"),
    (["--ssl-ciphers", "NO-SUCH-CIPHER"], "--ssl-ciphers"),
])
def test_bad_option_values(run_esg, certs, args, fragment):
    args = [str(certs / a) if a.endswith(".pem") else a for a in args]
    r = run_esg(["--port", "0", *tls_args(certs, *args), APP])
    _assert_usage_error(r, fragment)


# ---------------------------------------------------------------------------------------- protocol policy


def test_tls_1_1_client_refused(esg_server, certs):
    server = esg_server(tls_args(certs), app=APP)
    ctx = client_context(certs)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the local OpenSSL offer TLS 1.1 at all, if it still can
    except ssl.SSLError:
        pass
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        tls_connect(server, ctx).close()
    # TLS 1.2 is accepted.
    ctx12 = client_context(certs)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    with tls_connect(server, ctx12) as conn:
        assert conn.sock.version() == "TLSv1.2"
        conn.send(http_request("GET", "/scope"))
        assert conn.read_response().status == 200


def test_ssl_version_5_is_tls_1_2_only(esg_server, certs):
    server = esg_server(tls_args(certs, "--ssl-version", "5"), app=APP)
    with tls_connect(server, client_context(certs)) as conn:
        assert conn.sock.version() == "TLSv1.2"
    ctx13 = client_context(certs)
    ctx13.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        tls_connect(server, ctx13).close()


def _request_over(conn: RawConnection):
    conn.send(http_request("GET", "/scope"))
    return conn.read_response()


def test_client_certificate_required(esg_server, certs):
    server = esg_server(tls_args(certs, "--ssl-cert-reqs", "2", "--ssl-ca-certs", str(certs / "ca.pem")), app=APP)
    # Without a certificate: refused (in TLS 1.3 the client learns it on its first read, not in connect()).
    # (pytest.fail raises a BaseException: an answer fails the test instead of satisfying pytest.raises.)
    with pytest.raises(Exception):
        with tls_connect(server, client_context(certs)) as conn:
            r = _request_over(conn)
            pytest.fail(f"a client without a certificate was answered: {r.status}")
    # With a certificate from the CA: served.
    with tls_connect(server, client_context(certs, client_cert=True)) as conn:
        assert _request_over(conn).json()["scheme"] == "https"
    with https_client(certs, client_cert=True) as c:
        assert c.get(url(server, "/scope")).status_code == 200


def test_client_certificate_optional(esg_server, certs):
    server = esg_server(tls_args(certs, "--ssl-cert-reqs", "1", "--ssl-ca-certs", str(certs / "ca.pem")), app=APP)
    with tls_connect(server, client_context(certs)) as conn:
        assert _request_over(conn).status == 200
    with tls_connect(server, client_context(certs, client_cert=True)) as conn:
        assert _request_over(conn).status == 200


def test_stalled_handshake_is_closed_by_the_header_deadline(esg_server, certs):
    server = esg_server(tls_args(certs, "--timeout-request-header", "1"), app=APP)
    started = time.monotonic()
    with server.connect() as conn:  # TCP only: no ClientHello ever comes
        assert conn.closed_by_server(timeout=10)
    assert time.monotonic() - started < 10
    # A half-sent ClientHello is cut off the same way.
    with server.connect() as conn:
        conn.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        assert conn.closed_by_server(timeout=10)
    # The server still serves.
    with https_client(certs) as c:
        assert c.get(url(server, "/scope")).status_code == 200


def test_clean_close_sends_close_notify(esg_server, certs):
    server = esg_server(tls_args(certs), app=APP)
    with tls_connect(server, client_context(certs), suppress_ragged_eofs=False) as conn:
        conn.send(http_request("GET", "/scope", headers=[("Connection", "close")]))
        r = conn.read_response()
        assert r.status == 200
        # After the response the server ends the TLS session properly (close_notify): an orderly EOF, not
        # the SSLEOFError a bare FIN gives with suppress_ragged_eofs=False.
        assert conn.buf == b""
        conn.sock.settimeout(IO_TIMEOUT)
        assert conn.sock.recv(100) == b""
