"""An ASGI app for the configuration-file tests (--log-config, --env-file, --app-dir).

At import it logs "cfg_app imported" on the `cfg_app` logger and records the environment variables named
CFG_* it sees (so --env-file is proven to be loaded *before* the import). Paths:
  /log?word=W   logs "app says W" (warning) on the `cfg_app` logger and answers "logged"
  /env          JSON {"import": {CFG_* at import}, "now": {CFG_* now}}
  /where        JSON {"file": this module's path, "cwd": the worker's working directory}
"""

import json
import logging
import os
import urllib.parse

log = logging.getLogger("cfg_app")
log.info("cfg_app imported")

AT_IMPORT = {k: v for k, v in os.environ.items() if k.startswith("CFG_")}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/log":
        word = urllib.parse.parse_qs(scope["query_string"].decode()).get("word", ["hello"])[0]
        log.warning("app says %s", word)
        body = b"logged"
    elif path == "/env":
        now = {k: v for k, v in os.environ.items() if k.startswith("CFG_")}
        body = json.dumps({"import": AT_IMPORT, "now": now}).encode()
    elif path == "/where":
        body = json.dumps({"file": os.path.abspath(__file__), "cwd": os.getcwd()}).encode()
    else:
        body = b"cfg"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
