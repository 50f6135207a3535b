"""--interface wsgi with a plain PEP 3333 app (apps/wsgi_raw.py): the environ (SCRIPT_NAME/PATH_INFO with
--root-path, latin-1 PATH_INFO, headers joined, underscore headers dropped, REMOTE_*/SERVER_*), wsgi.input
read every way (whole, sized, lines, iteration; Content-Length, chunked, byte by byte), start_response
with exc_info before and after the headers, write(), close() always called, streaming with backpressure,
the thread pool (a blocked request does not block others), wsgi.errors, and errors the app makes.
"""

import json
import signal
import time

import pytest

from esgtest import STOP_TIMEOUT, chunked, exchange, http_request, wait_for_file

WSGI = ("--interface", "wsgi")


def environ_of(server, target="/environ", headers=()):
    resp = exchange(server, http_request("GET", target, headers=headers))
    assert resp.status == 200, resp
    return resp.json()


# ------------------------------------------------------------------------------------------------ environ


def test_environ_basics(serve):
    server = serve("wsgi_raw:app", *WSGI)
    env = environ_of(server, "/environ?a=1&b=%20x", headers=[("User-Agent", "t/1"), ("X-Custom", "v")])
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/environ"
    assert env["QUERY_STRING"] == "a=1&b=%20x"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_NAME"] == "127.0.0.1" and env["SERVER_PORT"] == str(server.port)
    assert env["REMOTE_ADDR"] == "127.0.0.1" and int(env["REMOTE_PORT"]) > 0
    assert env["HTTP_HOST"] == "esg.test"
    assert env["HTTP_USER_AGENT"] == "t/1" and env["HTTP_X_CUSTOM"] == "v"
    assert env["wsgi.version"] == [1, 0]
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is True
    assert env["wsgi.multiprocess"] is False
    assert env["wsgi.run_once"] is False
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.input"] == "_Input" and env["wsgi.errors"] == "_Errors"
    assert "CONTENT_LENGTH" not in env and "HTTP_CONTENT_LENGTH" not in env
    for key, value in env.items():
        assert isinstance(key, str)


