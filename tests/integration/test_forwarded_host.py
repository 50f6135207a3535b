"""Forwarded host (issue 14 §5): from a peer trusted by --forwarded-allow-ips (with --proxy-headers, the
default), X-Forwarded-Host / X-Forwarded-Port replace the host header the app sees and set `server` (so WSGI's
HTTP_HOST, SERVER_NAME and SERVER_PORT agree), and the RFC 7239 Forwarded header (for=, proto=, host=) is
understood when no X-Forwarded-* header is present. Proven with Starlette's url_for and redirects and with
Flask's under WSGI; hostile values leave the request's own Host alone.
"""

from __future__ import annotations

import json
import socket

import pytest

from esgtest import IO_TIMEOUT, RawConnection

ECHO = "px_echo:app"
STARLETTE = "fwd_host_apps:starlette_app"
FLASK = "fwd_host_apps:flask_app"


def get(server, path: str = "/where", headers: list[tuple[str, str]] = (), *, source: str = "127.0.0.1",
        host: str | None = "internal:8000", version: str = "1.1"):
    """One GET through a raw socket from `source` with exactly these headers; returns the response."""
    head = f"GET {path} HTTP/{version}\r\n".encode()
    if host is not None:
        head += b"Host: " + host.encode() + b"\r\n"
    for name, value in headers:
        head += name.encode() + b": " + value.encode("latin-1") + b"\r\n"
    head += b"Connection: close\r\n\r\n"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(IO_TIMEOUT)
    sock.bind((source, 0))
    sock.connect((server.host, server.port))
    with RawConnection(sock, server) as conn:
        conn.send(head)
        return conn.read_response()


def seen(server, headers=(), **kwargs) -> dict:
    resp = get(server, headers=headers, **kwargs)
    assert resp.status == 200, resp.raw
    out = resp.json()
    out["host"] = dict(out["headers"]).get("host") if "headers" in out else out.get("host")
    return out


# ------------------------------------------------------------------------------- X-Forwarded-Host / -Port


def test_starlette_url_for_and_redirect_use_the_forwarded_host(esg_server):
    server = esg_server([], app=STARLETTE)
    hdrs = [("X-Forwarded-Host", "shop.example.com"), ("X-Forwarded-Proto", "https"), ("X-Forwarded-For", "203.0.113.9")]
    out = seen(server, hdrs)
    assert out["url_for"] == "https://shop.example.com/target"
    assert out["host"] == "shop.example.com"
    assert out["server"] == ["shop.example.com", 443]
    assert out["client"] == ["203.0.113.9", 0]
    resp = get(server, "/go", hdrs)
    assert resp.status == 307
    assert resp.header("location") == "https://shop.example.com/target"


def test_flask_wsgi_url_for_and_redirect_use_the_forwarded_host_and_port(esg_server):
    server = esg_server(["--interface", "wsgi"], app=FLASK)
    hdrs = [("X-Forwarded-Host", "shop.example.com"), ("X-Forwarded-Port", "8443"), ("X-Forwarded-Proto", "https")]
    out = seen(server, hdrs)
    assert out["url_for"] == "https://shop.example.com:8443/target"
    assert out["HTTP_HOST"] == "shop.example.com:8443"
    assert (out["SERVER_NAME"], out["SERVER_PORT"]) == ("shop.example.com", "8443")
    resp = get(server, "/go", hdrs)
    assert resp.status == 307
    assert resp.header("location") == "https://shop.example.com:8443/target"


def test_flask_wsgi_without_forwarded_headers_keeps_host_and_listener(esg_server):
    server = esg_server(["--interface", "wsgi"], app=FLASK)
    out = seen(server)
    assert out["url_for"] == "http://internal:8000/target"
    assert (out["SERVER_NAME"], out["SERVER_PORT"]) == ("127.0.0.1", str(server.port))


def test_forwarded_port_alone_rewrites_the_port_of_the_host_header(esg_server):
    server = esg_server([], app=ECHO)
    out = seen(server, [("X-Forwarded-Port", "9000")])
    assert out["host"] == "internal:9000"
    assert out["server"] == ["internal", 9000]


