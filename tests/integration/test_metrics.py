"""Prometheus metrics from the master (--metrics-bind) through the `esg` command: GET /metrics on TCP and on a
UNIX socket, parsed with prometheus_client's text parser; the same text through `esgctl metrics`; the
totals never go backwards across a reload and a killed worker; and a real Prometheus server (Debian's
`prometheus`, started here with a config pointing at ESG) sees sum(esg_requests_total) — and the duration
histogram's count — equal the requests sent, before and after a reload and a worker kill. The per-class
figures themselves: test_request_metrics.py."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy_support import free_port
from test_control import control_module, esgctl, ok, sockdir  # noqa: F401  (fixtures)
from test_supervision import WAIT, wait_until, wait_workers

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def scrape(url: str, uds: str | None = None) -> dict:
    """{(name, frozenset(labels)): value} of every sample at `url` (checks the content type)."""
    with httpx.Client(transport=httpx.HTTPTransport(uds=uds) if uds else None, timeout=10) as client:
        resp = client.get(url)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == CONTENT_TYPE
    return samples(resp.text)


def samples(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def total(values: dict) -> float:
    """esg_requests_total summed over its method and status classes (--metrics-bind labels it)."""
    return sum(v for (name, _), v in values.items() if name == "esg_requests_total")


def send(server, n: int) -> None:
    with server.client() as c:
        for _ in range(n):
            assert c.get("/").status_code == 200


def test_metrics_are_prometheus_text_summed_over_the_workers(esg_server, sockdir, control_module):
    port = free_port()
    sock = str(sockdir / "control.sock")
    server = esg_server(["--workers", "2", "--metrics-bind", f"127.0.0.1:{port}", "--control-socket", sock],
                        app="hello:app")
    wait_workers(server, 2)
    url = f"http://127.0.0.1:{port}/metrics"
    server.wait_for_output(rf"Metrics on http://127\.0\.0\.1:{port}/metrics")
    send(server, 30)
    values = wait_until(lambda: (lambda v: v if total(v) == 30 else None)(scrape(url)), what="30 requests counted",
                        server=server)
    families = {f.name: f for f in text_string_to_metric_families(httpx.get(url).text)}
    assert families["esg_requests"].type == "counter"  # the parser strips _total from counter names
    assert families["esg_worker_restarts"].type == "counter"
    assert families["esg_workers"].type == "gauge"
    assert values[("esg_workers", frozenset({("state", "ready")}))] == 2
    assert values[("esg_worker_rss_bytes_sum", frozenset())] >= values[("esg_worker_rss_bytes_max", frozenset())] > 0
    assert {dict(labels)["reason"] for (name, labels) in values if name == "esg_worker_restarts_total"} == {
        "crash", "heartbeat", "max-requests", "memory", "age", "reload"}
    for (name, labels) in values:
        assert not {"pid", "path"} & {k for k, _ in labels}, (name, labels)  # bounded label sets
    # The same figures through the control plane.
    assert total(samples(ok(esgctl(sock, "metrics")))) == 30
    with control_module.Client(sock) as client:  # and for scripts, through the gRPC API
        assert total(samples(client.metrics())) == 30
    # Anything but GET /metrics is refused.
    assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 404
    assert httpx.post(url).status_code == 405


def test_metrics_on_a_unix_socket_and_a_bad_bind(esg_server, run_esg, sockdir):
    path = str(sockdir / "metrics.sock")  # short: pytest's tmp_path can pass the 107 bytes of sun_path
    server = esg_server(["--metrics-bind", f"unix:{path}"], app="hello:app")
    send(server, 3)
    wait_until(lambda: total(scrape("http://esg/metrics", uds=path)) == 3, what="3 requests counted",
               server=server)
    server.stop()
    assert not os.path.exists(path)
    # A malformed address is a usage error naming the option (exit 2), before anything starts.
    for bad in ("localhost:9100", "127.0.0.1:99999", "127.0.0.1", "unix:", "[nope]:9100", ":9100", "1.2.3.4:9x"):
        result = run_esg(["--metrics-bind", bad, "--port", "0", "hello:app"])
        assert result.returncode == 2, (bad, result.stderr)
        assert f"Invalid value for '--metrics-bind': '{bad}'" in result.stderr, result.stderr
    # A well-formed one that cannot be bound fails the start-up (exit 1), as a busy --port does.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = f"127.0.0.1:{busy.getsockname()[1]}"
        result = run_esg(["--metrics-bind", taken, "--port", "0", "hello:app"])
    assert result.returncode == 1, result.stderr
    assert f"--metrics-bind {taken}: " in result.stderr, result.stderr


def test_a_metrics_socket_never_replaces_a_live_server_or_a_file(esg_server, run_esg, sockdir):
    # --metrics-bind unix:PATH used to unlink whatever socket was at PATH — the app's own --uds included.
    app_sock = str(sockdir / "app.sock")
    server = esg_server(["--uds", app_sock], app="hello:app")
    result = run_esg(["--metrics-bind", f"unix:{app_sock}", "--port", "0", "hello:app"])
    assert result.returncode == 1, result.stderr
    assert "already listening" in result.stderr, result.stderr
    assert os.path.exists(app_sock)
    assert server.get("/").status_code == 200
    plain = sockdir / "plain-file"
    plain.write_text("keep me")
    result = run_esg(["--metrics-bind", f"unix:{plain}", "--port", "0", "hello:app"])
    assert result.returncode == 1, result.stderr
    assert plain.read_text() == "keep me"
    # A stale socket (nobody listening) is replaced.
    stale = str(sockdir / "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    metrics = esg_server(["--metrics-bind", f"unix:{stale}"], app="hello:app")
    wait_until(lambda: "esg_requests_total" in {name for name, _ in scrape("http://esg/metrics", uds=stale)},
               what="metrics on the replaced stale socket", server=metrics)


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


@pytest.mark.timeout(300)  # Prometheus start-up and several scrape rounds on a loaded machine
def test_a_real_prometheus_sees_every_request_across_a_reload_and_a_worker_kill(esg_server, tmp_path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.fail("Debian's prometheus is not installed (tools/debian-packages.txt, tools/setup.sh)", pytrace=False)
    port = free_port()
    server = esg_server(["--workers", "2", "--metrics-bind", f"127.0.0.1:{port}"], app="hello:app")
    wait_workers(server, 2)
    prom_port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
                      f"  - job_name: esg\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    log = open(tmp_path / "prometheus.log", "w")
    prom = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{prom_port}/api/v1/query"

    def query(expr: str) -> float | None:
        try:
            resp = httpx.get(api, params={"query": expr}, timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return None
        result = resp.get("data", {}).get("result", [])
        return float(result[0]["value"][1]) if result else None

    def prometheus_sees(expr: str, value: float) -> None:
        wait_until(lambda: query(expr) == value, timeout=60, what=f"Prometheus: {expr} == {value} "
                   f"(last {query(expr)})", server=server)

    try:
        send(server, 25)
        prometheus_sees("sum(esg_requests_total)", 25)
        os.kill(server.proc.pid, signal.SIGHUP)  # a reload: a whole new generation, the old one drains
        prometheus_sees("esg_reloads_total{result=\"ok\"}", 1)
        prometheus_sees("esg_generation", 2)
        prometheus_sees("sum(esg_requests_total)", 25)
        send(server, 10)
        prometheus_sees("sum(esg_requests_total)", 35)
        victim = wait_workers(server, 2)[0]
        os.kill(victim, signal.SIGKILL)
        prometheus_sees("esg_worker_restarts_total{reason=\"crash\"}", 1)
        prometheus_sees("sum(esg_requests_total)", 35)
        send(server, 5)
        prometheus_sees("sum(esg_requests_total)", 40)
        assert query("esg_worker_restarts_total{reason=\"reload\"}") == 2
        # The histogram's buckets are counters too: its count went through the same reload and kill.
        prometheus_sees("sum(esg_request_duration_seconds_count)", 40)
        prometheus_sees("sum(esg_request_duration_seconds_bucket{le=\"+Inf\"})", 40)
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
