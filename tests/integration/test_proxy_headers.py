"""Proxy headers (DESIGN §3): X-Forwarded-For / X-Forwarded-Proto are used only when the peer is trusted by
--forwarded-allow-ips (IPs, CIDRs, `*`, `unix`; default $FORWARDED_ALLOW_IPS or 127.0.0.1); the client is the
first untrusted address walking right to left (a port in the entry is kept, otherwise 0); X-Forwarded-Proto
only accepts http/https/ws/wss and maps to ws/wss for WebSockets; --no-proxy-headers turns it all off.

Peers other than 127.0.0.1 are made by binding the client socket to 127.0.0.2 (all of 127/8 is loopback).
"""

from __future__ import annotations

import base64
import json
import socket
import struct
from pathlib import Path

import pytest

from esgtest import IO_TIMEOUT, RawConnection

APP = "px_echo:app"


def ask(server, xff: str | None = None, xfp: str | None = None, *, source: str = "127.0.0.1",
        extra: bytes = b"") -> dict:
    """One GET through a raw socket from `source`; returns the app's view of the scope."""
    head = b"GET /who HTTP/1.1\r\nHost: esg.test\r\n"
    if xff is not None:
        head += b"X-Forwarded-For: " + xff.encode() + b"\r\n"
    if xfp is not None:
        head += b"X-Forwarded-Proto: " + xfp.encode() + b"\r\n"
    head += extra + b"\r\n"
    if server.uds:
        conn = server.connect()
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(IO_TIMEOUT)
        sock.bind((source, 0))
        sock.connect((server.host, server.port))
        conn = RawConnection(sock, server)
    with conn:
        conn.send(head)
        resp = conn.read_response()
        local_port = None if server.uds else conn.sock.getsockname()[1]
    assert resp.status == 200, resp.raw
    out = resp.json()
    out["local_port"] = local_port
    return out


# -------------------------------------------------------------------------------------------- defaults


def test_default_trusts_127_0_0_1(serve):
    server = serve(APP)
    seen = ask(server, "203.0.113.7", "https")
    assert seen["client"] == ["203.0.113.7", 0]
    assert seen["scheme"] == "https"


def test_default_ignores_an_untrusted_peer(esg_server):
    server = esg_server([], app=APP)
    seen = ask(server, "203.0.113.7", "https", source="127.0.0.2")
    assert seen["client"] == ["127.0.0.2", seen["local_port"]]
    assert seen["scheme"] == "http"


def test_forwarded_allow_ips_other_address_makes_localhost_untrusted(esg_server):
    server = esg_server(["--forwarded-allow-ips", "10.0.0.1"], app=APP)
    seen = ask(server, "203.0.113.7", "https")
    assert seen["client"] == ["127.0.0.1", seen["local_port"]]
    assert seen["scheme"] == "http"


def test_no_proxy_headers_ignores_them_even_from_a_trusted_peer(serve):
    server = serve(APP, "--no-proxy-headers", "--forwarded-allow-ips", "*")
    seen = ask(server, "203.0.113.7", "https")
    assert seen["client"] == ["127.0.0.1", seen["local_port"]]
    assert seen["scheme"] == "http"


def test_without_headers_the_peer_is_the_client(esg_server):
    server = esg_server([], app=APP)
    seen = ask(server)
    assert seen["client"] == ["127.0.0.1", seen["local_port"]]
    assert seen["scheme"] == "http"


def test_star_trusts_every_peer(esg_server):
    server = esg_server(["--forwarded-allow-ips", "*"], app=APP)
    seen = ask(server, "203.0.113.7", "https", source="127.0.0.2")
    assert seen["client"] == ["203.0.113.7", 0]
    assert seen["scheme"] == "https"


# --------------------------------------------------------------------------------- right-to-left walk


@pytest.mark.parametrize("xff,client", [
    ("203.0.113.1, 10.1.2.3", ["203.0.113.1", 0]),
    # The first untrusted address from the right, not the (client-controlled) leftmost one.
    ("198.51.100.9, 203.0.113.1, 10.1.2.3", ["203.0.113.1", 0]),
    ("198.51.100.9,203.0.113.1,10.255.255.255", ["203.0.113.1", 0]),
    # Every hop trusted: the leftmost one.
    ("10.1.1.1, 10.2.2.2", ["10.1.1.1", 0]),
    ("203.0.113.1, 127.0.0.1", ["203.0.113.1", 0]),
    # A port given in the entry is kept.
    ("203.0.113.7:1234", ["203.0.113.7", 1234]),
    ("[2001:db8::1]:8443, 10.0.0.5", ["2001:db8::1", 8443]),
    ("2001:db8::1", ["2001:db8::1", 0]),
])
def test_right_to_left_walk_with_cidrs(esg_server, xff, client):
    server = esg_server(["--forwarded-allow-ips", "127.0.0.1,10.0.0.0/8"], app=APP)
    assert ask(server, xff)["client"] == client


