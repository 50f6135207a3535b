"""The serving core every mode shares: the master's workers (esg.worker_process), `esg.run(app)`
in-process, and gunicorn's ESGWorker. It loads the app, runs lifespan startup, serves through the C++
engine on the running event loop until asked to stop, then drains and runs lifespan shutdown.
"""

import asyncio
import collections.abc
import gc
from typing import Any, Callable, Dict, List, Optional

from esg import _esg, _log, envfile, scheduling, wsgi
from esg.config import uses_tls
from esg.errors import EXIT_STARTUP_FAILURE, AppLoadError, ConfigError
from esg.importer import as_asgi3, load_app
from esg.lifespan import Lifespan

ACCEPT_GRACE_SECONDS = 1.0  # at most, for connections with no request yet (see Serving.drain)


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    """The loop for --loop auto|asyncio|uvloop (auto: uvloop when it is installed)."""
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise AppLoadError("--loop uvloop was asked for, but uvloop is not installed.") from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def prepare_app(config: Dict[str, Any], app: Any = None) -> Any:
    """The ASGI 3 callable to serve: `app` itself, or the one config["app"] names. Raises AppLoadError
    (envfile.ConfigFileError for an unusable --env-file)."""
    envfile.load_from_config(config)  # before the import, so the app (and each reload) sees it
    if app is None:
        app = load_app(config["app"], config.get("app_dir", "."), bool(config.get("factory")))
    if config.get("interface") == "wsgi":
        return wsgi.make_adapter(app, config)
    return as_asgi3(app, config.get("interface", "auto"))


def tls_supported() -> bool:
    """Whether the engine honours the ssl_* settings (it advertises "tls" in _esg.FEATURES)."""
    return "tls" in getattr(_esg, "FEATURES", ()) or bool(getattr(_esg, "HAS_TLS", False))


def require_tls_support(config: Dict[str, Any], where: str) -> None:
    """ConfigError when config asks for TLS and this engine cannot do it."""
    if uses_tls(config) and not tls_supported():
        raise ConfigError(f"{where}: TLS was asked for (certfile/keyfile), but this build of the ESG engine "
                          f"does not support TLS yet. Terminate TLS in a proxy (see nginx/) or upgrade ESG.")


def limit_requests(app: Any, limit: int, on_limit: Callable[[], None]) -> Any:
    """Wraps an ASGI 3 app: after `limit` HTTP/WebSocket requests, calls on_limit() once (to stop serving)."""
    count = 0

    async def limited(scope, receive, send):
        nonlocal count
        if scope["type"] != "lifespan":
            count += 1
            if count == limit:
                on_limit()
        await app(scope, receive, send)

    return limited


class TaskTracker:
    """Counts app tasks still running, so a graceful stop waits for them (background work included).
    WebSocket tasks are counted apart: they end when their connection is closed at the end of a drain.
    The engine calls started/ended for eagerly started requests that suspended (their Task runs an
    _esg.AppDriver); _run_tracked does it for requests started as a Task from the beginning."""

    running = 0
    websockets = 0

    def __init__(self) -> None:
        self.tasks: "set[asyncio.Task]" = set()

    def started(self, task: "asyncio.Task", is_websocket: bool) -> None:
        if is_websocket:
            self.websockets += 1
        else:
            self.running += 1
        self.tasks.add(task)

    def ended(self, task: "asyncio.Task", is_websocket: bool) -> None:
        self.tasks.discard(task)
        if is_websocket:
            self.websockets -= 1
        else:
            self.running -= 1


# asyncio.Task accepts coroutines; the driver has send/throw/close/__await__ in C. Registering it makes
# that explicit instead of relying on collections.abc's method check.
collections.abc.Coroutine.register(_esg.AppDriver)


async def _run_tracked(awaitable, exchange, tracker: TaskTracker, is_websocket: bool):
    """Runs an app coroutine to its end as a tracked task and finishes (or fails) its exchange."""
    task = asyncio.current_task()
    tracker.started(task, is_websocket)
    try:
        await awaitable
    except BaseException as exc:  # noqa: B902 - the server must survive anything the app raises
        # The cancellation of --timeout-request is the expected end (the engine logged the timeout).
        if not (isinstance(exc, asyncio.CancelledError) and getattr(exchange, "timed_out", False)):
            _log.exception("Exception in ASGI application", exc)
        exchange.fail()
    else:
        exchange.finish()
    finally:
        tracker.ended(task, is_websocket)


