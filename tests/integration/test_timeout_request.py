"""--timeout-request, a deadline per HTTP request, through the user's commands (`esg`, `esg.run(...)`,
gunicorn's config for esg.workers.ESGWorker): a request whose app has not completed its response in time
gets 504 and a closed connection (or a cut-off response if it had started), its asyncio task is cancelled
so `finally` blocks, `async with` and FastAPI's yield dependencies clean up, and the worker goes on.
WebSockets are not subject to it; a WSGI thread cannot be cancelled and finishes unheard. Hostile and
careless cases: an app that swallows the cancellation, one that awaits in `finally`, a body still being
uploaded, pipelined requests behind a timed-out one, many timed-out requests at once, a response that
completes right at the deadline, out-of-range values. No timing is asserted: the deadline is 1 s and every
wait is a bounded poll."""

from __future__ import annotations

import json
import socket
import textwrap

import pytest
from websockets.sync.client import connect as ws_connect

from deploy_support import APPS, env_for, free_port, get, procs, python, try_get, wait_until  # noqa: F401
from esgtest import ConnectionClosed, Response, http_request, wait_for_file

STARLETTE = "timeout_starlette:app"
FASTAPI = "timeout_fastapi:app"
WSGI = "timeout_wsgi:app"
DEADLINE = ["--timeout-request", "1"]


def assert_gateway_timeout(resp: Response) -> None:
    assert resp.status == 504, (resp.status, resp.body)
    assert resp.header("connection") == "close"
    assert resp.header("content-type").startswith("text/plain")
    assert resp.body == b"Gateway Timeout"


def timed_out_request(server, target: str, method: str = "GET", extra: bytes = b"") -> Response:
    """One request that the deadline ends: its 504, after which the server closes the connection."""
    with server.connect(timeout=20) as conn:
        conn.send(http_request(method, target) + extra)
        resp = conn.read_response()
        assert_gateway_timeout(resp)
        assert conn.closed_by_server(), "the connection stayed open after the 504"
    return resp


def stats(server, path: str = "/stats") -> dict:
    r = server.get(path)
    assert r.status_code == 200, r.text
    return r.json()


# ------------------------------------------------------------------------------------------ Starlette, FastAPI


def test_a_resource_held_by_a_timed_out_request_is_given_back(serve, markers):
    server = serve(STARLETTE, *DEADLINE)
    timed_out_request(server, "/resource?token=secret")
    wait_for_file(markers / "db-closed-1")
    assert stats(server) | {"pid": 0, "rss_kib": 0} == {
        "opened": 1, "closed": 1, "cancelled": 1, "stubborn": 0, "slow_finally": 0, "pid": 0, "rss_kib": 0}
    server.wait_for_output(r"Request timed out after 1s \(--timeout-request\): GET /resource from "
                           r"127\.0\.0\.1:\d+; 504 sent")
    assert "secret" not in server.stderr(), "the query string must not be logged"
    assert "Exception in ASGI application" not in server.stderr(), "the cancellation is not an app error"
    assert "CancelledError" not in server.stderr()
    assert server.get("/fast").text == "fast"


def test_a_slow_endpoint_is_answered_504_and_a_quick_one_is_not(esg_server):
    server = esg_server(DEADLINE, app=STARLETTE)
    timed_out_request(server, "/sleep?s=30")
    r = server.get("/sleep?s=0.05")
    assert (r.status_code, r.text) == (200, "slept")


def test_timed_out_requests_are_counted_in_the_metrics(esg_server):
    from test_request_metrics import by_class, one, scrape

    port = free_port()
    server = esg_server([*DEADLINE, "--metrics-bind", f"127.0.0.1:{port}"], app=STARLETTE)
    url = f"http://127.0.0.1:{port}/metrics"
    assert one(scrape(url), "esg_request_timeouts_total") == 0
    timed_out_request(server, "/sleep?s=30")
    timed_out_request(server, "/sleep?s=30")
    assert server.get("/fast").text == "fast"
    # The worker's heartbeat (each second) carries the count to the master; a bounded poll.
    values = wait_until(lambda: (lambda v: v if one(v, "esg_request_timeouts_total") == 2 else None)(scrape(url)),
                        30, what="esg_request_timeouts_total == 2")
    assert by_class(values).get(("GET", "5xx")) == 2, by_class(values)  # the two 504s ESG sent


