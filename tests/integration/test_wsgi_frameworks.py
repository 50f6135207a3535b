"""Real WSGI frameworks through `esg --interface wsgi`, for both loops: a Flask app (apps/wsgi_flask.py)
and a one-file Django project (apps/wsgi_django.py): plain and JSON responses, the URL pieces each
framework derives from the environ (with and without --root-path), POST bodies (Content-Length and
chunked), forms and uploads, cookies both ways, streamed responses, and a failing view.
"""

from esgtest import chunked, exchange, http_request

WSGI = ("--interface", "wsgi")

# ------------------------------------------------------------------------------------------------- Flask


def test_flask_hello_and_404(serve):
    server = serve("wsgi_flask:app", *WSGI)
    with server.client() as client:
        resp = client.get("/")
        assert (resp.status_code, resp.text) == (200, "Hello, Flask!")
        assert resp.headers["content-type"].startswith("text/html")
        assert resp.headers["content-length"] == "13"
        assert client.get("/missing").status_code == 404


def test_flask_request_info(serve):
    server = serve("wsgi_flask:app", *WSGI)
    info = server.get("/info?x=1&y=caf%C3%A9").json()
    assert info["path"] == "/info"
    assert info["script_root"] == ""
    assert info["url"] in (f"http://127.0.0.1:{server.port}/info?x=1&y=caf%C3%A9",
                           f"http://127.0.0.1:{server.port}/info?x=1&y=café")  # werkzeug gives an IRI
    assert info["args"] == {"x": "1", "y": "café"}
    assert info["remote_addr"] == "127.0.0.1"
    assert info["scheme"] == "http"


def test_flask_root_path(esg_server):
    server = esg_server([*WSGI, "--root-path", "/shop"], app="wsgi_flask:app")
    info = server.get("/info").json()
    assert info["script_root"] == "/shop"
    assert info["path"] == "/info"
    assert info["url"] == f"http://127.0.0.1:{server.port}/shop/info"


def test_flask_post_body(serve):
    server = serve("wsgi_flask:app", *WSGI)
    resp = server.request("POST", "/echo", content=b"stressed")
    assert (resp.status_code, resp.text, resp.headers["x-length"]) == (200, "desserts", "8")
    big = server.request("POST", "/echo", content=b"ab" * 200_000)
    assert big.headers["x-length"] == "400000" and big.content == b"ba" * 200_000


def test_flask_chunked_post(esg_server):
    server = esg_server(WSGI, app="wsgi_flask:app")
    resp = exchange(server, http_request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")])
                    + chunked(b"abc", b"def"))
    assert (resp.status, resp.body) == (200, b"fedcba")


def test_flask_form_and_upload(esg_server):
    server = esg_server(WSGI, app="wsgi_flask:app")
    resp = server.request("POST", "/form", data={"name": "ada"}, files={"doc": ("a.txt", b"file text")})
    assert resp.json() == {"form": {"name": "ada"}, "files": {"doc": "file text"}}


def test_flask_cookies(esg_server):
    server = esg_server(WSGI, app="wsgi_flask:app")
    resp = exchange(server, http_request("GET", "/cookies", headers=[("Cookie", "a=1"), ("Cookie", "b=2")]))
    assert resp.json() == {"a": "1", "b": "2"}
    assert "flavour=oat" in resp.header("set-cookie")


def test_flask_streaming(serve):
    server = serve("wsgi_flask:app", *WSGI)
    resp = exchange(server, http_request("GET", "/stream"))
    assert resp.status == 200 and resp.chunked and resp.complete
    assert resp.body == b"".join(f"line {i}\n".encode() for i in range(5))


def test_flask_error_handler_and_server_keeps_serving(esg_server):
    server = esg_server(WSGI, app="wsgi_flask:app")
    resp = server.get("/boom")
    assert resp.status_code == 500 and resp.json() == {"error": "the view failed"}
    assert server.get("/").status_code == 200


# ------------------------------------------------------------------------------------------------ Django


def test_django_hello(serve):
    server = serve("wsgi_django:application", *WSGI)
    resp = server.get("/")
    assert (resp.status_code, resp.text) == (200, "Hello, Django!")
    assert server.get("/nope").status_code == 404


def test_django_request_info(serve):
    server = serve("wsgi_django:application", *WSGI)
    info = server.get("/info?q=caf%C3%A9", headers={"User-Agent": "esg-test"}).json()
    assert info["path"] == "/info" and info["path_info"] == "/info"
    assert info["script_name"] == ""
    assert info["full_path"] == "/info?q=caf%C3%A9"
    assert info["query"] == {"q": "café"}
    assert info["remote_addr"] == "127.0.0.1"
    assert info["host"] == f"127.0.0.1:{server.port}"
    assert info["absolute"] == f"http://127.0.0.1:{server.port}/info?q=caf%C3%A9"
    assert info["user_agent"] == "esg-test"


def test_django_root_path(esg_server):
    server = esg_server([*WSGI, "--root-path", "/site"], app="wsgi_django:application")
    info = server.get("/info").json()
    assert info["script_name"] == "/site"
    assert info["path"] == "/site/info" and info["path_info"] == "/info"
    assert info["absolute"] == f"http://127.0.0.1:{server.port}/site/info"


def test_django_non_ascii_path(esg_server):
    server = esg_server(WSGI, app="wsgi_django:application")
    resp = server.get("/caf%C3%A9")
    assert resp.status_code == 404  # routed (and decoded) without a server error


def test_django_post_echo(serve):
    server = serve("wsgi_django:application", *WSGI)
    resp = server.request("POST", "/echo", content=b"stressed")
    assert (resp.status_code, resp.text, resp.headers["x-length"]) == (200, "desserts", "8")
    big = server.request("POST", "/echo", content=bytes(range(256)) * 1000)
    assert big.content == (bytes(range(256)) * 1000)[::-1]


def test_django_cookies(esg_server):
    server = esg_server(WSGI, app="wsgi_django:application")
    resp = exchange(server, http_request("GET", "/cookies", headers=[("Cookie", "a=1; b=2")]))
    assert resp.json() == {"a": "1", "b": "2"}
    assert "flavour=oat" in resp.header("set-cookie")


def test_django_streaming(serve):
    server = serve("wsgi_django:application", *WSGI)
    resp = exchange(server, http_request("GET", "/stream"))
    assert resp.status == 200 and resp.complete
    assert resp.body == b"".join(f"line {i}\n".encode() for i in range(5))


def test_django_view_error_is_500(esg_server):
    server = esg_server(WSGI, app="wsgi_django:application")
    assert server.get("/boom").status_code == 500
    assert server.get("/").status_code == 200
