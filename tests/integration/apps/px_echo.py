"""Proxy-headers app: answers (HTTP) or sends as the first text message after accepting (WebSocket) a JSON
object with the scope's client, server, scheme, root_path, path and headers."""

import json

from asgi_util import lifespan, read_body


def describe(scope):
    return json.dumps({
        "type": scope["type"],
        "client": list(scope["client"]) if scope.get("client") else None,
        "server": list(scope["server"]) if scope.get("server") else None,
        "scheme": scope.get("scheme"),
        "root_path": scope.get("root_path"),
        "path": scope.get("path"),
        "raw_path": scope["raw_path"].decode("latin-1") if scope.get("raw_path") is not None else None,
        "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]],
    })


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] == "websocket":
        message = await receive()
        assert message["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": describe(scope)})
        await send({"type": "websocket.close", "code": 1000})
        return
    await read_body(receive)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": describe(scope).encode()})