def test_off_by_default(esg_server):
    server = esg_server([], app=STARLETTE)
    r = server.get("/sleep?s=1.5", timeout=20)
    assert (r.status_code, r.text) == (200, "slept")
    assert "--timeout-request" not in server.stderr()


def test_fastapi_yield_dependency_cleans_up_after_a_timeout(esg_server, markers):
    server = esg_server(DEADLINE, app=FASTAPI)
    timed_out_request(server, "/db")
    timed_out_request(server, "/sleep?s=30")
    wait_for_file(markers / "session-closed-1")
    assert stats(server, "/sessions") == {"opened": 1, "closed": 1}
    assert server.get("/fast").json() == {"fast": True}
    assert "Exception in ASGI application" not in server.stderr()


def test_an_app_that_swallows_the_cancellation_still_gets_its_client_504(esg_server, markers):
    server = esg_server(DEADLINE, app=STARLETTE)
    timed_out_request(server, "/stubborn")
    wait_for_file(markers / "stubborn-ended")
    assert stats(server)["stubborn"] == 1
    server.wait_for_output(r"GET /stubborn caught the cancellation of --timeout-request and ran on to its end")
    # Its late response went nowhere, and the worker is healthy.
    assert server.get("/fast").text == "fast"
    assert "died" not in server.stderr()


def test_an_app_that_awaits_in_finally_finishes_its_cleanup(esg_server, markers):
    server = esg_server(DEADLINE, app=STARLETTE)
    timed_out_request(server, "/slow-finally")
    wait_for_file(markers / "slow-finally-done")
    assert stats(server)["slow_finally"] == 1
    assert "Exception in ASGI application" not in server.stderr()


def test_a_body_still_being_uploaded_gets_504(esg_server):
    server = esg_server(DEADLINE, app=STARLETTE)
    with server.connect(timeout=20) as conn:
        conn.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + b"u" * 10000)
        resp = conn.read_response()
        assert_gateway_timeout(resp)
        try:
            conn.send(b"u" * 10000)  # the rest of the body is drained by the lingering close, not answered
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert conn.closed_by_server()
    r = server.request("POST", "/upload", content=b"x" * 1000)
    assert (r.status_code, r.text) == (200, "1000")


def test_pipelined_requests_behind_a_timed_out_one_are_not_served(esg_server):
    server = esg_server(DEADLINE, app=STARLETTE)
    with server.connect(timeout=20) as conn:
        conn.send(http_request("GET", "/sleep?s=30") + http_request("GET", "/fast") + http_request("GET", "/fast"))
        assert_gateway_timeout(conn.read_response())
        with pytest.raises(ConnectionClosed):
            conn.read_response()
        assert conn.received.count(b"HTTP/1.1 ") == 1, conn.received


def test_a_stream_that_stalls_half_way_is_cut_off(serve, markers):
    server = serve(STARLETTE, *DEADLINE)
    with server.connect(timeout=20) as conn:
        conn.send(http_request("GET", "/stream?s=30"))
        resp = conn.read_response()
        assert resp.status == 200 and resp.chunked
        assert not resp.complete, "a cut-off chunked body must not end with its last chunk"
        assert resp.body == b"first half;"
    wait_for_file(markers / "stream-closed")
    server.wait_for_output(r"GET /stream from 127\.0\.0\.1:\d+; response cut short")
    assert server.get("/fast").text == "fast"


