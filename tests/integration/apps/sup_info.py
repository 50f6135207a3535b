"""Answers JSON about the serving process: pid, uid/gid, the app's module file, env var ESG_TEST_VALUE.

/slow?delay=S sleeps S seconds first (writes marker started-<id> when ?id= is given); /print writes a line
to stdout and one to stderr (for the output-capture test); /block blocks the event loop for ?delay= s.
"""

import asyncio
import json
import os
import sys
import time

from asgi_util import lifespan, marker, query, respond

VERSION = "v1"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    q = query(scope)
    if scope["path"] == "/slow":
        if "id" in q:
            marker(f"started-{q['id']}")
        await asyncio.sleep(float(q.get("delay", "1")))
    elif scope["path"] == "/print":
        print(f"hello from stdout {os.getpid()}", flush=True)
        print(f"hello from stderr {os.getpid()}", file=sys.stderr, flush=True)
    elif scope["path"] == "/block":
        time.sleep(float(q.get("delay", "1")))
    body = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "version": VERSION,
        "file": __file__,
        "value": os.environ.get("ESG_TEST_VALUE"),
        "virtual_env": os.environ.get("VIRTUAL_ENV"),
        "executable": sys.executable,
    }
    await respond(send, 200, json.dumps(body).encode(), content_type=b"application/json")
