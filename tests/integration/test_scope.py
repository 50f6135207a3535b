"""The ASGI 3 `http` connection scope, for `--loop asyncio` and `--loop uvloop`.

The app (apps/scope_echo.py) answers with its scope as JSON that keeps bytes and tuples distinguishable.
Covers: type, asgi.version "3.0" and spec_version, http_version 1.1/1.0, method, scheme, path
(percent-decoded UTF-8) vs raw_path (exact bytes, no query), query_string (exact bytes), root_path from
--root-path (path and raw_path then carry the prefix, as uvicorn does), headers (lowercased names, order and
duplicates kept, exact value bytes), client and server addresses, and state (a dict, with lifespan state
copied in, a fresh copy per request).
"""

import json
import re

from esgtest import decode_tagged, exchange, http_request


def get_scope(server, target="/", *, method="GET", headers=(), body=None, version="HTTP/1.1", raw=None):
    data = raw if raw is not None else http_request(method, target, headers=headers, body=body, version=version)
    resp = exchange(server, data)
    assert resp.status == 200, resp.raw
    return decode_tagged(json.loads(resp.body))


def test_basic_fields(serve):
    scope = get_scope(serve("scope_echo:app"), "/hello")
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert isinstance(scope["asgi"].get("spec_version"), str)
    assert re.fullmatch(r"2\.\d+", scope["asgi"]["spec_version"]), scope["asgi"]
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/hello"
    assert scope["raw_path"] == b"/hello"
    assert scope["query_string"] == b""
    assert scope["root_path"] == ""


def test_http10_version(serve):
    scope = get_scope(serve("scope_echo:app"), "/", version="HTTP/1.0")
    assert scope["http_version"] == "1.0"


def test_methods(serve):
    server = serve("scope_echo:app")
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        scope = get_scope(server, "/m", method=method, body=b"x" if method in ("POST", "PUT", "PATCH") else None)
        assert scope["method"] == method


def test_path_is_percent_decoded_utf8_and_raw_path_exact(serve):
    scope = get_scope(serve("scope_echo:app"), "/caf%C3%A9/a%20b")
    assert scope["path"] == "/café/a b"
    assert scope["raw_path"] == b"/caf%C3%A9/a%20b"


def test_encoded_slash_is_decoded_in_path_but_kept_in_raw_path(serve):
    scope = get_scope(serve("scope_echo:app"), "/a%2Fb")
    assert scope["path"] == "/a/b"
    assert scope["raw_path"] == b"/a%2Fb"


def test_query_string_exact_and_not_in_paths(serve):
    scope = get_scope(serve("scope_echo:app"), "/search?q=caf%C3%A9&x=%20+y&empty=&flag")
    assert scope["query_string"] == b"q=caf%C3%A9&x=%20+y&empty=&flag"
    assert scope["path"] == "/search"
    assert scope["raw_path"] == b"/search"


def test_root_path_is_prefixed_like_uvicorn(serve):
    scope = get_scope(serve("scope_echo:app", "--root-path", "/api"), "/items?x=1")
    assert scope["root_path"] == "/api"
    assert scope["path"] == "/api/items"
    assert scope["raw_path"] == b"/api/items"
    assert scope["query_string"] == b"x=1"


def test_headers_lowercased_ordered_duplicates_exact_values(serve):
    raw = (b"GET /h HTTP/1.1\r\n"
           b"Host: esg.test\r\n"
           b"X-Dup: first\r\n"
           b"X-Mixed-CASE: Value With  Spaces\r\n"
           b"x-dup: second\r\n"
           b"Accept: */*\r\n"
           b"\r\n")
    scope = get_scope(serve("scope_echo:app"), raw=raw)
    headers = [tuple(h) for h in scope["headers"]]
    assert headers == [
        (b"host", b"esg.test"),
        (b"x-dup", b"first"),
        (b"x-mixed-case", b"Value With  Spaces"),
        (b"x-dup", b"second"),
        (b"accept", b"*/*"),
    ]
    for name, value in scope["headers"]:
        assert isinstance(name, bytes) and isinstance(value, bytes)