def test_a_response_completing_at_the_deadline_is_whole_or_clearly_not(esg_server):
    """Right at the deadline either side may win; the client must never see a short response that looks
    complete, and the worker must go on."""
    server = esg_server(DEADLINE, app=STARLETTE)
    for s in ("0.9", "0.95", "1.0", "1.0", "1.05", "1.1"):
        with server.connect(timeout=20) as conn:
            conn.send(http_request("GET", f"/sleep?s={s}"))
            resp = conn.read_response()
            if resp.status == 200:
                assert resp.body == b"slept"
            else:
                assert_gateway_timeout(resp)
        with server.connect(timeout=20) as conn:
            conn.send(http_request("GET", f"/stream?s={s}"))
            resp = conn.read_response()
            assert resp.status == 200 and resp.chunked
            if resp.complete:
                assert resp.body == b"first half;second half"
            else:
                assert resp.body in (b"first half;", b"first half;second half")
    assert server.get("/fast").text == "fast"


def test_many_timed_out_requests_at_once_stay_bounded_and_others_are_served(esg_server, markers):
    server = esg_server(DEADLINE, app=STARLETTE)
    count, rounds = 100, 3
    rss = []
    for round_ in range(rounds):
        conns = [server.connect(timeout=30) for _ in range(count)]
        for conn in conns:
            conn.send(http_request("GET", "/resource"))
        # Another client is served while they all wait for their deadline.
        assert server.get("/fast").text == "fast"
        for conn in conns:
            assert_gateway_timeout(conn.read_response())
            assert conn.closed_by_server()
            conn.close()
        done = count * (round_ + 1)
        wait_until(lambda: stats(server)["closed"] == done, 20, what=f"{done} resources given back",
                   describe=server.describe)
        rss.append(stats(server)["rss_kib"])
    s = stats(server)
    assert (s["opened"], s["closed"], s["cancelled"]) == (count * rounds,) * 3
    # The first round grows the pools; later rounds reuse them (an unbounded leak would add per request).
    assert rss[-1] - rss[0] < 8 * 1024, f"worker RSS grew {rss} KiB over {count * (rounds - 1)} timed-out requests"
    # One warning line per timed-out request (the master forwards the worker's lines: wait for them).
    wait_until(lambda: server.stderr().count("(--timeout-request)") >= count * rounds, 20,
               what="a warning line per timed-out request", describe=server.describe)
    assert server.stderr().count("(--timeout-request)") == count * rounds


def test_websockets_are_not_subject_to_it(serve):
    server = serve(STARLETTE, *DEADLINE)
    with ws_connect(f"ws://{server.host}:{server.port}/ws?s=2.5", open_timeout=10, close_timeout=5) as ws:
        assert ws.recv(timeout=20) == "still open"
        ws.send("hi")
        assert ws.recv(timeout=10) == "echo:hi"
    assert "--timeout-request" not in server.stderr()


# ------------------------------------------------------------------------------------------------------- WSGI


def test_wsgi_call_gets_504_and_its_thread_finishes_unheard(esg_server):
    server = esg_server([*DEADLINE, "--interface", "wsgi"], app=WSGI)
    timed_out_request(server, "/sleep?s=3")
    assert server.get("/fast").text == "fast"  # another pool thread serves meanwhile
    wait_until(lambda: stats(server)["sleeps_done"] == 1, 20, what="the timed-out WSGI call to end",
               describe=server.describe)
    assert "Exception in ASGI application" not in server.stderr()


def test_wsgi_call_that_timed_out_while_queued_is_never_started(esg_server):
    server = esg_server([*DEADLINE, "--interface", "wsgi", "--wsgi-threads", "1"], app=WSGI)
    first, second = server.connect(timeout=20), server.connect(timeout=20)
    first.send(http_request("GET", "/sleep?s=2"))  # holds the only thread past its deadline
    second.send(http_request("GET", "/sleep?s=2"))  # queued behind it; times out while waiting
    for conn in (first, second):
        assert_gateway_timeout(conn.read_response())
        conn.close()

    def served_stats():
        r = try_get(f"{server.base_url}/stats", timeout=5)
        return r.json() if r is not None and r.status_code == 200 else None

    # Calls are taken in order: once a later /stats is answered, the queued call was dequeued (and skipped).
    s = wait_until(served_stats, 20, what="the WSGI thread free again", describe=server.describe)
    assert s["sleeps_done"] == 1, s


