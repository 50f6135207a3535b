"""esg.workers: how gunicorn's HTTP/2 settings (gunicorn 25+) become ESG's http2 settings. The TLS case is
served end to end in tests/integration/test_gunicorn.py; the cleartext cases are decided here."""

import pytest
from gunicorn.config import Config

from esg.workers import _http2_options


def gunicorn_config(*settings, certfile=None):
    cfg = Config()
    for name, value in settings:
        cfg.set(name, value)
    if certfile:
        cfg.set("certfile", certfile)
        cfg.set("keyfile", certfile)
    return cfg


def test_defaults_leave_http2_off():
    assert _http2_options(gunicorn_config()) == {"http2_max_concurrent_streams": 100}


def test_h2_with_tls_turns_http2_on():
    options = _http2_options(gunicorn_config(("http_protocols", "h1,h2"), ("http2_max_concurrent_streams", "7"),
                                             certfile="cert.pem"))
    assert options == {"http2": True, "http2_max_concurrent_streams": 7}


@pytest.mark.parametrize("cleartext, http2", [("off", False), ("upgrade", False), ("prior-knowledge", True),
                                              ("both", True)])
def test_h2_without_tls_follows_http2_cleartext(cleartext, http2):
    options = _http2_options(gunicorn_config(("http_protocols", "h2,h1"), ("http2_cleartext", cleartext)))
    assert options["http2"] is http2


def test_http2_cleartext_without_h2_in_the_protocols_is_nothing():
    assert "http2" not in _http2_options(gunicorn_config(("http2_cleartext", "prior-knowledge")))