def test_header_value_surrounding_whitespace_is_stripped(serve):
    raw = b"GET / HTTP/1.1\r\nHost: esg.test\r\nX-Pad: \t padded value \t\r\n\r\n"
    scope = get_scope(serve("scope_echo:app"), raw=raw)
    assert [b"x-pad", b"padded value"] in [list(h) for h in scope["headers"]]


def test_header_value_obs_text_bytes_kept(serve):
    raw = b"GET / HTTP/1.1\r\nHost: esg.test\r\nX-Latin: caf\xe9 \xff\r\n\r\n"
    scope = get_scope(serve("scope_echo:app"), raw=raw)
    assert [b"x-latin", b"caf\xe9 \xff"] in [list(h) for h in scope["headers"]]


def test_client_and_server_addresses(serve):
    server = serve("scope_echo:app")
    with server.connect() as conn:
        local_host, local_port = conn.sock.getsockname()[:2]
        conn.send(http_request("GET", "/"))
        resp = conn.read_response()
    scope = decode_tagged(json.loads(resp.body))
    assert isinstance(scope["client"], (list, tuple)) and len(scope["client"]) == 2
    assert list(scope["client"]) == [local_host, local_port]
    assert isinstance(scope["server"], (list, tuple)) and len(scope["server"]) == 2
    assert list(scope["server"]) == [server.host, server.port]


def test_state_is_a_dict_with_lifespan_state(serve):
    scope = get_scope(serve("scope_echo:app", "--lifespan", "on"), "/")
    assert scope["__state_type__"] == "dict"
    assert scope["__state__"].get("from_lifespan") == "yes"


def test_lifespan_state_is_copied_per_request(serve):
    server = serve("lifespan_state:app", "--lifespan", "on")
    first = server.get("/mutate").json()
    second = server.get("/").json()
    assert first["state"]["greeting"] == "hello from startup"
    assert second["state"] == {"greeting": "hello from startup"}, "a request's state change leaked"


def test_scope_is_fresh_per_request_on_keep_alive(serve):
    server = serve("scope_echo:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/one?a=1", headers=[("X-Only-First", "1")]))
        one = decode_tagged(json.loads(conn.read_response().body))
        conn.send(http_request("POST", "/two", body=b"zz"))
        two = decode_tagged(json.loads(conn.read_response().body))
    assert (one["method"], one["path"], one["query_string"]) == ("GET", "/one", b"a=1")
    assert (two["method"], two["path"], two["query_string"]) == ("POST", "/two", b"")
    assert b"x-only-first" not in [h[0] for h in two["headers"]]
    assert one["client"] == two["client"]


def test_unix_socket_server_and_client(serve, tmp_path):
    path = str(tmp_path / "esg.sock")
    server = serve("scope_echo:app", "--uds", path)
    scope = get_scope(server, "/")
    # ASGI: server is [path, None] for UNIX sockets (or None when unknown); client may be None.
    assert scope.get("server") in (None, [path, None], (path, None)), scope.get("server")
    client = scope.get("client")
    assert client is None or (isinstance(client, (list, tuple)) and len(client) == 2), client


def test_long_header_value_and_many_headers_delivered_exactly(serve):
    value = ("v" * 50 + "-") * 150  # 7650 bytes, under the 8190-byte default field limit
    headers = [("X-Long", value)] + [(f"X-H{i:02d}", f"value {i}") for i in range(80)]
    scope = get_scope(serve("scope_echo:app"), "/", headers=headers)
    got = [tuple(h) for h in scope["headers"] if h[0].startswith(b"x-")]
    assert got == [(b"x-long", value.encode())] + [(f"x-h{i:02d}".encode(), f"value {i}".encode())
                                                    for i in range(80)]


def test_long_request_target_delivered_exactly(serve):
    path = "/" + "seg%2F" * 600 + "end"  # 3.6 kB raw, percent-encoded slashes
    query = "q=" + "x" * 3000
    scope = get_scope(serve("scope_echo:app"), f"{path}?{query}")
    assert scope["raw_path"] == path.encode()
    assert scope["path"] == "/" + "seg/" * 600 + "end"
    assert scope["query_string"] == query.encode()
