"""esg.wsgi's start_response: the app's (name, value) headers converted for the engine, through the
header cache and its C loop (_esg.wsgi_response_headers), with the errors an app must see."""

import re

import pytest

from esg import wsgi


def call():
    return wsgi._Call(app=None, environ={"wsgi.errors": wsgi._Errors()}, loop=None, send=None)


def test_headers_are_lowercased_latin1_bytes_and_content_length_is_read():
    for _ in range(3):  # converted, then from the cache: the same result
        c = call()
        write = c.start_response("201 Created", [("Content-Type", "text/plain"), ("X-Caf\xe9", "\xff"),
                                                 ("Content-Length", "13")])
        assert write == c.write
        assert c.status == 201
        assert c.headers == [(b"content-type", b"text/plain"), (b"x-caf\xe9", b"\xff"), (b"content-length", b"13")]
        assert c.content_length == 13


def test_any_iterable_of_pairs_and_str_subclasses_are_taken():
    class Name(str):
        pass

    c = call()
    c.start_response("200 OK", (pair for pair in [(Name("X-A"), "1"), ("Content-Length", " 7 ")]))
    assert c.headers == [(b"x-a", b"1"), (b"content-length", b" 7 ")]
    assert c.content_length == 7
    c = call()
    c.start_response("200 OK", [("Content-Length", "abc")])
    assert c.content_length is None


@pytest.mark.parametrize("headers, message", [
    ([["X-A", "1"]], "must be (name, value) tuples"),
    ([("X-A", "1", "2")], "must be (name, value) tuples"),
    ([("X-A", 1)], "must be str"),
    ([("X-A", ["unhashable"])], "must be str"),
    ([(b"X-A", b"1")], "must be str"),
    (["X-A"], "must be (name, value) tuples"),
])
def test_bad_headers_raise_every_time(headers, message):
    for _ in range(2):  # nothing bad is cached
        with pytest.raises(TypeError, match=re.escape(message)):
            call().start_response("200 OK", headers)


def test_a_non_latin1_header_raises():
    with pytest.raises(UnicodeEncodeError):
        call().start_response("200 OK", [("X-A", "\u20ac")])


def test_the_cache_is_bounded_and_conversion_goes_on_past_it():
    for i in range(wsgi._RESPONSE_HEADERS_MAX + 10):
        c = call()
        c.start_response("200 OK", [("X-Unique", str(i))])
        assert c.headers == [(b"x-unique", str(i).encode())]
    assert len(wsgi._RESPONSE_HEADERS) <= wsgi._RESPONSE_HEADERS_MAX
