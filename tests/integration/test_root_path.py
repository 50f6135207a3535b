"""--root-path beyond test_scope.py's HTTP case: the WebSocket scope gets the same prefix, a request path that
already starts with the prefix is still prefixed (uvicorn prepends root_path unconditionally), and the
prefix combines with proxy headers."""

from test_proxy_headers import _ws_scope, ask

APP = "px_echo:app"


def test_websocket_scope_root_path_prefixed(serve):
    server = serve(APP, "--root-path", "/api")
    seen = _ws_scope(server, None)
    assert seen["type"] == "websocket"
    assert seen["root_path"] == "/api"
    assert seen["path"] == "/api/ws"
    assert seen["raw_path"] == "/api/ws"


def test_http_path_is_always_prefixed_like_uvicorn(esg_server):
    server = esg_server(["--root-path", "/api"], app=APP)
    with server.connect() as conn:
        conn.send(b"GET /api/items HTTP/1.1\r\nHost: esg.test\r\n\r\n")
        seen = conn.read_response().json()
    assert seen["root_path"] == "/api"
    assert seen["path"] == "/api/api/items"


def test_root_path_with_proxy_headers(esg_server):
    server = esg_server(["--root-path", "/api"], app=APP)
    seen = ask(server, "203.0.113.7", "https")
    assert seen["root_path"] == "/api" and seen["path"] == "/api/who"
    assert seen["client"] == ["203.0.113.7", 0] and seen["scheme"] == "https"