def make_runner(app: Any, tracker: TaskTracker):
    """run_app(scope, receive, send, exchange) -> the coroutine the engine starts as a Task for each request
    (when eager start is off)."""

    def run_app(scope, receive, send, exchange):
        return _run_tracked(app(scope, receive, send), exchange, tracker, scope["type"] == "websocket")

    return run_app


class Serving:
    """One serving run on the current event loop. `stop()` (from a signal handler, a master command or
    gunicorn) starts the graceful shutdown; `engine` is available once serving."""

    def __init__(self, app: Any, config: Dict[str, Any], listeners: List[Dict[str, Any]]) -> None:
        self.app = app
        self.config = config
        self.listeners = listeners
        self.engine: Optional[Any] = None
        self.tracker = TaskTracker()
        self.failure_message: Optional[str] = None
        self._stop: Optional[asyncio.Event] = None
        self.keep_idle = False

    def stop(self, keep_idle: bool = False) -> None:
        """keep_idle: other workers go on serving (the master's drain): idle keep-alive connections are left to
        their --timeout-keep-alive instead of being closed at once (Engine.begin_drain)."""
        self.keep_idle = self.keep_idle or keep_idle
        if self._stop is not None:
            self._stop.set()

    async def run(self, on_ready: Optional[Callable[[], None]] = None) -> int:
        """Serves until stop(); returns the exit status (0, or 3 when lifespan startup failed)."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        lifespan = Lifespan(self.app, self.config.get("lifespan", "auto"))
        if not await lifespan.startup():
            self.failure_message = lifespan.failure_message or "Application startup failed."
            return EXIT_STARTUP_FAILURE
        scheduling.apply(self.config.get("cpu_scheduling", "batch"))
        eager = self.config.get("task_start", "eager") == "eager"
        engine = _esg.Engine(make_runner(self.app, self.tracker), loop, self.config, self.listeners, lifespan.state,
                             app=self.app if eager else None, tracker=self.tracker if eager else None)
        self.engine = engine
        if self.config.get("gc_freeze", True):
            # --gc-freeze: what the app and its lifespan built stays for the worker's life; full collections
            # no longer traverse it (Django's modules and classes: a third of each full collection's cost).
            gc.collect()
            gc.freeze()
        loop.add_reader(engine.fileno(), engine.reader())
        if on_ready is not None:
            on_ready()
        await self._stop.wait()
        _log.info("Shutting down")
        engine.stop_accepting()
        await self.drain(engine)
        engine.close_all()
        loop.remove_reader(engine.fileno())
        await lifespan.shutdown()
        return 0

    async def cancel_tasks(self) -> None:
        """Cancels the app tasks still running (graceful timeout exceeded) and gives them a moment."""
        tasks = [t for t in self.tracker.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)

    async def drain(self, engine: Any) -> None:
        """Lets in-flight requests (and app tasks) finish, within --timeout-graceful-shutdown."""
        loop = asyncio.get_running_loop()
        keep_idle = self.keep_idle
        engine.begin_drain(keep_idle)
        timeout = self.config.get("timeout_graceful_shutdown")
        deadline = None if timeout is None else loop.time() + float(timeout)
        # Idle keep-alive connections kept open close at their keep-alive deadline (the engine's tick).
        idle_deadline = loop.time() + float(self.config.get("timeout_keep_alive") or 0) + 0.5
        if deadline is not None:
            idle_deadline = min(idle_deadline, deadline)
        # Connections accepted just before stop_accepting() get a moment to deliver their first request
        # (a proxy has one on its way; it is answered with Connection: close).
        fresh_deadline = loop.time() + ACCEPT_GRACE_SECONDS
        while (engine.active_requests or self.tracker.running
               or (engine.fresh_connections and loop.time() < fresh_deadline)
               or (keep_idle and engine.connections > engine.active_websockets and loop.time() < idle_deadline)):
            if deadline is not None and loop.time() >= deadline:
                busy = max(engine.active_requests, self.tracker.running)
                _log.error(f"Cancel {busy} running request(s), timeout graceful shutdown exceeded")
                await self.cancel_tasks()
                break
            await asyncio.sleep(0.02)
        # WebSockets have no natural end: once HTTP work is done they are told the server is going away
        # (1001) and get a moment to finish their close handshake.
        if engine.active_websockets or self.tracker.websockets:
            engine.close_websockets(1001)
            ws_deadline = loop.time() + 5.0
            if deadline is not None:
                ws_deadline = min(ws_deadline, max(deadline, loop.time() + 1.0))
            while (engine.active_websockets or self.tracker.websockets) and loop.time() < ws_deadline:
                await asyncio.sleep(0.02)
