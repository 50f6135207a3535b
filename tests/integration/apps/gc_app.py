"""Answers with what the worker's cyclic garbage collector sees: {"frozen": gc.get_freeze_count(), "startup_frozen":
whether an object the lifespan startup made is frozen}. Used by test_gc_freeze.py."""

import gc
import json

from asgi_util import respond

_made_at_startup = {}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _made_at_startup["pool"] = [object() for _ in range(3)]  # built by the lifespan, like a DB pool
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    made_now = []
    tracked = {id(o) for o in gc.get_objects()}  # the frozen generation is not listed here
    body = {"frozen": gc.get_freeze_count(),
            "startup_frozen": id(_made_at_startup["pool"]) not in tracked,
            "request_frozen": id(made_now) not in tracked}
    await respond(send, 200, json.dumps(body).encode(), content_type=b"application/json")