def test_cidr_trusts_the_peer(esg_server):
    server = esg_server(["--forwarded-allow-ips", "127.0.0.0/8"], app=APP)
    seen = ask(server, "203.0.113.9", "https", source="127.0.0.2")
    assert seen["client"] == ["203.0.113.9", 0] and seen["scheme"] == "https"


def test_ipv6_cidr_does_not_trust_an_ipv4_peer(esg_server):
    server = esg_server(["--forwarded-allow-ips", "::1/128,2001:db8::/32"], app=APP)
    seen = ask(server, "203.0.113.9", "https")
    assert seen["client"] == ["127.0.0.1", seen["local_port"]] and seen["scheme"] == "http"


# ------------------------------------------------------------------------------------------------ scheme


@pytest.mark.parametrize("xfp,scheme", [
    ("https", "https"),
    ("http", "http"),
    ("javascript", "http"),
    ("https://evil", "http"),
    ("ftp", "http"),
    ("", "http"),
])
def test_forwarded_proto_only_accepts_http_https_ws_wss(esg_server, xfp, scheme):
    server = esg_server([], app=APP)
    assert ask(server, xfp=xfp)["scheme"] == scheme


def _ws_scope(server, xfp: str | None, source: str = "127.0.0.1") -> dict:
    key = base64.b64encode(b"0123456789abcdef").decode()
    head = (f"GET /ws HTTP/1.1\r\nHost: esg.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if xfp is not None:
        head += f"X-Forwarded-Proto: {xfp}\r\nX-Forwarded-For: 203.0.113.50\r\n"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(IO_TIMEOUT)
    sock.bind((source, 0))
    sock.connect((server.host, server.port))
    with RawConnection(sock, server) as conn:
        conn.send(head.encode() + b"\r\n")
        resp = conn.read_response(head=True)
        assert resp.status == 101, resp.raw
        while len(conn.buf) < 2:
            assert conn._fill(), "closed before the first frame"
        b0, b1 = conn.buf[0], conn.buf[1]
        assert b0 & 0x0F == 1, f"expected a text frame, got {conn.buf[:10]!r}"
        n, off = b1 & 0x7F, 2
        if n == 126:
            while len(conn.buf) < 4:
                assert conn._fill()
            n, off = struct.unpack("!H", conn.buf[2:4])[0], 4
        while len(conn.buf) < off + n:
            assert conn._fill()
        return json.loads(conn.buf[off:off + n])


@pytest.mark.parametrize("xfp,scheme", [("https", "wss"), ("http", "ws"), ("wss", "wss"), ("ws", "ws"),
                                        ("javascript", "ws"), (None, "ws")])
def test_websocket_scheme_through_a_trusted_proxy(serve, xfp, scheme):
    server = serve(APP)
    seen = _ws_scope(server, xfp)
    assert seen["type"] == "websocket"
    assert seen["scheme"] == scheme
    if xfp is not None:
        assert seen["client"] == ["203.0.113.50", 0]


def test_websocket_from_an_untrusted_peer_keeps_ws(esg_server):
    server = esg_server([], app=APP)
    seen = _ws_scope(server, "https", source="127.0.0.2")
    assert seen["scheme"] == "ws" and seen["client"][0] == "127.0.0.2"


# ---------------------------------------------------------------------------------------- UNIX sockets


def test_uds_peer_trusted_with_unix(esg_server, tmp_path: Path):
    sock = str(tmp_path / "px.sock")
    server = esg_server(["--uds", sock, "--forwarded-allow-ips", "unix"], app=APP)
    seen = ask(server, "203.0.113.7, 198.51.100.1", "https")
    assert seen["client"] == ["198.51.100.1", 0]
    assert seen["scheme"] == "https"


def test_uds_peer_not_trusted_by_default(esg_server, tmp_path: Path):
    sock = str(tmp_path / "px.sock")
    server = esg_server(["--uds", sock], app=APP)
    seen = ask(server, "203.0.113.7", "https")
    assert seen["client"] != ["203.0.113.7", 0]
    assert seen["scheme"] == "http"


def test_uds_peer_not_covered_by_an_ip_list(esg_server, tmp_path: Path):
    """An IP list (even 0.0.0.0/0) does not cover UNIX-socket peers: that needs the explicit `unix` token."""
    sock = str(tmp_path / "px.sock")
    server = esg_server(["--uds", sock, "--forwarded-allow-ips", "127.0.0.1,0.0.0.0/0"], app=APP)
    seen = ask(server, "203.0.113.7", "https")
    assert seen["scheme"] == "http"
    assert seen["client"] != ["203.0.113.7", 0]


def test_unix_token_does_not_trust_tcp_peers(esg_server):
    server = esg_server(["--forwarded-allow-ips", "unix"], app=APP)
    seen = ask(server, "203.0.113.7", "https")
    assert seen["client"] == ["127.0.0.1", seen["local_port"]] and seen["scheme"] == "http"


# ------------------------------------------------------------------------------ $FORWARDED_ALLOW_IPS


def test_env_default_is_used(esg_server):
    server = esg_server([], app=APP, env={"FORWARDED_ALLOW_IPS": "127.0.0.2"})
    trusted = ask(server, "203.0.113.7", "https", source="127.0.0.2")
    assert trusted["client"] == ["203.0.113.7", 0] and trusted["scheme"] == "https"
    # 127.0.0.1 is no longer trusted: the environment replaced the default.
    untrusted = ask(server, "203.0.113.7", "https")
    assert untrusted["client"] == ["127.0.0.1", untrusted["local_port"]] and untrusted["scheme"] == "http"


def test_option_overrides_the_env(esg_server):
    server = esg_server(["--forwarded-allow-ips", "127.0.0.1"], app=APP, env={"FORWARDED_ALLOW_IPS": "10.0.0.1"})
    assert ask(server, "203.0.113.7")["client"] == ["203.0.113.7", 0]


# --------------------------------------------------------------------------------------- bad values


@pytest.mark.parametrize("value", ["10.0.0.0/33", "not-an-ip", "300.1.1.1", "127.0.0.1,bogus"])
def test_malformed_forwarded_allow_ips_is_a_cli_error(run_esg, value):
    """DESIGN §3: CLI errors name the option and exit 2, before any worker or app starts."""
    result = run_esg(["--forwarded-allow-ips", value, "--port", "0", APP], timeout=30)
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "--forwarded-allow-ips" in result.stderr
    assert value.split(",")[-1] in result.stderr
    assert "Traceback" not in result.stderr
    assert "Application startup complete" not in result.stderr
    assert "ESG running on" not in result.stderr


def test_malformed_env_forwarded_allow_ips_is_an_error(run_esg):
    result = run_esg(["--port", "0", APP], timeout=30, env={"FORWARDED_ALLOW_IPS": "10.0.0.0/33"})
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "FORWARDED_ALLOW_IPS" in result.stderr or "--forwarded-allow-ips" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ unusable values (#18)
# From a trusted peer, an X-Forwarded-For entry that is not an IP (bytes that are not UTF-8, a name,
# "unknown") names no client: the peer stays the client (it used to be a 500 with a traceback, or the
# garbage itself as the client). A port outside 1..65535 or not decimal is dropped (0). HTTP scopes take
# only http/https from X-Forwarded-Proto.


@pytest.mark.parametrize("raw_xff", [b"\xff\xfe", b"203.0.113.7\xff", b"not-an-ip", b"unknown", b"example.com:80",
                                     b"[203.0.113.7]", b"203.0.113.1, bogus"])
def test_unusable_forwarded_for_keeps_the_peer(serve, raw_xff):
    server = serve(APP)
    seen = ask(server, extra=b"X-Forwarded-For: " + raw_xff + b"\r\n")
    assert seen["client"] == ["127.0.0.1", seen["local_port"]]


@pytest.mark.parametrize("xff,client", [
    ("203.0.113.7:99999", ["203.0.113.7", 0]),
    ("203.0.113.7:0", ["203.0.113.7", 0]),
    ("203.0.113.7:12ab", ["203.0.113.7", 0]),
    ("203.0.113.7:+80", ["203.0.113.7", 0]),
    ("[2001:db8::1]:65536", ["2001:db8::1", 0]),
    ("203.0.113.7:65535", ["203.0.113.7", 65535]),
])
def test_forwarded_ports_outside_1_65535_are_dropped(esg_server, xff, client):
    server = esg_server([], app=APP)
    assert ask(server, xff)["client"] == client


@pytest.mark.parametrize("xfp", ["wss", "ws", "WSS"])
def test_ws_schemes_do_not_apply_to_http_requests(esg_server, xfp):
    server = esg_server([], app=APP)
    assert ask(server, xfp=xfp)["scheme"] == "http"


def _wsgi_ask(server, extra: bytes) -> str:
    with server.connect() as conn:
        conn.send(b"GET /client HTTP/1.1\r\nHost: esg.test\r\n" + extra + b"\r\n")
        resp = conn.read_response()
    assert resp.status == 200, resp.raw
    return resp.body.decode()


def test_wsgi_environ_with_unusable_forwarded_headers(esg_server):
    server = esg_server(["--interface", "wsgi"], app="app_hardening:wsgi_app")
    assert _wsgi_ask(server, b"X-Forwarded-For: \xff\xfe\r\nX-Forwarded-Proto: wss\r\n") == "127.0.0.1 http"
    assert _wsgi_ask(server, b"X-Forwarded-For: 203.0.113.9:99999\r\nX-Forwarded-Proto: https\r\n") == \
        "203.0.113.9 https"
