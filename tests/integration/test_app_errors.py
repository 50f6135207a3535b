"""Application errors, for `--loop asyncio` and `--loop uvloop`.

An exception before http.response.start → 500; an exception after the start → the connection is aborted and
the client never sees a complete-looking response (chunked without the terminating 0-chunk, or fewer bytes than
Content-Length); returning without responding → 500; a start without its body → aborted. The traceback reaches
the error log, and the server keeps serving the next request (on a new connection, and several times over).
"""

import pytest

from esgtest import ConnectionClosed, exchange, http_request


def _next_request_ok(server):
    ok = exchange(server, http_request("GET", "/ok"))
    assert (ok.status, ok.body) == (200, b"ok")


def test_exception_before_start_gives_500(serve):
    server = serve("app_errors:app")
    resp = exchange(server, http_request("GET", "/raise-before"))
    assert resp.status == 500
    assert resp.complete
    server.wait_for_output(r"^ERROR:", "stderr")
    server.wait_for_output(r"boom-before-start", "stderr")
    _next_request_ok(server)


def test_exception_before_start_then_keep_alive_or_close(serve):
    server = serve("app_errors:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/raise-before"))
        first = conn.read_response()
        assert first.status == 500
        if first.header("connection") == "close":
            assert conn.closed_by_server()
            return
        conn.send(http_request("GET", "/ok"))
        try:
            second = conn.read_response()
        except ConnectionClosed:
            return
        assert (second.status, second.body) == (200, b"ok")


def test_exception_after_start_chunked_is_aborted(serve):
    server = serve("app_errors:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/raise-after-chunked"))
        try:
            resp = conn.read_response()
        except ConnectionClosed:
            resp = None
        tail = conn.read_until_close()  # the server must close this connection
    if resp is not None:
        assert not resp.complete, f"aborted response looks complete: {conn.received!r}"
        assert tail == b""
    assert not conn.received.endswith(b"0\r\n\r\n")
    server.wait_for_output(r"boom-after-chunked", "stderr")
    _next_request_ok(server)


@pytest.mark.parametrize("query", ["", "?suspend"])  # ?suspend: the app ends inside its Task
def test_exception_after_start_content_length_is_aborted(serve, query):
    server = serve("app_errors:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/raise-after-cl" + query))
        try:
            resp = conn.read_response()
        except ConnectionClosed:
            resp = None
        conn.read_until_close()
    if resp is not None:
        assert resp.status == 200
        assert not resp.complete and len(resp.body) < 100, f"aborted response looks complete: {conn.received!r}"
    server.wait_for_output(r"boom-after-cl", "stderr")
    _next_request_ok(server)


def test_return_without_response_gives_500(serve):
    server = serve("app_errors:app")
    resp = exchange(server, http_request("GET", "/no-response"))
    assert resp.status == 500
    server.wait_for_output(r"^ERROR:", "stderr")
    _next_request_ok(server)


def test_start_without_body_is_aborted_or_500(serve):
    server = serve("app_errors:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/start-only"))
        try:
            resp = conn.read_response()
        except ConnectionClosed:
            resp = None
        if resp is not None and resp.status != 500:
            assert not resp.complete, f"incomplete app response looks complete: {conn.received!r}"
    _next_request_ok(server)


@pytest.mark.parametrize("path, status", [("/raise-before", 500), ("/no-response", 500), ("/ok", 200)])
def test_after_a_suspension_the_same_outcomes(serve, path, status):
    # The app awaits once before acting, so it finishes inside its Task (the engine's AppDriver) rather
    # than in the eager first step: same statuses, same error log, and the server keeps serving.
    server = serve("app_errors:app")
    resp = exchange(server, http_request("GET", path + "?suspend"))
    assert resp.status == status and resp.complete
    if path == "/raise-before":
        server.wait_for_output(r"boom-before-start", "stderr")
        assert "Exception in ASGI application" in server.stderr()
    if path == "/no-response":
        server.wait_for_output(r"returned without starting response", "stderr")
    _next_request_ok(server)


def test_server_survives_many_failures(serve):
    server = serve("app_errors:app")
    for path in ["/raise-before", "/raise-after-chunked", "/no-response", "/raise-after-cl"] * 3:
        with server.connect() as conn:
            conn.send(http_request("GET", path))
            if path.startswith("/raise-after"):
                conn.read_until_close()
            else:
                assert conn.read_response().status == 500
    _next_request_ok(server)
    assert server.alive()


# ---------------------------------------------------------------------------- exceptions hard to log (#10)
# An exception text with a lone surrogate (os.fsdecode of a bad file name) used to kill the worker with
# SIGSEGV in the error logger; __str__ raising, huge texts and control characters must be logged safely
# too, and the same worker must go on serving.


def _pid(server) -> int:
    resp = exchange(server, http_request("GET", "/pid"))
    assert resp.status == 200, resp.raw
    return int(resp.body)


@pytest.mark.parametrize("kind", ["surrogate", "str-raises", "str-not-str", "surrogate-repr", "huge", "nul",
                                  "bytes-arg"])
@pytest.mark.parametrize("suspend", [False, True])
def test_exception_hard_to_log_gives_500_and_the_worker_survives(serve, kind, suspend):
    server = serve("app_hardening:app")
    pid = _pid(server)
    target = f"/raise?kind={kind}" + ("&suspend=1" if suspend else "")
    for _ in range(3):
        resp = exchange(server, http_request("GET", target))
        assert resp.status == 500, resp.raw
    server.wait_for_output(r"Exception in ASGI application", "stderr")
    if kind == "surrogate":
        server.wait_for_output(r"bad-\\udcff-name", "stderr")  # escaped, not dropped
    assert _pid(server) == pid
    assert "Segmentation" not in server.stderr()


@pytest.mark.parametrize("kind", ["surrogate", "str-raises", "huge"])
def test_wsgi_exception_hard_to_log_gives_500_and_the_worker_survives(esg_server, kind):
    server = esg_server(["--interface", "wsgi"], app="app_hardening:wsgi_app")
    pid = _pid(server)
    for _ in range(3):
        resp = exchange(server, http_request("GET", f"/raise?kind={kind}"))
        assert resp.status == 500, resp.raw
    assert _pid(server) == pid


def test_wsgi_errors_with_a_surrogate_is_logged(esg_server):
    server = esg_server(["--interface", "wsgi"], app="app_hardening:wsgi_app")
    pid = _pid(server)
    resp = exchange(server, http_request("GET", "/errors"))
    assert (resp.status, resp.body) == (200, b"ok")
    server.wait_for_output(r"wsgi.errors bad-\\udcff-name", "stderr")
    assert _pid(server) == pid


@pytest.mark.parametrize("kind", ["surrogate", "str-raises", "huge"])
def test_lifespan_exception_hard_to_log_exits_3(run_esg, kind):
    result = run_esg(["--port", "0", "--lifespan", "on", f"app_hardening:lifespan_raise_{kind.replace('-', '_')}"])
    assert result.returncode == 3, result
    assert "Exception in 'lifespan' protocol" in result.stderr
    assert "Application startup failed" in result.stderr
    if kind == "surrogate":
        assert r"bad-\udcff-name" in result.stderr


def test_lifespan_failed_message_with_a_surrogate_exits_3(run_esg):
    result = run_esg(["--port", "0", "--lifespan", "on", "app_hardening:lifespan_fail_message"])
    assert result.returncode == 3, result
    assert r"failed bad-\udcff-name" in result.stderr
