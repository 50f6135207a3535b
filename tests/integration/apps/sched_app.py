"""Answers with the Linux scheduling policy of the thread running the app ("SCHED_BATCH", "SCHED_OTHER", ...):
`app` (ASGI, the event-loop thread) and `wsgi_app` (a WSGI pool thread). Used by test_cpu_scheduling.py."""

import os

from asgi_util import lifespan, respond

_NAMES = {getattr(os, n): n for n in ("SCHED_OTHER", "SCHED_BATCH", "SCHED_IDLE", "SCHED_FIFO", "SCHED_RR")}


def policy() -> bytes:
    return _NAMES.get(os.sched_getscheduler(0), "unknown").encode()


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    await respond(send, 200, policy())


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [policy()]
