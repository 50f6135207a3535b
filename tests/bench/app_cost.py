"""The framework + app's own instructions per request, measured in-process without any server.

    python app_cost.py WORKLOAD N        # one check request, then N requests; run under callgrind
    python app_cost.py --calib KIND N    # KIND: asgi-null, asgi-send8, asgi-null-r, asgi-recv8, wsgi-null, wsgi-sr8

run.py's `--callgrind` runs this file under callgrind twice (N and 2N requests, as it does a server) and
subtracts, exactly like callgrind.py: (I(2N) - I(N)) / N. The driver imports the workload's app (the same
module:attribute the servers load), builds once the scope a server gives for the bench client's request
(every ASGI key; the one header the client sends, `host: 127.0.0.1`) or the WSGI environ (the PEP 3333
keys), and then per request only: copies it, calls the app, and gives it the cheapest possible
receive/send (ASGI: plain functions returning an already-done asyncio future, so `await send(m)` never
suspends) or start_response (WSGI: a plain function; the body iterated and `close()` called as PEP 3333
asks).

ASGI apps run inside one asyncio task on a uvloop loop (the loop ESG, uvicorn and Granian use here),
awaited directly: an app that does not suspend costs no loop iteration, one that suspends (Django's
tasks, SSE's `asyncio.sleep(0)`) costs what uvloop charges for it, and that is counted as the app's.
The first receive() answers the request (`http.request`, the body, no more_body); a later one returns a
future answered `http.disconnect` once the response is complete (its final body message sent), as ESG
and uvicorn do (Django's disconnect listener waits on it).

What the driver itself adds is measured by the calibration apps and subtracted by split.py:
asgi-null / wsgi-null (an app that returns at once: the per-request copy, call and loop overhead),
asgi-send8 / asgi-recv8 / wsgi-sr8 (8 calls of send / receive / start_response: the driver's cost of
one call; asgi-recv8 is taken against asgi-null-r, the null app with the same always-ready receive). The check request counts the app's calls (--counts prints them), so
framework+app = D(app) - D(null) - calls x cost per call.
"""
from __future__ import annotations

import asyncio
import io
import json
import os
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)

import workloads as W  # noqa: E402

# The app each mode serves (servers.MODES' "app" option; tcp and wsgi modes serve app.py / app_wsgi.py).
ASGI_APPS = {"tcp": "app:app", "fastapi": "frameworks.bench_fastapi:app",
             "starlette": "frameworks.bench_starlette:app", "django-asgi": "frameworks.bench_django:asgi_app",
             "sse": "frameworks.bench_sse:app"}
WSGI_APPS = {"wsgi": "app_wsgi:app", "django-wsgi": "frameworks.bench_django:wsgi_app",
             "flask": "frameworks.bench_flask:app"}
SERVER = ("127.0.0.1", 8000)
CLIENT = ("127.0.0.1", 40000)


def interface(workload: str) -> str:
    mode = W.WORKLOADS[workload].mode
    if mode in ASGI_APPS:
        return "asgi"
    if mode in WSGI_APPS:
        return "wsgi"
    raise ValueError(f"{workload}: no in-process driver for mode {mode!r}")


def load(spec: str):
    mod, _, attr = spec.partition(":")
    __import__(mod)
    return getattr(sys.modules[mod], attr)


def asgi_scope(w) -> dict:
    path, _, query = w.path.partition("?")
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "server": SERVER, "client": CLIENT, "scheme": "http", "method": w.method, "root_path": "",
            "path": path, "raw_path": path.encode(), "query_string": query.encode(),
            "headers": [(b"host", b"127.0.0.1")], "state": {}}


