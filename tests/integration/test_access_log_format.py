"""--access-log-format: gunicorn's atoms (%(h)s %(t)s "%(r)s" %(s)s %(b)s %(D)s %({name}i)s ...) and the `json`
preset, through `esg ...`, --log-config, esg.run(...) and gunicorn's own --access-logformat: the atoms' values,
durations at least as long as the app slept, one parseable JSON object per line, hostile request bytes escaped
(no raw control or non-ASCII byte, no forged line), an unknown atom refused naming the option (exit 2, or a
ValueError from esg.run).

Durations are only checked against a lower bound (the app's sleep, less SLACK: an event loop may fire a
timer up to a millisecond early — uvloop rounds to milliseconds): the machines are shared.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import textwrap

import pytest

from deploy_support import APPS, env_for, free_port, get, procs, python, wait_until  # noqa: F401
from esgtest import exchange, http_request

SLACK_US = 5_000  # how early a loop's timer may fire, and more (see the docstring)
APP = "access_log_app:app"
VENV_GUNICORN = os.path.join(os.path.dirname(python()), "gunicorn")
FULL = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(B)s %(b)s "%(f)s" "%(a)s" m=%(m)s U=%(U)s q=%(q)s H=%(H)s '
        'p=%(p)s rid=%({X-Request-ID}i)s trace=%({x-trace}o)s env=%({ESG_ACCESS_TEST}e)s 100%%')


def access_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_custom_atoms(esg_server):
    server = esg_server(["--access-log-format", FULL], app=APP, env={"ESG_ACCESS_TEST": "blue"})
    auth = base64.b64encode(b"alice:secret").decode()
    response = exchange(server, http_request("GET", "/a%20b/c?x=1&y=2", headers=[
        ("Referer", "http://ref.test/"), ("User-Agent", "probe/1.0"), ("Authorization", f"Basic {auth}"),
        ("X-Request-ID", "req-42")]))
    assert response.status == 200
    line = server.wait_for_output(r"^127\.0\.0\.1 .*100%$", "stdout").group(0)
    pattern = (r'127\.0\.0\.1 - alice \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] '
               r'"GET /a%20b/c\?x=1&y=2 HTTP/1\.1" 200 2 2 "http://ref\.test/" "probe/1\.0" m=GET U=/a b/c '
               r'q=x=1&y=2 H=HTTP/1\.1 p=<(\d+)> rid=req-42 trace=t-1 env=blue 100%')
    m = re.fullmatch(pattern, line)
    assert m, line
    assert int(m.group(1)) != server.proc.pid, "%(p)s is the worker's pid, not the master's"


def test_absent_values_are_dashes(esg_server):
    server = esg_server(["--access-log-format", 'u=%(u)s f=%(f)s a=%(a)s b=%(b)s B=%(B)s x=%({x-nope}i)s '
                         'o=%({x-nope}o)s e=%({ESG_ACCESS_UNSET}e)s end'], app=APP)
    assert exchange(server, http_request("GET", "/empty")).status == 204
    server.wait_for_output(r"^u=- f=- a=- b=- B=0 x=- o=- e=- end$", "stdout")


def test_durations_are_at_least_the_sleep(esg_server):
    server = esg_server(["--access-log-format", "%(r)s T=%(T)s M=%(M)s D=%(D)s L=%(L)s"], app=APP)
    assert server.get("/sleep?s=0.3").status_code == 200
    m = server.wait_for_output(r"^GET /sleep\?s=0\.3 HTTP/1\.1 T=(\d+) M=(\d+) D=(\d+) L=(\d+)\.(\d{6})$", "stdout")
    t, ms, us, l_int, l_frac = (int(g) for g in m.groups())
    assert us >= 300_000 - SLACK_US and ms >= (300_000 - SLACK_US) // 1000, m.group(0)
    assert ms == us // 1000 and t == us // 1_000_000 and (l_int, l_frac) == divmod(us, 1_000_000), m.group(0)


def test_json_preset(esg_server):
    server = esg_server(["--access-log-format", "json"], app=APP)
    assert exchange(server, http_request("GET", "/sleep?s=0.2", headers=[
        ("User-Agent", "probe/2"), ("X-Request-ID", "abc-123")])).status == 200
    assert exchange(server, http_request("POST", "/empty", body=b"xyz", version="HTTP/1.0")).status == 204
    server.wait_for_output(r'"path":"/empty"', "stdout")
    records = [json.loads(line) for line in access_lines(server.stdout())]
    assert len(records) == 2, server.stdout()
    first, second = records
    assert first["client"].startswith("127.0.0.1:")
    assert (first["method"], first["path"], first["query"], first["protocol"]) == ("GET", "/sleep", "s=0.2", "HTTP/1.1")
    assert (first["status"], first["bytes"], first["user_agent"], first["request_id"]) == (200, 2, "probe/2", "abc-123")
    assert first["duration"] >= 0.2 - SLACK_US / 1e6
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", first["time"])
    assert (second["method"], second["protocol"], second["status"], second["bytes"]) == ("POST", "HTTP/1.0", 204, 0)
    assert second["user_agent"] is None and second["request_id"] is None
    assert set(first) == {"time", "client", "method", "path", "query", "protocol", "status", "bytes", "duration",
                          "user_agent", "request_id"}


HOSTILE = [
    ("User-Agent", b'quote" back\\slash \xff\xfe\xc3( tab\there'),
    ("X-Request-ID", b'"}, {"forged": true} \\u0000 \xe9'),
    ("Referer", b"\x80\x81 end"),
]


@pytest.mark.parametrize("fmt", ["json", '"%(a)s" "%(f)s" %({x-request-id}i)s %(U)s %(q)s'])
def test_hostile_request_bytes(esg_server, fmt):
    server = esg_server(["--access-log-format", fmt], app=APP)
    target = "/x%0d%0aINFO:%20forged%22%1b%5b31m%ff?q=%22%5c%0a"
    assert exchange(server, http_request("GET", target, headers=HOSTILE)).status == 200
    # CR/LF inside a header value never reaches the app (or the log): the request is refused.
    refused = exchange(server, http_request("GET", "/", headers=[("X-Request-ID", b"a\rb")]))
    assert refused.status == 400
    assert exchange(server, http_request("GET", "/after")).status == 200
    server.wait_for_output("/after", "stdout")
    server.stop()
    out = server.stdout_bytes()
    assert all(0x20 <= b < 0x7f for b in out.replace(b"\n", b"")), out
    lines = access_lines(out.decode("ascii"))
    assert len(lines) == 2, out  # the refused request has no access line, and nothing was forged
    assert not any(line.startswith("INFO:") for line in lines)
    if fmt == "json":
        record = json.loads(lines[0])
        assert record["user_agent"] == 'quote" back\\\\slash \\xff\\xfe\\xc3( tab\\x09here'
        assert record["request_id"] == '"}, {"forged": true} \\\\u0000 \\xe9'
        assert record["path"] == "/x%0d%0aINFO:%20forged%22%1b%5b31m%ff"
        assert record["query"] == "q=%22%5c%0a"
        assert "forged" not in record
    else:
        assert lines[0] == ('"quote\\" back\\\\slash \\xff\\xfe\\xc3( tab\\x09here" "\\x80\\x81 end" '
                            '\\"}, {\\"forged\\": true} \\\\u0000 \\xe9 '
                            '/x\\x0d\\x0aINFO: forged\\"\\x1b[31m\\xff q=%22%5c%0a')


def test_default_line_unchanged_without_the_option(esg_server):
    server = esg_server([], app=APP)
    with server.connect() as conn:
        port = conn.sock.getsockname()[1]
        conn.send(http_request("GET", "/p?q=1", headers=[("User-Agent", "x")]))
        assert conn.read_response().status == 200
    server.wait_for_output(rf'^INFO:     127\.0\.0\.1:{port} - "GET /p\?q=1 HTTP/1\.1" 200$', "stdout")


@pytest.mark.parametrize("fmt, why", [
    ("%(x)s", "unknown atom '%(x)s'"),
    ("%(h)d", "must end with 's'"),
    ("%(h", "no closing ')'"),
    ("50% off", "'%%'"),
    ("%({}i)s", "names no header"),
])
def test_bad_format_is_a_usage_error(run_esg, fmt, why):
    proc = run_esg(["--access-log-format", fmt, APP])
    assert proc.returncode == 2, proc.stderr
    assert "Invalid value for '--access-log-format'" in proc.stderr and why in proc.stderr, proc.stderr


def test_with_log_config(esg_server, tmp_path):
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"access": {"format": "ACCESS %(levelname)s %(message)s"}},
        "handlers": {"access": {"class": "logging.FileHandler", "filename": str(tmp_path / "access.log"),
                                "formatter": "access"}},
        "loggers": {"esg.access": {"handlers": ["access"], "level": "INFO", "propagate": False}},
    }
    path = tmp_path / "logging.json"
    path.write_text(json.dumps(config))
    server = esg_server(["--log-config", str(path), "--access-log-format", 'J %(s)s "%(a)s" %(D)s'], app=APP)
    assert server.get("/sleep?s=0.1", headers={"user-agent": 'a"b'}).status_code == 200
    log = tmp_path / "access.log"
    wait_until(lambda: log.exists() and "ACCESS INFO J 200" in log.read_text(), 10, what="the access record",
               describe=server.describe)
    m = re.search(r'^ACCESS INFO J 200 "a\\"b" (\d+)$', log.read_text(), re.M)
    assert m and int(m.group(1)) >= 100_000 - SLACK_US, log.read_text()
    assert "J 200" not in server.stdout()


RUN_SCRIPT = """
import esg
from access_log_app import app

