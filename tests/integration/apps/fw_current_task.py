"""Apps that use asyncio.current_task() and receive() the way frameworks do before and across their first
suspension, under ESG's eager start (the first step runs with a stand-in Task as the current task).

- `app` (plain ASGI): /task answers what the current task says of itself before any await (repr, done,
  get_loop, get_coro) and whether a done callback added then, and a cancel() of itself, still apply once the
  request has suspended; /receive-again cancels a pending receive() (asyncio.wait_for) and receives again;
  /watch?ID starts a task awaiting the request's own task (the request ends without suspending) and
  /watched?ID tells whether that await returned; /body-after-cancel cancels a receive() before the body
  came and then reads the body; a WebSocket does the same with a message.
- `starlette_app`: request.is_disconnected() twice (anyio cancel scopes around a receive())."""

import asyncio

from asgi_util import marker, read_body, respond_json

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def _task_view(receive, send):
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    seen = {"repr": repr(task).startswith("<Task pending"), "done": task.done(), "loop": task.get_loop() is loop,
            "coro": task.get_coro() is not None}
    called = []
    task.add_done_callback(lambda t: called.append(t))
    await asyncio.sleep(0)  # the request suspends: from here on the task is a scheduled Task
    seen["same_task"] = asyncio.current_task() is task
    seen["callback_kept"] = len(task._callbacks or []) == 1
    await respond_json(send, seen)


async def _self_cancel_view(receive, send):
    task = asyncio.current_task()
    task.cancel()  # before the first suspension: the CancelledError comes at the first await
    try:
        await asyncio.sleep(0.5)
        outcome = "not cancelled"
    except asyncio.CancelledError:
        task.uncancel()
        outcome = "cancelled"
    await respond_json(send, {"outcome": outcome})


async def _receive_again_view(receive, send):
    await receive()  # the (empty) body
    try:
        await asyncio.wait_for(receive(), 0.05)  # waits for the disconnect: cancelled on the timeout
        first = "message"
    except asyncio.TimeoutError:
        first = "timeout"
    pending = asyncio.ensure_future(receive())  # a new receive() is accepted and waits
    await asyncio.sleep(0)
    second = "pending" if not pending.done() else "done"
    pending.cancel()
    await respond_json(send, {"first": first, "second": second})


_watched = {}


async def _watch(task, ident):
    await task  # the request's task: done when the request is over, even one that never suspended
    _watched[ident] = task.done()


async def _watch_view(receive, send, ident):
    asyncio.get_running_loop().create_task(_watch(asyncio.current_task(), ident))
    await respond_json(send, {"watching": ident})  # no suspension: the request ends in its first step


async def _watched_view(receive, send, ident):
    for _ in range(500):  # bounded: 5 s
        if ident in _watched:
            break
        await asyncio.sleep(0.01)
    await respond_json(send, {"done": _watched.get(ident)})


async def _body_after_cancel_view(receive, send):
    # The client sends the head only; a receive() is cancelled while the body has not come; then the body.
    try:
        await asyncio.wait_for(receive(), 0.05)
        first = "message"
    except asyncio.TimeoutError:
        first = "timeout"
    marker("body-after-cancel", first)
    await asyncio.sleep(0.5)  # no receive() waiting while the body arrives (the test sends it on the marker)
    body, _ = await read_body(receive)
    await respond_json(send, {"first": first, "body": body.decode()})


async def _ws_after_cancel(receive, send):
    # A receive() cancelled while no message had come; the message sent afterwards must reach the next one.
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    try:
        await asyncio.wait_for(receive(), 0.05)
        first = "message"
    except asyncio.TimeoutError:
        first = "timeout"
    await send({"type": "websocket.send", "text": first})
    message = await receive()
    await send({"type": "websocket.send", "text": f"echo {message.get('text')}"})
    await send({"type": "websocket.close", "code": 1000})


async def app(scope, receive, send):
    if scope["type"] == "websocket":
        return await _ws_after_cancel(receive, send)
    if scope["type"] != "http":
        return
    if scope["path"] == "/body-after-cancel":
        return await _body_after_cancel_view(receive, send)
    if scope["path"] in ("/watch", "/watched"):
        view = _watch_view if scope["path"] == "/watch" else _watched_view
        return await view(receive, send, scope["query_string"].decode())
    views = {"/task": _task_view, "/self-cancel": _self_cancel_view, "/receive-again": _receive_again_view}
    await views[scope["path"]](receive, send)


async def disconnected(request):
    await request.body()
    first = await request.is_disconnected()  # before the first suspension: anyio formats the current task
    second = await request.is_disconnected()
    return JSONResponse({"first": first, "second": second})


starlette_app = Starlette(routes=[Route("/disconnected", disconnected)])

