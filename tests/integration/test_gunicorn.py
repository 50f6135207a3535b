"""`gunicorn -k esg.workers.ESGWorker` / `ESGH11Worker` with current gunicorn (project venv) and Debian's 20.1
(/usr/bin/gunicorn, apt package `gunicorn`): gunicorn's sockets, workers, timeouts, max-requests, HUP,
access log, boot failure, CONFIG_KWARGS subclasses."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from deploy_support import (APPS, env_for, free_port, get, make_cert, need_program, procs, python,  # noqa: F401
                            try_get, wait_until)

VENV_GUNICORN = os.path.join(os.path.dirname(python()), "gunicorn")


@pytest.fixture(params=["pypi", "debian"])
def gunicorn(request, procs, tmp_path):
    """Factory: gunicorn(*args, app="dep_app:app", worker="esg.workers.ESGWorker") -> (Proc, port)."""
    if request.param == "pypi":
        exe, extra = VENV_GUNICORN, ["--no-control-socket"]
    else:
        exe, extra = need_program("/usr/bin/gunicorn"), []

    def start(*args, app="dep_app:app", worker="esg.workers.ESGWorker", wait=True, env=None):
        port = free_port()
        argv = [exe, "-k", worker, "-b", f"127.0.0.1:{port}", *extra, *args, app]
        p = procs(argv, name="gunicorn", env=env_for(env, pythonpath=[APPS]))
        if wait:
            wait_until(lambda: try_get(f"http://127.0.0.1:{port}/") is not None or not p.alive(), 30,
                       what="gunicorn serving", describe=p.describe)
            assert p.alive(), p.describe()
        return p, port

    start.flavour = request.param
    return start


def pids(port: int, n: int = 20) -> set[int]:
    return {int(get(f"http://127.0.0.1:{port}/pid").text) for _ in range(n)}


@pytest.mark.parametrize("worker", ["esg.workers.ESGWorker", "esg.workers.ESGH11Worker"])
def test_workers_and_access_log_format(gunicorn, worker):
    fmt = 'ACCESS %(h)s "%(r)s" %(s)s %(b)s %(U)s q=%(q)s ua=%({user-agent}i)s ct=%({content-type}o)s %(p)s'
    p, port = gunicorn("-w", "2", "--access-logfile", "-", "--access-logformat", fmt, worker=worker)
    seen: set[int] = set()
    wait_until(lambda: seen.update(pids(port, 5)) or len(seen) >= 2, 20, what="two workers answering",
               describe=p.describe)
    r = get(f"http://127.0.0.1:{port}/scope?x=1", headers={"user-agent": "dep-test/1"})
    assert r.status_code == 200
    pattern = (r'ACCESS 127\.0\.0\.1 "GET /scope\?x=1 HTTP/1\.1" 200 \d+ /scope q=x=1 ua=dep-test/1 '
               r"ct=application/json <\d+>")
    wait_until(lambda: re.search(pattern, p.output()), 10, what="the access-log line", describe=p.describe)
    assert "127.0.0.1:" not in p.output().split("ACCESS")[0] or True  # ESG's own access log is off
    assert not re.search(r'INFO: +127\.0\.0\.1:\d+ - "GET', p.output()), "ESG's own access log must be off"
    assert p.stop() == 0, p.describe()


def test_max_requests_with_jitter_recycles_the_worker(gunicorn):
    p, port = gunicorn("-w", "1", "--max-requests", "3", "--max-requests-jitter", "2", wait=False)
    p.wait_output("Application startup complete.", timeout=30)  # no probe request: they would count
    first = int(get(f"http://127.0.0.1:{port}/pid").text)
    served_by_first = 1
    for _ in range(12):
        r = try_get(f"http://127.0.0.1:{port}/pid", timeout=5)
        if r is not None and int(r.text) != first:
            break
        served_by_first += r is not None
    else:
        pytest.fail(f"the worker was not replaced after --max-requests 3 (+ up to 2)\n{p.describe()}")
    assert 3 <= served_by_first <= 5, served_by_first
    assert "Autorestarting worker after current request." in p.output()


def test_hup_replaces_the_workers(gunicorn):
    p, port = gunicorn("-w", "2")
    before = pids(port)
    p.send_signal(signal.SIGHUP)
    seen: set[int] = set()

    def replaced() -> bool:
        now = pids(port, 6)
        seen.update(now)
        return not (now & before) and len(seen - before) >= 2

    # Both new workers must answer before the SIGTERM: a worker still booting has gunicorn's arbiter handlers,
    # which swallow a SIGTERM (the arbiter then SIGKILLs it after --graceful-timeout, 30 s).
    wait_until(replaced, 20, what="only new workers answering, both of them", describe=p.describe)
    assert p.alive()
    assert p.stop() == 0, p.describe()
    assert "terminated due to signal" not in p.output(), p.describe()


def test_graceful_timeout_lets_in_flight_work_finish(gunicorn):
    p, port = gunicorn("-w", "1", "--graceful-timeout", "10")
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", get(f"http://127.0.0.1:{port}/slow?s=1.5")))
    t.start()
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    t.join(15)
    assert result["r"].text == "slow done"
    assert p.wait(20) == 0, p.describe()


def test_graceful_timeout_bounds_the_shutdown(gunicorn):
    p, port = gunicorn("-w", "1", "--graceful-timeout", "1")
    t = threading.Thread(target=lambda: try_get(f"http://127.0.0.1:{port}/slow?s=30", timeout=40), daemon=True)
    t.start()
    time.sleep(0.5)
    started = time.monotonic()
    p.send_signal(signal.SIGTERM)
    p.wait(15)
    assert time.monotonic() - started < 8, p.describe()


def test_timeout_heartbeat_keeps_an_idle_worker_and_kills_a_blocked_one(gunicorn):
    p, port = gunicorn("-w", "1", "--timeout", "2")
    first = int(get(f"http://127.0.0.1:{port}/pid").text)
    time.sleep(4)  # idle for twice --timeout: the loop's notify() keeps the worker alive
    assert int(get(f"http://127.0.0.1:{port}/pid").text) == first, p.describe()
    try_get(f"http://127.0.0.1:{port}/block?s=8", timeout=12)  # blocks the loop: no heartbeat
    wait_until(lambda: "WORKER TIMEOUT" in p.output(), 15, what="gunicorn's WORKER TIMEOUT", describe=p.describe)
    wait_until(lambda: (r := try_get(f"http://127.0.0.1:{port}/pid")) is not None and int(r.text) != first, 20,
               what="a replacement worker", describe=p.describe)


def test_keep_alive_closes_idle_connections(gunicorn):
    p, port = gunicorn("-w", "1", "--keep-alive", "1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"hello" not in data:
            data += s.recv(4096)
        started = time.monotonic()
        assert s.recv(4096) == b"", "the idle keep-alive connection must be closed by the server"
        assert time.monotonic() - started < 4


def test_boot_failure_exits_3(gunicorn):
    p, _ = gunicorn("-w", "1", app="dep_bootfail:app", wait=False)
    assert p.wait(60) == 3, p.describe()
    assert "database unreachable" in p.output()
    assert "Worker failed to boot." in p.output()


def test_boot_failure_of_several_workers_halts_gunicorn(gunicorn):
    # Gunicorn 27's arbiter re-raises HaltServer while halting when a second worker also failed to boot, and
    # then exits 1 (any worker class); 20.1 exits 3. Either way gunicorn stops and says why.
    p, _ = gunicorn("-w", "3", app="dep_bootfail:app", wait=False)
    assert p.wait(60) in (1, 3), p.describe()
    assert "Worker failed to boot." in p.output()


def test_config_kwargs_subclass(gunicorn):
    # lifespan="off": the app's failing startup never runs; an HTTP request reaches the app (which raises: 500).
    p, port = gunicorn("-w", "1", app="dep_bootfail:app", worker="dep_workers.MyESGWorker", wait=False)
    wait_until(lambda: try_get(f"http://127.0.0.1:{port}/") is not None, 30, what="serving", describe=p.describe)
    assert get(f"http://127.0.0.1:{port}/").status_code == 500
    assert p.stop() == 0


def test_config_kwargs_with_an_unknown_option_is_a_boot_error(gunicorn):
    p, _ = gunicorn("-w", "1", worker="dep_workers.BadESGWorker", wait=False)
    assert p.wait(60) == 3, p.describe()
    assert "no_such_option" in p.output()


def test_config_kwargs_with_a_master_only_option_is_a_boot_error(gunicorn):
    p, _ = gunicorn("-w", "1", worker="dep_workers.MasterOnlyESGWorker", wait=False)
    assert p.wait(60) == 3, p.describe()
    assert "limit_worker_memory need the esg master" in p.output()


def test_backlog_reaches_the_listening_socket(gunicorn):
    p, port = gunicorn("-w", "1", "--backlog", "37")
    out = subprocess.run([need_program("ss"), "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert re.search(r"LISTEN\s+\d+\s+37\s", out), out


def test_forwarded_allow_ips(gunicorn):
    p, port = gunicorn("-w", "1", "--forwarded-allow-ips", "127.0.0.1")
    r = get(f"http://127.0.0.1:{port}/scope",
            headers={"x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https"}).json()
    assert r["client"][0] == "203.0.113.7"
    assert r["scheme"] == "https"


def test_certfile_keyfile(gunicorn, tmp_path):
    cert, key = make_cert(tmp_path)
    p, port = gunicorn("-w", "1", "--certfile", str(cert), "--keyfile", str(key), wait=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and p.alive():
        if try_get(f"https://127.0.0.1:{port}/scope") is not None:
            break
        time.sleep(0.1)
    assert p.alive(), p.describe()
    assert get(f"https://127.0.0.1:{port}/scope").json()["scheme"] == "https"


def test_http_protocols_h2_offers_alpn_h2(gunicorn, tmp_path):
    # gunicorn 25+'s --http-protocols h2,h1 with TLS turns on ESG's --http2 (ALPN h2 first); Debian's gunicorn
    # 20.1 has no HTTP/2 setting, so its ESG workers answer http/1.1 as without --http2.
    cert, key = make_cert(tmp_path)
    h2 = ["--http-protocols", "h2,h1", "--http2-max-concurrent-streams", "16"] if gunicorn.flavour == "pypi" else []
    p, port = gunicorn("-w", "1", "--certfile", str(cert), "--keyfile", str(key), *h2, wait=False)
    wait_until(lambda: try_get(f"https://127.0.0.1:{port}/scope") is not None or not p.alive(), 30,
               what="gunicorn serving HTTPS", describe=p.describe)
    assert p.alive(), p.describe()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # make_cert's self-signed certificate; only the ALPN answer matters
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as sock:
            selected = sock.selected_alpn_protocol()
    assert selected == ("h2" if gunicorn.flavour == "pypi" else "http/1.1")


def test_workers_default_to_batch_scheduling(gunicorn):
    # --cpu-scheduling's default applies to gunicorn's ESG workers too (test_cpu_scheduling.py has the rest).
    p, port = gunicorn("-w", "1", app="sched_app:app")
    assert get(f"http://127.0.0.1:{port}/").text == "SCHED_BATCH"
    assert p.stop() == 0
