"""The one WSGI app every server under test serves in the `wsgi` mode (tests/bench).

Routes:
  GET /        wsgi-hello:  200, text/plain, b"Hello, world!" (content-length), a one-item list
  GET /sleep   wsgi-sleep:  time.sleep(0.01) (a blocking call: the server must keep serving the other
               connections meanwhile), then the hello response
Anything else gets the hello response too.
"""
import time

HELLO = b"Hello, world!"
_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "13")]


def app(environ, start_response):
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(0.01)
    start_response("200 OK", _HEADERS)
    return [HELLO]
