"""The ASGI lifespan protocol: startup before the worker accepts, shutdown after it drained.

Modes (--lifespan): "on" requires the app to support it (a failure stops the worker with exit code 3);
"auto" uses it when the app supports it and carries on when the app raises before answering; "off"
never calls the app with a lifespan scope. `state` is shared into every request scope (copied).
"""

import asyncio
from typing import Any, Dict, Optional

from esg import _log


class Lifespan:
    def __init__(self, app: Any, mode: str) -> None:
        self.app = app
        self.mode = mode
        self.state: Dict[str, Any] = {}
        self.startup_failed = False
        self.failure_message: Optional[str] = None
        self._receive_queue: "asyncio.Queue[dict]" = asyncio.Queue()
        self._startup_event = asyncio.Event()
        self._shutdown_event = asyncio.Event()
        self._task: Optional[asyncio.Task] = None
        self._unsupported = False
        self._error_occurred = False

    async def startup(self) -> bool:
        """Runs the startup phase; returns False when the worker must not serve."""
        if self.mode == "off":
            return True
        _log.info("Waiting for application startup.")
        self._task = asyncio.get_running_loop().create_task(self._main())
        await self._receive_queue.put({"type": "lifespan.startup"})
        await self._startup_event.wait()
        if self.startup_failed or (self._error_occurred and self.mode == "on"):
            _log.error("Application startup failed. Exiting.")
            return False
        if not self._unsupported:
            _log.info("Application startup complete.")
        return True

    async def shutdown(self) -> None:
        if self.mode == "off" or self._unsupported or self._error_occurred or self._task is None:
            return
        _log.info("Waiting for application shutdown.")
        await self._receive_queue.put({"type": "lifespan.shutdown"})
        await self._shutdown_event.wait()
        if self.failure_message is not None and self.startup_failed is False and self._shutdown_failed:
            _log.error("Application shutdown failed. Exiting.")
        else:
            _log.info("Application shutdown complete.")

    _shutdown_failed = False

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            self._error_occurred = True
            if self.startup_failed or self._shutdown_failed:
                return
            if self.mode == "auto" and not self._startup_event.is_set():
                self._unsupported = True
                _log.info("ASGI 'lifespan' protocol appears unsupported.")
            else:
                _log.exception("Exception in 'lifespan' protocol", exc)
                self.failure_message = _log.text(exc)
        finally:
            self._startup_event.set()
            self._shutdown_event.set()

    async def _receive(self) -> dict:
        return await self._receive_queue.get()

    async def _send(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "lifespan.startup.complete":
            self._startup_event.set()
        elif kind == "lifespan.startup.failed":
            self.startup_failed = True
            self.failure_message = _log.text(message.get("message", ""))
            if self.failure_message:
                _log.error(self.failure_message)
            self._startup_event.set()
        elif kind == "lifespan.shutdown.complete":
            self._shutdown_event.set()
        elif kind == "lifespan.shutdown.failed":
            self._shutdown_failed = True
            self.failure_message = _log.text(message.get("message", ""))
            if self.failure_message:
                _log.error(self.failure_message)
            self._shutdown_event.set()
        else:
            raise RuntimeError(f"Unexpected ASGI lifespan message {kind!r}.")
