"""A leaking app for the recycling tests: /grow?mib=N keeps N MiB more (touched, so resident) for the life of
the process; every answer is JSON {"pid": ..., "rss_mib": ...}."""

import json
import os

from asgi_util import lifespan, query, respond

_kept = []


def rss_mib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // (1 << 20)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["path"] == "/grow":
        _kept.append(b"\x01" * (int(query(scope).get("mib", "1")) << 20))
    body = json.dumps({"pid": os.getpid(), "rss_mib": rss_mib()}).encode()
    await respond(send, 200, body, content_type=b"application/json")
