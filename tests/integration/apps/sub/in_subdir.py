"""An app only importable when --app-dir points at apps/sub (tests --app-dir)."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"from subdir"})