def test_wsgi_stream_is_cut_off_and_stops_at_its_next_chunk(esg_server, markers):
    server = esg_server([*DEADLINE, "--interface", "wsgi"], app=WSGI)
    with server.connect(timeout=20) as conn:
        conn.send(http_request("GET", "/stream?s=2"))
        resp = conn.read_response()
        assert resp.status == 200 and resp.chunked and not resp.complete
        assert resp.body == b"first half;"
    chunks = int(wait_for_file(markers / "wsgi-stream-closed", timeout=20))
    assert chunks <= 3, f"the WSGI iterable ran on for {chunks} chunks after its request timed out"
    assert stats(server)["stream_closed"] == 1
    assert "Exception in ASGI application" not in server.stderr()


# ---------------------------------------------------------------------------------- options, esg.run, gunicorn


@pytest.mark.parametrize("value", ["-1", "abc", "inf", "nan", ""])
def test_bad_values_are_a_usage_error_naming_the_option(run_esg, value):
    proc = run_esg(["--timeout-request", value, "hello:app"])
    assert proc.returncode == 2, proc.stderr
    assert "Invalid value for '--timeout-request'" in proc.stderr


def test_help_describes_it(run_esg):
    proc = run_esg(["--help"])
    assert "--timeout-request FLOAT" in proc.stdout
    assert "504" in proc.stdout


RUN_SCRIPT = """
import esg
from timeout_starlette import app

esg.run(app, host="127.0.0.1", port={port}, timeout_request={value})
"""


def test_esg_run_with_an_app_object(procs, tmp_path):
    port = free_port()
    script = tmp_path / "serve.py"
    script.write_text(textwrap.dedent(RUN_SCRIPT.format(port=port, value="1")))
    p = procs([python(), str(script)], name="run", env=env_for(pythonpath=[APPS]), cwd=tmp_path)
    p.wait_output("ESG running on")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(http_request("GET", "/sleep?s=30"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n"), data
    assert get(f"http://127.0.0.1:{port}/fast").text == "fast"


@pytest.mark.parametrize("value", ["-1", "float('nan')", "float('inf')", "'abc'"])
def test_esg_run_refuses_a_bad_value_naming_it(procs, tmp_path, value):
    script = tmp_path / "serve.py"
    script.write_text(textwrap.dedent(RUN_SCRIPT.format(port=free_port(), value=value)))
    p = procs([python(), str(script)], name="run", env=env_for(pythonpath=[APPS]), cwd=tmp_path)
    assert p.wait() != 0
    assert "timeout_request" in p.output() and "--timeout-request" in p.output(), p.describe()


GUNICORN_CONF = """
from esg.workers import ESGWorker


class TimeoutESGWorker(ESGWorker):
    # ESG-only settings reach the worker through CONFIG_KWARGS (gunicorn's --timeout is its heartbeat).
    CONFIG_KWARGS = {**ESGWorker.CONFIG_KWARGS, "timeout_request": 1}


worker_class = TimeoutESGWorker
bind = "127.0.0.1:{port}"
workers = 1
control_socket_disable = True  # gunicorn 23+'s control socket, not needed here (its path is shared)
"""


def test_gunicorn_worker_from_its_config_file(procs, tmp_path):
    port = free_port()
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(GUNICORN_CONF.replace("{port}", str(port)))
    gunicorn = python().rsplit("/", 1)[0] + "/gunicorn"
    p = procs([gunicorn, "-c", str(conf), STARLETTE], name="gunicorn", env=env_for(pythonpath=[APPS]),
              cwd=tmp_path)
    wait_until(lambda: try_get(f"http://127.0.0.1:{port}/fast") is not None or not p.alive(), 30,
               what="gunicorn serving", describe=p.describe)
    assert p.alive(), p.describe()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(http_request("GET", "/resource"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n"), data
    wait_until(lambda: json.loads(get(f"http://127.0.0.1:{port}/stats").text)["closed"] == 1, 20,
               what="the resource given back", describe=p.describe)