if __name__ == "__main__":
    esg.run({target}, port={port}, access_log_format={fmt!r})
"""


def test_esg_run_app_object_json(procs, tmp_path):
    port = free_port()
    script = tmp_path / "example.py"
    script.write_text(textwrap.dedent(RUN_SCRIPT.format(target="app", port=port, fmt="json")))
    p = procs([python(), str(script)], name="example", env=env_for(pythonpath=[APPS]), cwd=tmp_path)
    p.wait_output("ESG running on")
    assert get(f"http://127.0.0.1:{port}/sleep?s=0.1", headers={"x-request-id": "r1"}).status_code == 200
    wait_until(lambda: '"request_id":"r1"' in p.out.read_text(), 10, what="the JSON line", describe=p.describe)
    record = json.loads(next(line for line in p.out.read_text().splitlines() if '"request_id"' in line))
    assert record["path"] == "/sleep" and record["duration"] >= 0.1 - SLACK_US / 1e6
    assert p.stop() == 0, p.describe()


@pytest.mark.parametrize("target", ["app", "'access_log_app:app'"])
def test_esg_run_bad_format_is_a_value_error(tmp_path, target):
    script = tmp_path / "bad.py"
    script.write_text(textwrap.dedent(RUN_SCRIPT.format(target=target, port=free_port(), fmt="%(nope)s")))
    proc = subprocess.run([python(), str(script)], env=env_for(pythonpath=[APPS]), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "ValueError" in proc.stderr and "access_log_format" in proc.stderr and "%(nope)s" in proc.stderr, \
        proc.stderr


def test_gunicorn_access_logformat(procs):
    """gunicorn's own setting keeps its meaning with the ESG worker (gunicorn's access logger writes it)."""
    port = free_port()
    fmt = 'G %(h)s "%(r)s" %(s)s %(b)s rid=%({x-request-id}i)s trace=%({x-trace}o)s D=%(D)s L=%(L)s'
    p = procs([VENV_GUNICORN, "-k", "esg.workers.ESGWorker", "-b", f"127.0.0.1:{port}", "--no-control-socket",
               "--access-logfile", "-", "--access-logformat", fmt, APP],
              name="gunicorn", env=env_for(pythonpath=[APPS]))
    wait_until(lambda: "Booting worker" in p.output() or not p.alive(), 30, what="gunicorn booting",
               describe=p.describe)
    wait_until(lambda: _answers(port), 30, what="gunicorn serving", describe=p.describe)
    assert get(f"http://127.0.0.1:{port}/sleep?s=0.2", headers={"x-request-id": "g-7"}).status_code == 200
    pattern = r'G 127\.0\.0\.1 "GET /sleep\?s=0\.2 HTTP/1\.1" 200 2 rid=g-7 trace=t-1 D=(\d+) L=\d+\.\d{6}'
    wait_until(lambda: re.search(pattern, p.output()), 10, what="gunicorn's access line", describe=p.describe)
    assert int(re.search(pattern, p.output()).group(1)) >= 200_000 - SLACK_US
    assert p.stop() == 0, p.describe()


def _answers(port: int) -> bool:
    try:
        return get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
    except Exception:  # noqa: BLE001 - not listening yet
        return False
