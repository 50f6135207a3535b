"""asyncio semantics that frameworks rely on, under ESG's eager start (the default) on both loops: anyio
cancel scopes and timeouts, asyncio.timeout, task groups, per-request contextvars, the threadpool; and a
Django ASGI app (sync and async views)."""


def test_anyio_move_on_after_cancels(serve):
    server = serve("fw_cancel_app:app")
    assert server.get("/anyio-timeout").json() == {"cancelled": True}


def test_asyncio_timeout(serve):
    server = serve("fw_cancel_app:app")
    assert server.get("/asyncio-timeout").json() == {"timed_out": True}


def test_cancel_scope_without_suspension_sees_a_current_task(serve):
    server = serve("fw_cancel_app:app")
    assert server.get("/fail-after-fast").json() == {"value": 1, "task": True}


def test_task_group(serve):
    server = serve("fw_cancel_app:app")
    assert server.get("/task-group").json() == {"results": [0, 1, 2]}


def test_contextvars_do_not_leak_between_requests(serve):
    server = serve("fw_cancel_app:app")
    with server.client() as client:
        for _ in range(5):
            assert client.get("/contextvar?value=mine").json() == {"seen": "mine"}
            assert client.get("/var-set?value=leaked").json() == {"set": "leaked"}
            # A value one request set must not be visible to the next (each runs in its own context copy).
            assert client.get("/var-read").json() == {"seen": "unset"}


def test_sync_endpoint_in_threadpool_many_times(serve):
    server = serve("fw_cancel_app:app")
    with server.client() as client:
        for _ in range(20):
            assert client.get("/threadpool").json() == {"thread": True}


def test_django_asgi_sync_and_async_views(serve):
    server = serve("fw_django:app")
    assert server.get("/sync").text == "django sync GET /sync"
    assert server.get("/async?q=z").json() == {"async": True, "query": "z"}
