"""Answers with the whole http scope as JSON (bytes and tuples tagged, see asgi_util.encode_tagged)."""

import json

from asgi_util import encode_tagged, lifespan, read_body


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        scope["state"]["from_lifespan"] = "yes"
        return await lifespan(receive, send)
    await read_body(receive)
    out = {k: v for k, v in scope.items() if k not in ("state", "extensions")}
    out["__state_type__"] = type(scope.get("state")).__name__ if "state" in scope else None
    out["__state__"] = dict(scope["state"]) if isinstance(scope.get("state"), dict) else None
    out["__headers_type__"] = type(scope.get("headers")).__name__
    body = json.dumps(encode_tagged(out)).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
