"""`example:app` of the deployment files (deploy/circus, deploy/kubernetes): the tests copy it into a release
directory as example.py, as a user's app would be.

  GET  /healthz  "ok" (the Kubernetes probes' path)
  GET  /         "<pid> <version>": which process answered, and which release ($APP_VERSION, or the VERSION
                 file in the working directory, or "1")
  POST /echo     the request body, with X-Pid and X-Version headers
"""

import os

try:
    with open("VERSION") as f:
        _version = f.read().strip()
except OSError:
    _version = "1"
VERSION = os.environ.get("APP_VERSION", _version)


async def app(scope, receive, send):
    if scope["type"] != "http":  # no lifespan: a self-contained file, as a user's first app would be
        return
    headers = [(b"content-type", b"text/plain"), (b"x-pid", str(os.getpid()).encode()),
               (b"x-version", VERSION.encode())]
    if scope["path"] == "/healthz":
        body = b"ok"
    elif scope["method"] == "POST":
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers[0] = (b"content-type", b"application/octet-stream")
    else:
        body = f"{os.getpid()} {VERSION}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": headers + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
