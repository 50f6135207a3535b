"""esg.wsgi.build_environ: the PEP 3333 environ for an ASGI http scope."""

from esg.wsgi import build_environ


def scope(**overrides):
    base = {
        "type": "http", "method": "GET", "http_version": "1.1", "scheme": "http", "path": "/", "raw_path": b"/",
        "root_path": "", "query_string": b"", "headers": [], "client": ("10.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
    }
    base.update(overrides)
    return base


def test_basic_keys():
    env = build_environ(scope(method="POST", query_string=b"a=1&b=%20"), "input", "errors", True)
    assert env["REQUEST_METHOD"] == "POST"
    assert env["QUERY_STRING"] == "a=1&b=%20"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", "8000")
    assert (env["REMOTE_ADDR"], env["REMOTE_PORT"]) == ("10.0.0.1", "5555")
    assert env["wsgi.input"] == "input" and env["wsgi.errors"] == "errors"
    assert env["wsgi.multiprocess"] is True and env["wsgi.multithread"] is True
    assert env["wsgi.input_terminated"] is True


def test_path_info_is_decoded_bytes_as_latin1_with_root_path_moved_to_script_name():
    raw = "/app/caf%C3%A9/x%2Fy".encode()
    env = build_environ(scope(path="/app/café/x/y", raw_path=raw, root_path="/app"), None, None, False)
    assert env["SCRIPT_NAME"] == "/app"
    assert env["PATH_INFO"] == "/café/x/y".encode("utf-8").decode("latin-1")


def test_headers_content_type_length_duplicates_and_underscores():
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"3"), (b"x-a", b"1"), (b"x-a", b"2"),
               (b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"x-auth_user", b"admin")]
    env = build_environ(scope(headers=headers), None, None, False)
    assert env["CONTENT_TYPE"] == "text/plain" and env["CONTENT_LENGTH"] == "3"
    assert env["HTTP_X_A"] == "1,2"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert "HTTP_X_AUTH_USER" not in env, "a header name with '_' could pose as one with '-'"


def test_unix_socket_takes_server_name_and_port_from_host():
    unix = scope(server=("/tmp/esg.sock", None), client=None)
    env = build_environ({**unix, "headers": [(b"host", b"example.com:8080")]}, None, None, False)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("example.com", "8080")
    assert "REMOTE_ADDR" not in env
    env = build_environ({**unix, "scheme": "https", "headers": [(b"host", b"[::1]")]}, None, None, False)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("[::1]", "443")
    env = build_environ(unix, None, None, False)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("localhost", "80")
