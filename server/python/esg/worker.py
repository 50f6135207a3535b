"""The worker process: `python -m esg.worker`, started by the `esg` master with the listening sockets
already open. It loads the app and serves it (esg.serve), reports readiness to the master, and shuts
down gracefully on SIGTERM/SIGINT or when the master goes away.

Master contract: ESG_WORKER_CONFIG holds JSON {"config": {...}, "listeners": [...], "control_fd": N};
the worker writes newline-delimited JSON events on control_fd: {"event": "ready"} once serving, or
{"event": "startup_failed", "message": ...} before exiting with status 3.
"""

import asyncio
import json
import os
import signal
import sys
from typing import Any, Dict, Optional

from esg import _esg, _log, logconfig
from esg.envfile import ConfigFileError
from esg.importer import AppLoadError
from esg.serve import EXIT_APP_LOAD, Serving, new_event_loop, prepare_app


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


class Worker:
    def __init__(self, serving: Serving, control: Control) -> None:
        self.serving = serving
        self.control = control
        self.sigint_count = 0

    def handle_signal(self, signum: int) -> None:
        if signum == signal.SIGINT:
            self.sigint_count += 1
            if self.sigint_count > 1:
                _log.warning("Second interrupt: exiting at once.")
                os._exit(1)
        self.serving.stop()

    def on_control(self) -> None:
        try:
            data = os.read(self.control.fd, 4096)
        except OSError:
            data = b""
        if not data:
            # The master is gone: nobody supervises this worker any more.
            asyncio.get_running_loop().remove_reader(self.control.fd)
            self.serving.stop()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_signal, sig)
        if self.control.fd is not None:
            loop.add_reader(self.control.fd, self.on_control)
        code = await self.serving.run(on_ready=lambda: self.control.send("ready", pid=os.getpid()))
        if code != 0:
            self.control.send("startup_failed", message=self.serving.failure_message)
        return code


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
    try:
        logconfig.apply(config)  # --log-config: before the first line, so that it follows the file
    except ConfigFileError as exc:
        _log.error(str(exc))
        control.send("startup_failed", message=str(exc))
        sys.exit(EXIT_APP_LOAD)
    _log.info(f"Started server process [{pid}]")
    try:
        loop = new_event_loop(config.get("loop", "auto"))
        app = prepare_app(config)
    except ConfigFileError as exc:
        _log.error(str(exc))
        control.send("startup_failed", message=str(exc))
        sys.exit(EXIT_APP_LOAD)
    except AppLoadError as exc:
        _log.error(f"Error loading ASGI app. {exc}")
        control.send("startup_failed", message=str(exc))
        sys.exit(EXIT_APP_LOAD)
    except BaseException as exc:  # noqa: B902 - an import-time crash of the app is an app-load failure
        _log.exception("Error loading ASGI app.", exc)
        control.send("startup_failed", message=f"{type(exc).__name__}: {exc}")
        sys.exit(EXIT_APP_LOAD)
    asyncio.set_event_loop(loop)
    worker = Worker(Serving(app, config, spec["listeners"]), control)
    try:
        code = loop.run_until_complete(worker.run())
    finally:
        loop.close()
    if code == 0:
        _log.info(f"Finished server process [{pid}]")
    sys.exit(code)


if __name__ == "__main__":
    main()