def test_default_port_of_the_forwarded_scheme_is_left_out(esg_server):
    server = esg_server([], app=ECHO)
    out = seen(server, [("X-Forwarded-Host", "a.example:443"), ("X-Forwarded-Proto", "https")])
    assert out["host"] == "a.example"
    assert out["server"] == ["a.example", 443]


def test_http10_request_without_host_gets_the_forwarded_one(esg_server):
    server = esg_server([], app=ECHO)
    out = seen(server, [("X-Forwarded-Host", "b.example")], host=None, version="1.0")
    assert out["host"] == "b.example"
    assert out["server"] == ["b.example", 80]


def test_untrusted_peer_cannot_set_the_host(esg_server):
    server = esg_server([], app=ECHO)
    out = seen(server, [("X-Forwarded-Host", "evil.example"), ("Forwarded", "host=evil.example")], source="127.0.0.2")
    assert out["host"] == "internal:8000"
    assert out["server"] == ["127.0.0.1", server.port]


def test_no_proxy_headers_ignores_the_forwarded_host(esg_server):
    server = esg_server(["--no-proxy-headers"], app=ECHO)
    assert seen(server, [("X-Forwarded-Host", "evil.example")])["host"] == "internal:8000"


@pytest.mark.parametrize("value, host", [
    ("a.example, b.example", "b.example"),           # several hosts: the proxy closest to us appended last
    ("a.example b.example", "internal:8000"),        # not one host
    ("user@evil.example", "internal:8000"),          # userinfo
    ("evil.example/path", "internal:8000"),          # a path
    ("evil.example:0", "internal:8000"),             # port out of range
    ("evil.example:70000", "internal:8000"),
    ("[::1", "internal:8000"),                       # unclosed IPv6 literal
    ("[::1]:8080", "[::1]:8080"),
    ("x" * 254, "internal:8000"),                    # longer than a DNS name
])
def test_hostile_forwarded_host_values(esg_server, value, host):
    server = esg_server([], app=ECHO)
    assert seen(server, [("X-Forwarded-Host", value)])["host"] == host


def test_huge_lists_cost_linear_work_and_respect_the_bound(esg_server):
    # With the head limits raised, a 200 kB X-Forwarded-Host list is scanned once (its rightmost entry
    # counts) and a Forwarded list over kMaxForwardedElements (64) says nothing.
    server = esg_server(["--limit-request-field-size", "400000", "--limit-request-head-size", "800000"], app=ECHO)
    hosts = ",".join("h%d.example" % i for i in range(20000))
    assert seen(server, [("X-Forwarded-Host", hosts)])["host"] == "h19999.example"
    elements = ", ".join("for=198.51.100.%d;host=h%d.example" % (i % 250, i) for i in range(10000))
    out = seen(server, [("Forwarded", elements)])
    assert out["host"] == "internal:8000"
    assert out["client"][0] == "127.0.0.1"


@pytest.mark.parametrize("name, value", [
    ("X-Forwarded-Host", "evil.example\x01"), ("X-Forwarded-Host", "a.example\rb"),
    ("Forwarded", "for=203.0.113.4;host=a\x7f.example"), ("Forwarded", 'host="a\x00b"'),
])
def test_control_bytes_are_refused_by_the_parser_before_the_app(esg_server, name, value):
    # The HTTP parser refuses control bytes in any header value (400): ForwardedPolicy refuses them too
    # (tests/unit/server/http/forwarded_test.cc), for a parser that ever lets them through.
    server = esg_server([], app=ECHO)
    resp = get(server, headers=[(name, value)])
    assert resp.status == 400


def test_several_forwarded_host_lines_take_the_last(esg_server):
    server = esg_server([], app=ECHO)
    out = seen(server, [("X-Forwarded-Host", "client-said.example"), ("X-Forwarded-Host", "proxy-said.example")])
    assert out["host"] == "proxy-said.example"


