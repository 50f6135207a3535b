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


# -- the C fast path (_esg.wsgi_environ via fast_environ) against the Python reference (_environ)

from esg.wsgi_environ import _environ, fast_environ  # noqa: E402

ENGINE_SHAPED = [
    scope(),
    scope(method="POST", query_string=b"a=1&b=%20", client=None),
    scope(http_version="1.0"),
    scope(http_version="2", scheme="https", server=("::1", 443)),
    scope(raw_path=b"/caf\xc3\xa9/\xff", path="/café/\udcff"),
    scope(headers=[(b"content-type", b"text/plain"), (b"content-length", b"3"), (b"x-a", b"1"), (b"x-a", b"2"),
                   (b"cookie", b"a=1"), (b"cookie", b"b=2"), (b"x-auth_user", b"admin"), (b"host", b"h:1"),
                   (b"expect", b"100-continue"), (b"x-latin", b"\xe9\xff"), (b"X-Upper-Case", b"v")]),
    scope(headers=[(b"x-never-seen-before-%d" % i, b"%d" % i) for i in range(5)]),
    scope(client=("10.1.2.3", 65535), server=("0.0.0.0", 8001)),
]

LEFT_TO_PYTHON = [
    scope(root_path="/app", raw_path=b"/app/x", path="/app/x"),
    scope(raw_path=b"/a%20b", path="/a b"),
    scope(raw_path=None, path="/p"),
    scope(server=("/tmp/esg.sock", None), client=None, headers=[(b"host", b"example.com:8080")]),
    scope(server=["127.0.0.1", 8000]),
    scope(client=["10.0.0.1", 1]),
    scope(http_version="3"),
    scope(headers=[[b"x-a", b"1"]]),
    scope(headers=((b"x-a", b"1"),)),
    scope(raw_path=bytearray(b"/x")),
    {"type": "http", "method": "GET", "path": "/", "headers": []},  # a minimal scope from elsewhere
]


def test_the_c_environ_equals_the_python_one_key_for_key_and_in_order():
    for multiprocess in (False, True):
        for s in ENGINE_SHAPED:
            fast = fast_environ(s, "input", "errors", multiprocess)
            assert fast is not None, f"the engine's shape must take the C path: {s}"
            reference = _environ(s, "input", "errors", multiprocess)
            assert fast == reference, s
            assert list(fast[0]) == list(reference[0]), "same insertion order"
    env, expect = fast_environ(ENGINE_SHAPED[5], None, None, False)
    assert expect is True and env["HTTP_COOKIE"] == "a=1; b=2" and env["HTTP_X_A"] == "1,2"
    assert env["HTTP_X_LATIN"] == "\xe9\xff" and env["HTTP_X_UPPER_CASE"] == "v"


def test_the_c_environ_leaves_other_shapes_to_python():
    for s in LEFT_TO_PYTHON:
        assert fast_environ(s, None, None, False) is None, s
        build_environ(s, None, None, False)  # and the public function still builds them


def test_server_name_and_port_follow_each_scope():
    a, b = scope(server=("127.0.0.1", 8000)), scope(server=("10.0.0.9", 9000))
    for s, names in ((a, ("127.0.0.1", "8000")), (b, ("10.0.0.9", "9000")), (a, ("127.0.0.1", "8000"))):
        env = fast_environ(s, None, None, False)[0]
        assert (env["SERVER_NAME"], env["SERVER_PORT"]) == names


def test_a_bad_header_value_type_is_left_to_python_and_refused_there():
    s = scope(headers=[(b"x-a", "not bytes")])
    assert fast_environ(s, None, None, False) is None
    try:
        build_environ(s, None, None, False)
    except AttributeError:
        pass
    else:
        raise AssertionError("a str header value must not pass")
