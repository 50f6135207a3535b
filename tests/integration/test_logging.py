"""Logging: uvicorn-style lines on stderr (parent/server process, startup), the access log line on stdout
(`INFO:     127.0.0.1:PORT - "GET /path?q=1 HTTP/1.1" 200`), --no-access-log, control characters from the
request never reaching a log line raw (no ESC bytes, no forged lines), --log-level warning hiding INFO lines.

Absence is checked after the server has exited (everything is flushed then), never by waiting for a while.
"""

import re

from esgtest import exchange, http_request


def test_startup_lines(esg_server):
    server = esg_server(["--lifespan", "on"], app="hello:app")
    parent = server.wait_for_output(r"^INFO:     Started parent process \[(\d+)\]$")
    assert int(parent.group(1)) == server.proc.pid
    worker = server.wait_for_output(r"^INFO:     Started server process \[(\d+)\]$")
    assert int(worker.group(1)) != server.proc.pid
    server.wait_for_output(r"^INFO:     Waiting for application startup\.$")
    server.wait_for_output(r"^INFO:     Application startup complete\.$")
    server.wait_for_output(r"^INFO:     ESG running on http://127\.0\.0\.1:\d+ \(Press CTRL\+C to quit\)$")


def test_access_log_line_on_stdout(esg_server):
    server = esg_server([], app="hello:app")
    with server.connect() as conn:
        local_port = conn.sock.getsockname()[1]
        conn.send(http_request("GET", "/path?q=1"))
        assert conn.read_response().status == 200
    line = server.wait_for_output(rf'^INFO:     127\.0\.0\.1:{local_port} - "GET /path\?q=1 HTTP/1\.1" 200\b.*$',
                                  "stdout")
    assert line
    assert "GET /path?q=1" not in server.stderr(), "access log must go to stdout only"


def test_access_log_status_and_method(esg_server):
    server = esg_server([], app="hello:app")
    exchange(server, http_request("POST", "/missing", body=b"x", version="HTTP/1.0"))
    server.wait_for_output(r'^INFO:     127\.0\.0\.1:\d+ - "POST /missing HTTP/1\.0" 404\b', "stdout")


def test_no_access_log(esg_server):
    server = esg_server(["--no-access-log"], app="hello:app")
    assert server.get("/quiet").status_code == 200
    server.stop()
    assert "/quiet" not in server.stdout()
    assert "/quiet" not in server.stderr()


def test_control_characters_escaped_in_access_log(esg_server):
    server = esg_server([], app="hello:app")
    assert exchange(server, http_request("GET", "/%1b%5b31mred%1b%5b0m?x=%1b")).status == 200
    assert exchange(server, http_request("GET", "/a%0d%0aINFO:%20%20%20%20%20forged")).status == 200
    assert exchange(server, http_request("GET", "/after")).status == 200
    server.wait_for_output(r'"GET /after HTTP/1\.1" 200', "stdout")
    server.stop()
    out, err = server.stdout_bytes(), server.stderr_bytes()
    assert b"\x1b" not in out and b"\x1b" not in err, "raw ESC byte in a log line"
    assert not re.search(rb"^INFO:     forged", out, re.M), "a request forged a log line"
    assert b"red" in out  # the request was logged, just escaped


def test_log_level_warning_hides_info(esg_server, tmp_path):
    path = tmp_path / "esg.sock"
    server = esg_server(["--log-level", "warning", "--uds", str(path)], app="hello:app", ready="connect")
    assert server.get("/hidden").status_code == 200
    server.stop()
    assert "INFO:" not in server.stderr(), server.stderr()
    assert "/hidden" not in server.stdout(), "access log lines are INFO and must be hidden at warning"


def test_log_level_warning_still_shows_errors(esg_server, tmp_path):
    path = tmp_path / "esg.sock"
    server = esg_server(["--log-level", "warning", "--uds", str(path)], app="app_errors:app", ready="connect")
    assert server.get("/raise-before").status_code == 500
    server.wait_for_output(r"^ERROR:", "stderr")
    server.wait_for_output("boom-before-start", "stderr")


def test_access_log_records_500(esg_server):
    server = esg_server([], app="app_errors:app")
    assert exchange(server, http_request("GET", "/raise-before")).status == 500
    server.wait_for_output(r'^INFO:     127\.0\.0\.1:\d+ - "GET /raise-before HTTP/1\.1" 500\b', "stdout")


def test_log_level_debug_serves_and_keeps_info(esg_server):
    server = esg_server(["--log-level", "debug"], app="hello:app")
    assert server.get("/dbg").status_code == 200
    server.wait_for_output(r'"GET /dbg HTTP/1\.1" 200', "stdout")
    assert "INFO:     ESG running on" in server.stderr()


def test_log_level_critical_hides_errors(esg_server, tmp_path):
    path = tmp_path / "esg.sock"
    server = esg_server(["--log-level", "critical", "--uds", str(path)], app="app_errors:app", ready="connect")
    assert server.get("/raise-before").status_code == 500
    assert server.get("/ok").status_code == 200
    server.stop()
    assert "ERROR:" not in server.stderr() and "INFO:" not in server.stderr(), server.stderr()
    assert "boom-before-start" not in server.stderr()
