"""Default response headers: `server: esg` and an IMF-fixdate `date` on every response, removed by
--no-server-header / --no-date-header, and `--header Name:Value` (repeatable) added to every response, including
the server's own 500s.
"""

import email.utils
import re

from esgtest import exchange, http_request

IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
                         r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$")


def test_default_server_and_date_headers(esg_server):
    server = esg_server([], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert resp.header_all("server") == ["esg"], resp.raw
    dates = resp.header_all("date")
    assert len(dates) == 1, resp.raw
    assert IMF_FIXDATE.match(dates[0]), dates[0]
    assert email.utils.parsedate_to_datetime(dates[0]) is not None


def test_default_headers_on_404_too(esg_server):
    server = esg_server([], app="hello:app")
    resp = exchange(server, http_request("GET", "/missing"))
    assert resp.status == 404
    assert resp.header("server") == "esg" and resp.has("date")


def test_no_server_header(esg_server):
    server = esg_server(["--no-server-header"], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert not resp.has("server"), resp.raw
    assert resp.has("date")


def test_no_date_header(esg_server):
    server = esg_server(["--no-date-header"], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert not resp.has("date"), resp.raw
    assert resp.header("server") == "esg"


def test_no_server_and_no_date_header(esg_server):
    server = esg_server(["--no-server-header", "--no-date-header"], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert not resp.has("date") and not resp.has("server"), resp.raw
    assert resp.body == b"Hello, world!"


def test_custom_headers_on_every_response(esg_server):
    server = esg_server(["--header", "X-A:1", "--header", "X-B:2"], app="hello:app")
    with server.connect() as conn:
        conn.send(http_request("GET", "/"))
        ok = conn.read_response()
        conn.send(http_request("GET", "/missing"))
        missing = conn.read_response()
    for resp in (ok, missing):
        assert resp.header_all("x-a") == ["1"], resp.raw
        assert resp.header_all("x-b") == ["2"], resp.raw
    assert (ok.status, missing.status) == (200, 404)


def test_custom_header_value_may_contain_colon(esg_server):
    server = esg_server(["--header", "X-Url:http://example.test:8080/x"], app="hello:app")
    resp = exchange(server, http_request("GET", "/"))
    assert resp.header("x-url") == "http://example.test:8080/x"


def test_custom_headers_on_server_500(esg_server):
    server = esg_server(["--header", "X-A:1"], app="app_errors:app")
    resp = exchange(server, http_request("GET", "/raise-before"))
    assert resp.status == 500
    assert resp.header("x-a") == "1", resp.raw
    assert resp.header("server") == "esg"


def test_app_duplicate_headers_kept_in_order_and_bytes_exact(esg_server):
    server = esg_server([], app="framing:app")
    resp = exchange(server, http_request("GET", "/dups"))
    assert resp.header_all("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    names = [n for n, _ in resp.headers if n in ("set-cookie", "x-between")]
    assert names == ["set-cookie", "x-between", "set-cookie"]
    assert b"\r\nx-latin: caf\xe9\r\n" in resp.raw.lower()
