"""esg.wsgi's wsgi.input for a request without a body: one shared object that every read leaves empty."""

from esg import wsgi


def test_the_shared_empty_input_reads_nothing_every_way_and_stays_empty():
    body = wsgi._NO_BODY
    for _ in range(2):  # shared between requests: nothing a read does may change it
        assert body.read() == b""
        assert body.read(10) == b""
        assert body.read(None) == b""
        assert body.readline() == b""
        assert body.readline(5) == b""
        assert body.readlines() == []
        assert list(body) == []
    assert bytes(body._buffer) == b"" and body._more is False


def test_an_input_with_a_first_message_holds_its_body():
    body = wsgi._Input(None, None, {"type": "http.request", "body": b"a\nbc", "more_body": False})
    assert body.readline() == b"a\n"
    assert body.read() == b"bc"
    assert body.read() == b""
