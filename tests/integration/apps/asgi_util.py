"""Helpers shared by the tiny test apps (importable because the apps directory is --app-dir)."""

import json
import os
import urllib.parse


async def lifespan(receive, send):
    """A well-behaved lifespan handler: acknowledge startup and shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive):
    """Read the whole request body; returns (body, list of received messages without their body)."""
    body = b""
    messages = []
    while True:
        message = await receive()
        messages.append({k: v for k, v in message.items() if k != "body"} | {"len": len(message.get("body", b""))})
        if message["type"] != "http.request":
            return body, messages
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body, messages


async def respond(send, status=200, body=b"", headers=(), content_type=b"text/plain"):
    hdrs = [(b"content-type", content_type)] if content_type else []
    hdrs += list(headers)
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def respond_json(send, obj, status=200):
    await respond(send, status, json.dumps(obj).encode(), content_type=b"application/json")


def query(scope):
    return dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode("latin-1")))


def marker(name, text=""):
    """Write $ESG_TEST_MARKERS/<name> atomically (the test polls for it)."""
    directory = os.environ.get("ESG_TEST_MARKERS")
    if not directory:
        return
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(directory, name))


def encode_tagged(obj):
    """JSON-able form that keeps bytes and tuples distinguishable (decoded by esgtest.decode_tagged)."""
    if isinstance(obj, bytes):
        return {"__bytes__": obj.decode("latin-1")}
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_tagged(x) for x in obj]}
    if isinstance(obj, list):
        return [encode_tagged(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): encode_tagged(v) for k, v in obj.items()}
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return {"__repr__": repr(obj), "__type__": type(obj).__name__}
