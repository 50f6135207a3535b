"""The worker process: `python -m esg.worker`, started by the `esg` master with the listening sockets
already open. It loads the app, runs lifespan startup, serves through the C++ engine on one event loop,
reports readiness to the master, and shuts down gracefully on SIGTERM/SIGINT.

Master contract: ESG_WORKER_CONFIG holds JSON {"config": {...}, "listeners": [...], "control_fd": N};
the worker writes newline-delimited JSON events on control_fd: {"event": "ready"} once serving, or
{"event": "startup_failed", "message": ...} before exiting with status 3.
"""

import asyncio
import json
import os
import signal
import sys
from typing import Any, Dict, List, Optional

from esg import _esg, _log
from esg.importer import AppLoadError, as_asgi3, load_app
from esg.lifespan import Lifespan

EXIT_APP_LOAD = 3


class Control:
    """The worker's end of the master↔worker socketpair (absent when run without a master)."""

    def __init__(self, fd: Optional[int]) -> None:
        self.fd = fd

    def send(self, event: str, **fields: Any) -> None:
        if self.fd is None:
            return
        line = json.dumps({"event": event, **fields}) + "\n"
        try:
            os.write(self.fd, line.encode())
        except OSError:
            pass


def new_event_loop(choice: str) -> asyncio.AbstractEventLoop:
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise AppLoadError("--loop uvloop was asked for, but uvloop is not installed.") from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def make_runner(app: Any, tracker: "TaskTracker"):
    """run_app(scope, receive, send, exchange): the coroutine the engine starts for each request."""

    async def run_app(scope, receive, send, exchange):
        tracker.running += 1
        try:
            await app(scope, receive, send)
        except BaseException as exc:  # noqa: B902 - the server must survive anything the app raises
            _log.exception("Exception in ASGI application", exc)
            exchange.fail()
        else:
            exchange.finish()
        finally:
            tracker.running -= 1

    return run_app


class TaskTracker:
    running = 0


class Worker:
    def __init__(self, config: Dict[str, Any], listeners: List[Dict[str, Any]], control: Control) -> None:
        self.config = config
        self.listeners = listeners
        self.control = control
        self.stop_requested: Optional[asyncio.Event] = None
        self.sigint_count = 0

    def handle_signal(self, signum: int) -> None:
        if signum == signal.SIGINT:
            self.sigint_count += 1
            if self.sigint_count > 1:
                _log.warning("Second interrupt: exiting at once.")
                os._exit(1)
        if self.stop_requested is not None:
            self.stop_requested.set()

    async def serve(self, app: Any) -> int:
        loop = asyncio.get_running_loop()
        self.stop_requested = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_signal, sig)
        if self.control.fd is not None:
            loop.add_reader(self.control.fd, self._on_control)

        lifespan = Lifespan(app, self.config.get("lifespan", "auto"))
        if not await lifespan.startup():
            self.control.send("startup_failed", message=lifespan.failure_message or "Application startup failed.")
            return EXIT_APP_LOAD

        tracker = TaskTracker()
        engine = _esg.Engine(make_runner(app, tracker), loop, self.config, self.listeners, lifespan.state)
        loop.add_reader(engine.fileno(), engine.run_once)
        self.control.send("ready", pid=os.getpid())

        await self.stop_requested.wait()
        _log.info("Shutting down")
        engine.stop_accepting()
        engine.begin_drain()
        timeout = self.config.get("timeout_graceful_shutdown")
        deadline = None if timeout is None else loop.time() + float(timeout)
        while engine.active_requests or tracker.running:
            if deadline is not None and loop.time() >= deadline:
                _log.error(
                    f"Cancel {max(engine.active_requests, tracker.running)} running request(s), "
                    "timeout graceful shutdown exceeded"
                )
                break
            await asyncio.sleep(0.02)
        engine.close_all()
        loop.remove_reader(engine.fileno())
        await lifespan.shutdown()
        return 0

    def _on_control(self) -> None:
        try:
            data = os.read(self.control.fd, 4096)
        except OSError:
            data = b""
        if not data:
            # The master is gone: nobody supervises this worker any more.
            asyncio.get_running_loop().remove_reader(self.control.fd)
            if self.stop_requested is not None:
                self.stop_requested.set()


def main() -> None:
    raw = os.environ.pop("ESG_WORKER_CONFIG", None)
    if raw is None:
        sys.stderr.write("esg.worker is started by the `esg` command; run `esg --help`.\n")
        sys.exit(2)
    spec = json.loads(raw)
    config: Dict[str, Any] = spec["config"]
    control = Control(spec.get("control_fd"))
    _esg.init_log(config.get("log_level") or "info", config.get("use_colors"), bool(config.get("access_log", True)))
    pid = os.getpid()
    _log.info(f"Started server process [{pid}]")
    try:
        loop = new_event_loop(config.get("loop", "auto"))
        app = load_app(config["app"], config.get("app_dir", "."), bool(config.get("factory")))
        app = as_asgi3(app, config.get("interface", "auto"))
    except AppLoadError as exc:
        _log.error(f"Error loading ASGI app. {exc}")
        control.send("startup_failed", message=str(exc))
        sys.exit(EXIT_APP_LOAD)
    except BaseException as exc:  # noqa: B902 - an import-time crash of the app is an app-load failure
        _log.exception("Error loading ASGI app.", exc)
        control.send("startup_failed", message=f"{type(exc).__name__}: {exc}")
        sys.exit(EXIT_APP_LOAD)
    asyncio.set_event_loop(loop)
    worker = Worker(config, spec["listeners"], control)
    try:
        code = loop.run_until_complete(worker.serve(app))
    finally:
        loop.close()
    if code == 0:
        _log.info(f"Finished server process [{pid}]")
    sys.exit(code)


if __name__ == "__main__":
    main()
