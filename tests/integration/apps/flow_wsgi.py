"""Flow control through the WSGI adapter: /big?id=I&size=N answers N pattern bytes in one list item
(one http.response.body), header x-id: I; /small answers "ok"; /pid the worker's pid."""

import os
import urllib.parse

BLOCK = bytes(range(256))


def app(environ, start_response):
    q = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
    path = environ["PATH_INFO"]
    if path == "/big":
        size = int(q.get("size", "0"))
        body = (BLOCK * (size // 256 + 1))[:size]
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size)),
                                  ("x-id", q.get("id", ""))])
        return [body]
    body = str(os.getpid()).encode() if path == "/pid" else b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