def test_cr_lf_in_a_forwarded_host_is_refused_by_the_parser(esg_server):
    server = esg_server([], app=ECHO)
    resp = get(server, headers=[("X-Forwarded-Host", "a.example\r\nX-Evil: 1")])
    # The CRLF ends the header line: the next line is a header of its own, the host stays a.example.
    assert resp.status == 200
    out = resp.json()
    assert dict(out["headers"])["host"] == "a.example"


# --------------------------------------------------------------------------------------- RFC 7239


@pytest.mark.parametrize("value, client, scheme, host", [
    ("for=203.0.113.4;proto=https;host=shop.example", ["203.0.113.4", 0], "https", "shop.example"),
    ('for="203.0.113.4:4711";proto=https', ["203.0.113.4", 4711], "https", "internal:8000"),
    ('for="[2001:db8::1]:4711";host="shop.example:8443"', ["2001:db8::1", 4711], "http", "shop.example:8443"),
    ('For="[2001:db8::1]"', ["2001:db8::1", 0], "http", "internal:8000"),
    ("for=unknown;proto=https", ["127.0.0.1", None], "https", "internal:8000"),      # names no client
    ("for=_hidden;host=shop.example", ["127.0.0.1", None], "http", "shop.example"),  # obfuscated
    ('for="203.0.113.4:_port"', ["203.0.113.4", 0], "http", "internal:8000"),
    # right to left: 127.0.0.1 is trusted, 198.51.100.2 is not: its element is the one that counts
    ("for=198.51.100.1;host=a.example, for=198.51.100.2;host=b.example, for=127.0.0.1;host=c.example",
     ["198.51.100.2", 0], "http", "b.example"),
    ('for=203.0.113.4;host="sh\\op.example"', ["203.0.113.4", 0], "http", "shop.example"),  # quoted-pair
    ('for=203.0.113.4;host="a.example, b.example"', ["203.0.113.4", 0], "http", "internal:8000"),
    ("for=203.0.113.4;for=198.51.100.9", ["127.0.0.1", None], "http", "internal:8000"),  # repeated: invalid
    ('for="203.0.113.4', ["127.0.0.1", None], "http", "internal:8000"),                  # unterminated
    ("for=203.0.113.4;proto=ftp", ["203.0.113.4", 0], "http", "internal:8000"),
    (", ".join(["for=127.0.0.1"] * 65), ["127.0.0.1", None], "http", "internal:8000"),  # over the bound (64)
    (", ".join(["for=127.0.0.1;host=first.example"] + ["for=127.0.0.1"] * 63), ["127.0.0.1", 0], "http",
     "first.example"),  # 64 trusted elements, the bound: a whole trusted chain yields the leftmost
])
def test_rfc7239_forwarded(esg_server, value, client, scheme, host):
    server = esg_server([], app=ECHO)
    out = seen(server, [("Forwarded", value)])
    if client[1] is None:
        assert out["client"][0] == "127.0.0.1" and out["client"][1] != 0
    else:
        assert out["client"] == client
    assert out["scheme"] == scheme
    assert out["host"] == host


def test_forwarded_lines_are_walked_as_one_list(esg_server):
    server = esg_server([], app=ECHO)
    out = seen(server, [("Forwarded", "for=198.51.100.1;host=a.example"), ("Forwarded", "for=127.0.0.1;host=c.example")])
    assert out["client"] == ["198.51.100.1", 0]
    assert out["host"] == "a.example"


def test_x_forwarded_headers_win_over_forwarded(esg_server):
    server = esg_server([], app=ECHO)
    out = seen(server, [("Forwarded", "for=198.51.100.1;proto=https;host=a.example"), ("X-Forwarded-For", "203.0.113.5")])
    # Any X-Forwarded-* header makes the Forwarded header ignored as a whole (not mixed field by field).
    assert out["client"] == ["203.0.113.5", 0]
    assert out["scheme"] == "http"
    assert out["host"] == "internal:8000"


def test_starlette_redirect_behind_an_rfc7239_proxy(esg_server):
    server = esg_server([], app=STARLETTE)
    resp = get(server, "/go", [("Forwarded", 'for="[2001:db8::7]:5000";proto=https;host=shop.example')])
    assert resp.status == 307
    assert resp.header("location") == "https://shop.example/target"
