"""WebSocket behaviour app.

/echo        accept (first offered subprotocol), echo text and bytes; "close:<code>" closes with that code,
             "close-long-reason" closes with a 200-byte reason
/reject      close before accept (→ HTTP 403)
/raise       raise before accept (→ HTTP 500)
/raise-after accept, then raise (→ close 1011)
/scope       accept and send the scope (type, scheme, path, query, subprotocols, headers) as JSON text
/disconnect  accept, wait for the disconnect and write its code to $ESG_TEST_MARKERS/ws-disconnect
/headers     accept with an extra response header
/two-senders accept, two tasks each send 8 binary messages of 1 MiB at once, then the text "done"
"""

import asyncio
import json
import os

from asgi_util import lifespan


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"plain http"})
        return
    message = await receive()
    assert message["type"] == "websocket.connect", message
    path = scope["path"]
    if path == "/reject":
        await send({"type": "websocket.close", "code": 1000})
        return
    if path == "/raise":
        raise RuntimeError("refusing this websocket")
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    accept = {"type": "websocket.accept", "subprotocol": subprotocol}
    if path == "/headers":
        accept["headers"] = [(b"x-ws", b"yes")]
    await send(accept)
    if path == "/two-senders":
        async def sender(tag):
            for _ in range(8):
                await send({"type": "websocket.send", "bytes": tag * (1024 * 1024)})

        await asyncio.gather(sender(b"a"), sender(b"b"))  # both wait for room on the same connection
        await send({"type": "websocket.send", "text": "done"})
    if path == "/raise-after":
        raise RuntimeError("failing after accept")
    if path == "/scope":
        info = {
            "type": scope["type"], "scheme": scope["scheme"], "path": scope["path"],
            "query_string": scope["query_string"].decode(), "subprotocols": scope["subprotocols"],
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "http_version": scope["http_version"],
        }
        await send({"type": "websocket.send", "text": json.dumps(info)})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            if path == "/disconnect":
                with open(os.path.join(os.environ["ESG_TEST_MARKERS"], "ws-disconnect"), "w") as f:
                    f.write(f"{message['code']}")
            return
        text = message.get("text")
        if text == "close-long-reason":  # 200 bytes of two-byte characters: more than a close frame holds
            await send({"type": "websocket.close", "code": 4000, "reason": "é" * 100})
            continue
        if text is not None and text.startswith("close:"):
            await send({"type": "websocket.close", "code": int(text[6:]), "reason": "asked"})
            continue
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
