"""Records every request it sees in $ESG_TEST_MARKERS/requests.log (one JSON line when the app is called,
stage "start", and one when the body has been read, stage "end", with the type of the last message received
and the body length), then answers 200 "seen <path>". The strict-HTTP and limits tests use it to prove that a
malformed request, or bytes smuggled after one, never reach the app."""

import json
import os

from asgi_util import lifespan, read_body, respond


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
    entry = {"method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode("latin-1"),
             "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]]}
    record(dict(entry, stage="start"))
    body, messages = await read_body(receive)
    record(dict(entry, stage="end", last=messages[-1]["type"], body_len=len(body)))
    await respond(send, 200, b"seen " + scope["path"].encode())
