"""--gc-freeze/--no-gc-freeze through the `esg` command: by default a worker freezes (gc.freeze()) what exists once
the app is loaded and its lifespan started, so full collections skip it, while what requests create stays
collectable; --no-gc-freeze leaves CPython's collector as it is."""

import pytest


def test_startup_objects_are_frozen_by_default(serve):
    server = serve("gc_app:app")
    body = server.get("/").json()
    assert body["frozen"] > 1000, body  # the interpreter, esg and the app: thousands of objects
    assert body["startup_frozen"] is True, body  # made by the lifespan startup, before the freeze
    assert body["request_frozen"] is False, body  # made by a request: the collector still sees it


@pytest.mark.parametrize("args", [["--no-gc-freeze"], ["--gc-freeze", "--no-gc-freeze"]])
def test_no_gc_freeze_leaves_the_collector_alone(serve, args):
    server = serve("gc_app:app", *args)
    body = server.get("/").json()
    assert body == {"frozen": 0, "startup_frozen": False, "request_frozen": False}, body
