"""App for the limits tests. Every request is recorded in $ESG_TEST_MARKERS/requests.log (JSON line: path,
query, pid, stage "start" when called and "end" with the last received message type and body length).

  /block?id=N   writes marker blocked-N, then waits without blocking the loop until the test creates the
                marker file release-N, then answers "released N".
  /hang         writes marker hang-<pid>, then awaits an asyncio.Event that is never set; on cancellation
                writes marker cancelled-<pid> and re-raises.
  /pid          answers the worker's pid.
  anything else reads the body and answers "ok <path> <body length>".
"""

import asyncio
import json
import os

from asgi_util import lifespan, marker, query, read_body, respond


def record(entry):
    directory = os.environ.get("ESG_TEST_MARKERS")
    if not directory:
        return
    with open(os.path.join(directory, "requests.log"), "a") as f:
        f.write(json.dumps(entry) + "\n")


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    if scope["type"] != "http":
        return
    entry = {"path": scope["path"], "query": scope["query_string"].decode("latin-1"), "pid": os.getpid()}
    record(dict(entry, stage="start"))
    if scope["path"] == "/hang":
        marker(f"hang-{os.getpid()}")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            marker(f"cancelled-{os.getpid()}")
            raise
    body, messages = await read_body(receive)
    record(dict(entry, stage="end", last=messages[-1]["type"], body_len=len(body)))
    if scope["path"] == "/block":
        ident = query(scope).get("id", "x")
        marker(f"blocked-{ident}")
        release = os.path.join(os.environ["ESG_TEST_MARKERS"], f"release-{ident}")
        while not os.path.exists(release):
            await asyncio.sleep(0.01)
        return await respond(send, 200, f"released {ident}".encode())
    if scope["path"] == "/pid":
        return await respond(send, 200, str(os.getpid()).encode())
    await respond(send, 200, f"ok {scope['path']} {len(body)}".encode())
