"""asyncio semantics that frameworks rely on, under ESG's eager start (the default) on both loops: anyio
cancel scopes and timeouts, asyncio.timeout, task groups, per-request contextvars, the threadpool; the current
task as the app sees it before its first suspension (repr, done callbacks, cancel of itself), Starlette's
request.is_disconnected(); and Django ASGI apps (sync and async views; CommonMiddleware under concurrent
requests, with asgiref's thread hops)."""

from concurrent.futures import ThreadPoolExecutor


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


def test_current_task_before_the_first_suspension_answers_like_a_task(serve):
    # The first step runs with a stand-in for the request's Task as the current task: what the app asks of
    # it then (repr, done, get_loop, get_coro) must answer, and a done callback added then must survive
    # the suspension that turns the stand-in into the scheduled Task.
    server = serve("fw_current_task:app")
    assert server.get("/task").json() == {"repr": True, "done": False, "loop": True, "coro": True,
                                         "same_task": True, "callback_kept": True}


def test_task_cancelled_by_itself_before_the_first_suspension(serve):
    # task.cancel() in the first step: the CancelledError is raised at the first await, as in a Task.
    server = serve("fw_current_task:app")
    assert server.get("/self-cancel").json() == {"outcome": "cancelled"}


def test_task_awaiting_a_request_that_never_suspended_wakes(serve):
    # A task awaiting the request's own task: that task is done when the request is over, also when the
    # request ended in its first step (its stand-in never became a scheduled Task).
    server = serve("fw_current_task:app")
    with server.client() as client:
        assert client.get("/watch?w1").json() == {"watching": "w1"}
        assert client.get("/watched?w1").json() == {"done": True}


def test_starlette_is_disconnected_twice(serve):
    # request.is_disconnected() wraps receive() in an anyio cancel scope cancelled at once; anyio formats
    # the current task when cancelling (500 before the stand-in answered repr), and the second call must
    # not find the first receive() still waiting.
    server = serve("fw_current_task:starlette_app")
    assert server.get("/disconnected").json() == {"first": False, "second": False}


def test_django_common_middleware_under_concurrent_requests(serve):
    # 8 clients at once: each request hops to asgiref's per-request executor thread and back several times.
    server = serve("fw_django_hops:app")

    def client_run(n):
        with server.client() as client:
            return [client.get(f"/users/{n * 100 + i}").json() for i in range(10)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(client_run, range(8)))
    for n, answers in enumerate(results):
        assert answers == [{"id": n * 100 + i, "method": "GET"} for i in range(10)]
    assert server.get("/users/7").json() == {"id": 7, "method": "GET"}  # and it keeps serving
