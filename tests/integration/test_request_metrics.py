"""Per-request metrics (--metrics-bind) through the `esg` command: after a known load — methods GET, HEAD,
POST with a body of known size, PUT, DELETE, OPTIONS and an unusual one, a 404 from the app and a 400 ESG
answers itself to a malformed request — esg_requests_total by method and status class equals what was sent,
the duration histogram's _count equals the requests, bytes received cover the bodies; the open-WebSockets
gauge goes 1 → 0 around a session and the in-flight gauge is 1 during a slow request. Parsed with
prometheus_client's parser; the same figures through `esgctl metrics` and esg.control's Client.metrics().
(A real Prometheus summing esg_requests_total across a reload and a killed worker: test_metrics.py.)"""

from __future__ import annotations

import socket
import threading

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from deploy_support import free_port
from test_control import control_module, esgctl, ok, sockdir  # noqa: F401  (fixtures)
from test_supervision import WAIT, wait_until, wait_workers

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"]
STATUSES = ["1xx", "2xx", "3xx", "4xx", "5xx"]
BOUNDS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]


def families(text: str) -> dict:
    """{sample name: {frozenset(labels): value}} of every sample in `text`."""
    out: dict = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    return out


def scrape(url: str) -> dict:
    resp = httpx.get(url, timeout=10)
    assert resp.status_code == 200, resp.text
    return families(resp.text)


def by_class(values: dict) -> dict:
    """{(method_class, status_class): count} of esg_requests_total, zeros left out."""
    out = {}
    for labels, v in values["esg_requests_total"].items():
        d = dict(labels)
        assert set(d) == {"method_class", "status_class"}, d
        assert d["method_class"] in METHODS and d["status_class"] in STATUSES, d
        if v:
            out[(d["method_class"], d["status_class"])] = v
    return out


def one(values: dict, name: str) -> float:
    return values[name][frozenset()]


def malformed_request(server) -> bytes:
    """Sends a request with a space in a header name (ESG answers 400 itself) and returns the answer."""
    with socket.create_connection((server.host, server.port), timeout=WAIT) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
        got = b""
        while chunk := s.recv(4096):
            got += chunk
    return got


def test_requests_by_class_duration_and_bytes(esg_server, sockdir, control_module):
    port = free_port()
    sock = str(sockdir / "control.sock")
    server = esg_server(["--workers", "2", "--metrics-bind", f"127.0.0.1:{port}", "--control-socket", sock],
                        app="request_metrics_app:app")
    wait_workers(server, 2)
    url = f"http://127.0.0.1:{port}/metrics"
    before = scrape(url)
    assert by_class(before) == {}  # every class is there from the start, at 0
    assert len(before["esg_requests_total"]) == len(METHODS) * len(STATUSES)

    body = b"b" * 1000
    with server.client() as c:
        for _ in range(5):
            assert c.get("/").status_code == 200
        for _ in range(3):
            assert c.get("/missing").status_code == 404
        for _ in range(2):
            assert c.head("/").status_code == 200
        for _ in range(4):
            r = c.post("/echo", content=body)
            assert (r.status_code, r.text) == (200, "1000")
        assert c.put("/", content=b"x").status_code == 200
        assert c.request("PATCH", "/").status_code == 200
        assert c.delete("/").status_code == 200
        assert c.options("/").status_code == 200
        assert c.request("PROPFIND", "/").status_code == 200
    assert malformed_request(server).startswith(b"HTTP/1.1 400 ")
    expected = {("GET", "2xx"): 5, ("GET", "4xx"): 3, ("HEAD", "2xx"): 2, ("POST", "2xx"): 4, ("PUT", "2xx"): 1,
                ("PATCH", "2xx"): 1, ("DELETE", "2xx"): 1, ("OPTIONS", "2xx"): 1, ("other", "2xx"): 1,
                ("other", "4xx"): 1}
    sent = sum(expected.values())

    values = wait_until(lambda: (lambda v: v if sum(by_class(v).values()) == sent else None)(scrape(url)),
                        what=f"{sent} requests counted", server=server)
    assert by_class(values) == expected
    buckets = values["esg_request_duration_seconds_bucket"]
    counts = [buckets[frozenset({("le", le)})] for le in BOUNDS]
    assert counts == sorted(counts)  # cumulative
    assert counts[-1] == one(values, "esg_request_duration_seconds_count") == sent
    assert one(values, "esg_request_duration_seconds_sum") > 0
    assert one(values, "esg_http_received_bytes_total") >= 4 * len(body) + 1
    assert one(values, "esg_http_sent_bytes_total") > 0
    for name in values:  # bounded label sets: no pid, no path
        for labels in values[name]:
            assert not {"pid", "path"} & {k for k, _ in labels}, (name, labels)

    # The same figures through the control plane: esgctl and esg.control.
    assert by_class(families(ok(esgctl(sock, "metrics")))) == expected
    with control_module.Client(sock) as client:
        assert by_class(families(client.metrics())) == expected


def test_websockets_and_in_flight_gauges(esg_server, tmp_path):
    port = free_port()
    server = esg_server(["--metrics-bind", f"127.0.0.1:{port}"], app="request_metrics_app:app")
    url = f"http://127.0.0.1:{port}/metrics"

    def gauge(name: str, value: float):
        return wait_until(lambda: (lambda v: v if one(v, name) == value else None)(scrape(url)),
                          what=f"{name} == {value}", server=server)

    gauge("esg_websockets_open", 0)
    with connect(f"ws://{server.host}:{server.port}/ws", open_timeout=WAIT) as ws:
        ws.send("hi")
        assert ws.recv(timeout=WAIT) == "hi"
        gauge("esg_websockets_open", 1)
    values = gauge("esg_websockets_open", 0)
    assert by_class(values) == {("GET", "1xx"): 1}  # the handshake, answered 101

    release = tmp_path / "release"
    result: dict = {}

    def slow() -> None:
        result["response"] = httpx.get(f"{server.base_url}/slow", params={"file": str(release)}, timeout=90)

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        gauge("esg_requests_in_flight", 1)
    finally:
        release.write_text("go")
        thread.join(timeout=90)
    assert "response" in result, "the slow request failed (see the thread's exception above)"
    assert result["response"].status_code == 200
    values = gauge("esg_requests_in_flight", 0)
    values = wait_until(lambda: (lambda v: v if by_class(v).get(("GET", "2xx")) == 1 else None)(scrape(url)),
                        what="the slow request counted", server=server)
    # It waited at least one 20 ms poll of the app: the histogram's sum holds it.
    assert one(values, "esg_request_duration_seconds_sum") >= 0.02
    assert one(values, "esg_request_duration_seconds_count") == 2


def test_without_metrics_bind_the_control_plane_shows_the_total_only(esg_server, sockdir):
    sock = str(sockdir / "control.sock")
    server = esg_server(["--control-socket", sock], app="request_metrics_app:app")
    for _ in range(3):
        assert server.get("/").status_code == 200
    # The workers count no classes (nothing to pay for when nobody scrapes): the plain total, as before.
    values = wait_until(lambda: (lambda v: v if v["esg_requests_total"].get(frozenset()) == 3 else None)(
        families(ok(esgctl(sock, "metrics")))), what="3 requests in esgctl metrics", server=server)
    assert "esg_request_duration_seconds_bucket" not in values
    assert one(values, "esg_websockets_open") == 0