def test_environ_content_headers_and_http_10(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    resp = exchange(server, http_request("POST", "/environ", body=b"abc", version="HTTP/1.0",
                                         headers=[("Content-Type", "text/plain; charset=utf-8")]))
    env = resp.json()
    assert env["CONTENT_TYPE"] == "text/plain; charset=utf-8"
    assert env["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in env
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"


def test_duplicate_headers_are_joined_and_cookies_with_semicolons(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    env = environ_of(server, headers=[("Accept", "a/b"), ("Accept", "c/d"), ("Cookie", "x=1"), ("Cookie", "y=2")])
    assert env["HTTP_ACCEPT"] == "a/b,c/d"
    assert env["HTTP_COOKIE"] == "x=1; y=2"


def test_header_names_with_underscores_are_dropped(esg_server):
    # X-Auth_User would otherwise become HTTP_X_AUTH_USER, posing as X-Auth-User (header smuggling).
    server = esg_server(WSGI, app="wsgi_raw:app")
    env = environ_of(server, headers=[("X-Auth_User", "mallory"), ("X-Other", "kept")])
    assert "HTTP_X_AUTH_USER" not in env
    assert env["HTTP_X_OTHER"] == "kept"
    env = environ_of(server, headers=[("X-Auth-User", "alice"), ("X-Auth_User", "mallory")])
    assert env["HTTP_X_AUTH_USER"] == "alice"


def test_path_info_is_percent_decoded_latin1(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    env = environ_of(server, "/caf%C3%A9/a%2Fb/environ?q=%C3%A9")
    # PEP 3333: the decoded bytes as latin-1 ("bytes-as-str"); the app recovers UTF-8 by re-encoding.
    assert env["PATH_INFO"] == "/caf\u00c3\u00a9/a/b/environ"
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café/a/b/environ"
    assert env["QUERY_STRING"] == "q=%C3%A9"
    env = environ_of(server, "/%FF%00x/environ")  # not UTF-8 at all: still exact bytes
    assert env["PATH_INFO"].encode("latin-1") == b"/\xff\x00x/environ"


def test_root_path_becomes_script_name(esg_server):
    server = esg_server([*WSGI, "--root-path", "/api"], app="wsgi_raw:app")
    env = environ_of(server, "/v1/environ")
    assert env["SCRIPT_NAME"] == "/api"
    assert env["PATH_INFO"] == "/v1/environ"
    # A proxy that does not strip the prefix: PATH_INFO is still the part after it.
    env = environ_of(server, "/api/v1/environ")
    assert env["SCRIPT_NAME"] == "/api"
    assert env["PATH_INFO"] in ("/v1/environ", "/api/v1/environ")


def test_unix_socket_server_name_from_host(esg_server, tmp_path):
    sock = str(tmp_path / "wsgi.sock")
    server = esg_server([*WSGI, "--uds", sock], app="wsgi_raw:app")
    env = environ_of(server, headers=[("Host", "example.org:8080")])
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("example.org", "8080")
    assert "REMOTE_ADDR" not in env


# -------------------------------------------------------------------------------------------- wsgi.input

BODY = b"line one\nline two\n\nlast line without newline"


@pytest.mark.parametrize("path", ["/read", "/readn", "/readline", "/readlines", "/iter"])
def test_input_read_methods_content_length(serve, path):
    server = serve("wsgi_raw:app", *WSGI)
    resp = exchange(server, http_request("POST", path, body=BODY))
    assert resp.status == 200
    assert resp.json()["body"].encode("latin-1") == BODY
    if path in ("/readline", "/readlines", "/iter"):
        assert resp.json()["parts"] == 4
    if path == "/readn":
        assert resp.json()["parts"] == -(-len(BODY) // 3)


@pytest.mark.parametrize("path", ["/read", "/readn", "/readline", "/iter"])
def test_input_chunked_and_bytewise(esg_server, path):
    server = esg_server(WSGI, app="wsgi_raw:app")
    data = http_request("POST", path, headers=[("Transfer-Encoding", "chunked")]) + chunked(BODY[:5], BODY[5:])
    resp = exchange(server, data, bytewise=True)
    assert resp.status == 200
    assert resp.json()["body"].encode("latin-1") == BODY


def test_input_large_body_streams(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    body = bytes(range(256)) * 8192  # 2 MiB
    resp = server.request("POST", "/readn", content=body, timeout=60)
    assert resp.status_code == 200
    assert resp.json()["body"].encode("latin-1") == body


def test_input_with_expect_100_continue(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    with server.connect() as conn:
        conn.send(http_request("POST", "/read", headers=[("Expect", "100-continue"), ("Content-Length", "5")]))
        interim = conn.read_response()
        assert interim.status == 100
        conn.send(b"hello")
        resp = conn.read_response()
    assert resp.json()["body"] == "hello"


def test_empty_body_reads(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    assert exchange(server, http_request("POST", "/read", body=b"")).json()["body"] == ""
    assert exchange(server, http_request("GET", "/iter")).json() == {"body": "", "parts": 0}


# ----------------------------------------------------------------------------------------------- response


def test_list_response_gets_content_length(serve):
    server = serve("wsgi_raw:app", *WSGI)
    resp = exchange(server, http_request("GET", "/nolen"))
    assert (resp.status, resp.body) == (200, b"two parts")
    assert resp.header("content-length") == "9" or resp.chunked


def test_streamed_response_and_close(serve, markers):
    server = serve("wsgi_raw:app", *WSGI)
    resp = exchange(server, http_request("GET", "/stream?n=4&size=3"))
    assert resp.status == 200 and resp.complete
    assert resp.body == b"AAABBBCCCDDD"
    assert resp.chunked  # no Content-Length from the app: chunked framing
    assert wait_for_file(markers / "stream-closed") == "1"


def test_large_stream_with_slow_reader_is_complete(esg_server, markers):
    server = esg_server(WSGI, app="wsgi_raw:app")
    n, size = 128, 65536  # 8 MiB: far more than the socket buffers and the engine's write high-water mark
    with server.connect(timeout=30) as conn:
        conn.send(http_request("GET", f"/stream?n={n}&size={size}"))
        time.sleep(1.0)  # not reading: the buffers fill up and the app's sends have to wait
        assert not (markers / "stream-closed").exists(), "the generator ran ahead of the client: no backpressure"
        resp = conn.read_response()
    assert resp.complete and len(resp.body) == n * size
    assert resp.body[:size] == b"A" * size and resp.body[-size:] == bytes([65 + (n - 1) % 26]) * size
    wait_for_file(markers / "stream-closed")


def test_close_called_when_client_disconnects_mid_stream(esg_server, markers):
    server = esg_server(WSGI, app="wsgi_raw:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/stream?n=2000&size=65536"))
        conn.sock.recv(1000)
    assert wait_for_file(markers / "stream-closed", timeout=30) == "1"
    assert server.get("/environ").status_code == 200


def test_write_callable(serve):
    server = serve("wsgi_raw:app", *WSGI)
    resp = exchange(server, http_request("GET", "/write"))
    assert (resp.status, resp.body) == (200, b"written twice then returned")


def test_head_has_no_body(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    with server.connect() as conn:
        conn.send(http_request("HEAD", "/nolen") + http_request("GET", "/nolen"))
        head = conn.read_response(head=True)
        get = conn.read_response()
    assert head.status == 200 and head.body == b""
    assert get.body == b"two parts"


def test_204_empty_list(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    resp = exchange(server, http_request("GET", "/empty"))
    assert resp.status == 204 and resp.body == b""


# ------------------------------------------------------------------------------------------------- errors


def test_exc_info_before_headers_replaces_the_status(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    resp = exchange(server, http_request("GET", "/handled"))
    assert (resp.status, resp.body) == (500, b"handled")


def test_exc_info_after_headers_reraises_aborts_and_closes(esg_server, markers):
    server = esg_server(WSGI, app="wsgi_raw:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/late-error"))
        data = conn.read_until_close()
    assert data.startswith(b"HTTP/1.1 200 ")
    assert b"first part" in data and b"never" not in data
    assert not data.endswith(b"0\r\n\r\n")  # the chunked body was not finished: the client sees the failure
    assert wait_for_file(markers / "late-error-closed") == "1"
    server.wait_for_output(r"failed after the headers were sent")
    assert server.get("/environ").status_code == 200


@pytest.mark.parametrize("path", ["/raise", "/twice"])
def test_app_errors_are_500_and_logged(esg_server, path):
    server = esg_server(WSGI, app="wsgi_raw:app")
    resp = exchange(server, http_request("GET", path))
    assert resp.status == 500
    server.wait_for_output(r"Exception in ASGI application|the WSGI app failed|start_response")
    assert server.get("/environ").status_code == 200


def test_wsgi_errors_go_to_the_error_log(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    assert server.get("/errors").json() == {"ok": True}
    server.wait_for_output(r"^ERROR: +first line from wsgi\.errors$")
    server.wait_for_output(r"^ERROR: +second line$")


# ------------------------------------------------------------------------------------------- thread pool


def test_blocked_request_does_not_block_others(serve, markers):
    server = serve("wsgi_raw:app", *WSGI)
    with server.connect(timeout=30) as blocked:
        blocked.send(http_request("GET", "/block"))
        wait_for_file(markers / "blocked")
        assert server.get("/environ").status_code == 200  # served while /block holds a pool thread
        released = server.get("/release").json()
        resp = blocked.read_response()
    body = resp.json()
    assert body["released"] is True
    assert body["thread"].startswith("esg-wsgi") and released["thread"].startswith("esg-wsgi")


def barrier_answers(server, n, timeout):
    """n requests to /barrier?n=N at once, each on its own connection; their JSON answers."""
    conns = [server.connect(timeout=60) for _ in range(n)]
    try:
        for conn in conns:
            conn.send(http_request("GET", f"/barrier?n={n}&timeout={timeout}"))
        return [conn.read_response().json() for conn in conns]
    finally:
        for conn in conns:
            conn.close()


def test_blocking_calls_beyond_the_first_ten_threads_get_threads_of_their_own(esg_server):
    # 40 calls that each wait until all 40 are in the app at once: only a pool that grows past its 10
    # on-demand threads while they block can pass the barrier (the default most is 128).
    n = 40
    bodies = barrier_answers(esg_server(WSGI, app="wsgi_raw:app"), n, timeout=30)
    assert all(b["passed"] for b in bodies), bodies
    assert len({b["thread"] for b in bodies}) == n


def test_wsgi_threads_caps_the_grown_pool(esg_server):
    # --wsgi-threads 12: the pool grows while calls block, but never past 12, so a barrier of 13 breaks.
    n = 13
    bodies = barrier_answers(esg_server([*WSGI, "--wsgi-threads", "12"], app="wsgi_raw:app"), n, timeout=3)
    assert not any(b["passed"] for b in bodies), bodies


def test_iterable_whose_first_chunk_is_the_whole_body(esg_server):
    # Sent with the head in one message once the iteration is over; what follows the declared length is
    # still refused (logged), after the complete response.
    server = esg_server(WSGI, app="wsgi_raw:app")
    resp = exchange(server, http_request("GET", "/gen-whole"))
    assert (resp.status, resp.body, resp.header("content-length")) == (200, b"abc", "3")
    resp = exchange(server, http_request("GET", "/gen-extra"))
    assert (resp.status, resp.body) == (200, b"abc")
    server.wait_for_output(r"more than its Content-Length")
    assert server.get("/environ").status_code == 200


def test_sigterm_lets_an_in_flight_wsgi_call_finish(esg_server, markers):
    # The adapter returns before the call ends (the exchange is detached, no Task waits for it): the
    # graceful stop must still wait for the response, which the pool thread produces after the signal.
    server = esg_server(WSGI, app="wsgi_raw:app")
    with server.connect(timeout=30) as blocked:
        blocked.send(http_request("GET", "/block?timeout=1"))
        wait_for_file(markers / "blocked")
        server.send_signal(signal.SIGTERM)
        resp = blocked.read_response()
    assert resp.status == 200 and resp.json()["released"] is False
    assert server.wait(STOP_TIMEOUT) == 0, server.describe()


@pytest.mark.parametrize("args, env", [(["--wsgi-threads", "1"], {}), ([], {"ESG_WSGI_THREADS": "1"}),
                                       (["--wsgi-threads", "1"], {"ESG_WSGI_THREADS": "8"})])
def test_wsgi_threads_bound_concurrency(esg_server, markers, args, env):
    # One pool thread (--wsgi-threads, or $ESG_WSGI_THREADS; the option wins): /release cannot run while
    # /block holds it, so /block gives up (released False) and only then /release is served.
    server = esg_server([*WSGI, *args], app="wsgi_raw:app", env=env)
    with server.connect(timeout=30) as blocked, server.connect(timeout=30) as second:
        blocked.send(http_request("GET", "/block?timeout=2"))
        wait_for_file(markers / "blocked")
        second.send(http_request("GET", "/release"))
        assert blocked.read_response().json()["released"] is False
        assert second.read_response().status == 200


@pytest.mark.parametrize("args, env", [(["--wsgi-threads", "0"], {}), ([], {"ESG_WSGI_THREADS": "many"})])
def test_wsgi_threads_must_be_positive(run_esg, args, env):
    result = run_esg([*WSGI, *args, "wsgi_raw:app"], env=env)
    assert result.returncode == 2, result
    assert "--wsgi-threads" in result.stderr, result.stderr


def test_lifespan_auto_reports_unsupported(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    server.wait_for_output(r"ASGI 'lifespan' protocol appears unsupported\.")


def test_json_roundtrip_of_environ_keys_is_stable(esg_server):
    server = esg_server(WSGI, app="wsgi_raw:app")
    first = environ_of(server)
    second = environ_of(server)
    assert set(first) == set(second)
    assert json.loads(json.dumps(first)) == first


# What a WSGI app sends is validated like an ASGI app's (#11): a status outside 200..599 or both framing
# headers give a 500 (nothing of the app's head on the wire), and the worker keeps serving.


@pytest.mark.parametrize("target", ["/status?v=600%20Too%20High", "/status?v=101%20Switching%20Protocols",
                                    "/status?v=099%20Low", "/cl-te"])
def test_wsgi_invalid_response_head_is_a_500(esg_server, target):
    server = esg_server(["--interface", "wsgi"], app="app_hardening:wsgi_app")
    pid = exchange(server, http_request("GET", "/pid")).body
    resp = exchange(server, http_request("GET", target))
    assert resp.status == 500, resp.raw
    assert not (resp.has("content-length") and resp.has("transfer-encoding")), resp.raw
    assert exchange(server, http_request("GET", "/pid")).body == pid