def wsgi_environ(w) -> dict:
    path, _, query = w.path.partition("?")
    return {"REQUEST_METHOD": w.method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": SERVER[0], "SERVER_PORT": str(SERVER[1]), "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": CLIENT[0], "REMOTE_PORT": str(CLIENT[1]), "HTTP_HOST": "127.0.0.1",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": None, "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "wsgi.input_terminated": True}


# ------------------------------------------------------------------ calibration apps

_M = {"type": "http.response.body", "body": b"", "more_body": True}


async def asgi_null(scope, receive, send):
    return None


async def asgi_send8(scope, receive, send):
    await send(_M)
    await send(_M)
    await send(_M)
    await send(_M)
    await send(_M)
    await send(_M)
    await send(_M)
    await send(_M)


async def asgi_recv8(scope, receive, send):
    # every call answers the request message here (the driver's first-call path, see _calib_receive)
    await receive()
    await receive()
    await receive()
    await receive()
    await receive()
    await receive()
    await receive()
    await receive()


_EMPTY = [b""]
_H = [("Content-Type", "text/plain")]


def wsgi_null(environ, start_response):
    return _EMPTY


def wsgi_sr8(environ, start_response):
    start_response("200 OK", _H)
    start_response("200 OK", _H)
    start_response("200 OK", _H)
    start_response("200 OK", _H)
    start_response("200 OK", _H)
    start_response("200 OK", _H)
    start_response("200 OK", _H)
    start_response("200 OK", _H)
    return _EMPTY


CALIB = {"asgi-null": ("asgi", asgi_null), "asgi-send8": ("asgi", asgi_send8),
         "asgi-null-r": ("asgi", asgi_null), "asgi-recv8": ("asgi", asgi_recv8),
         "wsgi-null": ("wsgi", wsgi_null), "wsgi-sr8": ("wsgi", wsgi_sr8)}


# ------------------------------------------------------------------ the drivers

def run_asgi(app, w, n, check, always_request=False):
    """One check request (when `check`, returning (status, headers, body, counts)), then n requests."""
    import uvloop
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    template = asgi_scope(w)
    headers = template["headers"]
    result = {}

    async def main():
        done = loop.create_future()
        done.set_result(None)
        req = loop.create_future()
        req.set_result({"type": "http.request", "body": w.body, "more_body": False})
        create_future = loop.create_future
        waiting = []  # receive() futures of the current request, answered when its response is complete
        disconnect = {"type": "http.disconnect"}

        def send(message):
            if waiting and message["type"] == "http.response.body" and not message.get("more_body"):
                for f in waiting:
                    if not f.done():
                        f.set_result(disconnect)
                waiting.clear()
            return done

        def make_receive():
            first = [True]

            def receive():
                if first:
                    first.clear()
                    return req
                f = create_future()
                waiting.append(f)
                return f
            return receive

        def calib_receive():
            return req

        if check:
            counts = {"send": 0, "receive": 0}
            msgs = []
            rcv = make_receive()

            def csend(message):
                counts["send"] += 1
                msgs.append(message)
                return send(message)

            def creceive():
                counts["receive"] += 1
                return rcv()
            await app(dict(template, headers=list(headers), state={}), creceive, csend)
            st, hd, body = 0, [], b""
            for m in msgs:
                if m["type"] == "http.response.start":
                    st, hd = m["status"], [(bytes(k).lower(), bytes(v)) for k, v in m.get("headers", ())]
                elif m["type"] == "http.response.body":
                    body += m.get("body", b"")
            result["check"] = (st, hd, body, counts)
        for _ in range(n):
            await app(dict(template, headers=list(headers), state={}),
                      calib_receive if always_request else make_receive(), send)

    loop.run_until_complete(main())
    return result.get("check")


def run_wsgi(app, w, n, check):
    template = wsgi_environ(w)
    BytesIO = io.BytesIO

    def write(data):
        pass

    def start_response(status, headers, exc_info=None):
        return write

    out = None
    if check:
        counts = {"start_response": 0}
        got = []

        def csr(status, headers, exc_info=None):
            counts["start_response"] += 1
            got[:] = [status, headers]
            return write
        env = dict(template)
        env["wsgi.input"] = BytesIO(w.body)
        r = app(env, csr)
        body = b"".join(r)
        if hasattr(r, "close"):
            r.close()
        out = (int(got[0].split()[0]), [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in got[1]],
               body, counts)
    for _ in range(n):
        env = dict(template)
        env["wsgi.input"] = BytesIO(w.body)
        r = app(env, start_response)
        for _chunk in r:
            pass
        close = getattr(r, "close", None)
        if close is not None:
            close()
    return out


def check_response(w, status, headers, body):
    """None when the in-process answer is what every server must answer for this workload."""
    ct = dict(headers).get(b"content-type", b"")
    if status != 200 or not w.body_matches(body) or ct.split(b";")[0] != w.content_type.split(b";")[0]:
        return f"status {status}, content-type {ct!r}, body {body[:80]!r}"
    return None


def main(argv):
    if len(argv) == 3 and argv[0] == "--calib":
        kind, app = CALIB[argv[1]]
        w = W.WORKLOADS["hello"]
        n = int(argv[2])
        if kind == "asgi":
            run_asgi(app, w, n, check=False, always_request=argv[1] in ("asgi-null-r", "asgi-recv8"))
        else:
            run_wsgi(app, w, n, check=False)
        return 0
    counts_only = argv[0] == "--counts"
    if counts_only:
        argv = argv[1:]
    name, n = argv[0], int(argv[1])
    w = W.WORKLOADS[name]
    os.chdir(BENCH_DIR)
    if interface(name) == "asgi":
        st, hd, body, counts = run_asgi(load(ASGI_APPS[w.mode]), w, n, check=True)
    else:
        st, hd, body, counts = run_wsgi(load(WSGI_APPS[w.mode]), w, n, check=True)
    why = check_response(w, st, hd, body)
    if why:
        print(f"{name}: wrong in-process response: {why}", file=sys.stderr)
        return 1
    if counts_only:
        print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
