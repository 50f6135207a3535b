"""APP given as a dotted attribute path: hello_nested:holder.inner.app."""

import types


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"nested"})


holder = types.SimpleNamespace(inner=types.SimpleNamespace(app=_app))
