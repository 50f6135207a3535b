"""Gunicorn worker classes: `gunicorn -k esg.workers.ESGWorker example:app`.

Gunicorn's arbiter owns the sockets, the worker count, restarts and `kill -HUP`; each worker serves
gunicorn's listening sockets with ESG's engine through the shared serving core (esg.serve). Works with
gunicorn 20.1 (Debian 12) and current gunicorn.

How gunicorn's settings map to ESG's:
  --timeout             the worker calls notify() from its event loop (a blocked loop gets the worker killed)
  --graceful-timeout    timeout_graceful_shutdown (SIGTERM: stop accepting, drain, lifespan shutdown)
  --keep-alive          timeout_keep_alive
  --max-requests(+jitter) the worker stops gracefully after that many requests; gunicorn starts another
  --forwarded-allow-ips forwarded_allow_ips;  --backlog: already applied by gunicorn when it binds
  --limit-request-line / -fields / -field-size  the engine's limits of the same name (0 = unlimited)
  --certfile/--keyfile  ssl_* (refused with a clear boot error while the engine has no TLS)
  --http-protocols      http2 when it lists h2 (gunicorn 25+) and the listeners are TLS (ALPN h2, preferred to
                        http/1.1 whatever the list's order) or --http2-cleartext is prior-knowledge or both (h2c
                        by its preface, from any peer: ESG does not limit it to --forwarded-allow-ips).
                        --http2-cleartext upgrade alone: no h2c (ESG ignores Upgrade: h2c, as RFC 9113 does)
  --http2-max-concurrent-streams  http2_max_concurrent_streams (gunicorn 25+; the other --http2-* are not mapped)
  access log            gunicorn's own access logger and --access-logformat (ESG's access log is off)
  SIGTERM graceful stop; SIGINT/SIGQUIT quick exit; SIGUSR1 reopen gunicorn's log files.
  boot failure          exit status 3 (gunicorn's WORKER_BOOT_ERROR), so the arbiter stops.

Pass other ESG settings by subclassing: `class MyWorker(ESGWorker): CONFIG_KWARGS = {"lifespan": "off"}`,
in a module of yours or in gunicorn's config file itself (`worker_class = MyWorker`: gunicorn takes a class
there). ESG-only settings go this way, e.g. `"timeout_request": 30` (--timeout-request, a deadline per
request): gunicorn's --timeout is the worker heartbeat above and is deliberately not mapped onto it.
"""

import asyncio
import datetime
import os
import signal
import sys
from typing import Any, Dict, List

from gunicorn.workers.base import Worker

from esg import config as esg_config
from esg.errors import EXIT_STARTUP_FAILURE, ConfigError
from esg.sockets import listener_for

# gunicorn.arbiter.Arbiter.WORKER_BOOT_ERROR: the arbiter stops instead of respawning, as ESG's master does.
WORKER_BOOT_ERROR = EXIT_STARTUP_FAILURE
UNLIMITED = 2**31 - 1


def _limit(value: Any, default: int) -> int:
    """Gunicorn's request limits: 0 means unlimited."""
    if value is None:
        return default
    return UNLIMITED if int(value) == 0 else int(value)


def _http2_options(cfg: Any) -> Dict[str, Any]:
    """ESG's http2 settings from gunicorn's HTTP/2 ones (gunicorn 25+; none before, so nothing then)."""
    options: Dict[str, Any] = {}
    protocols = getattr(cfg, "http_protocols", None) or ()
    if "h2" in protocols:
        cleartext = getattr(cfg, "http2_cleartext", "off")
        options["http2"] = bool(cfg.is_ssl or cleartext in ("prior-knowledge", "both"))
    streams = getattr(cfg, "http2_max_concurrent_streams", None)
    if streams is not None:
        options["http2_max_concurrent_streams"] = int(streams)
    return options


class ESGWorker(Worker):
    """Serves the app with ESG's engine on gunicorn's sockets (uvloop when installed)."""

    CONFIG_KWARGS: Dict[str, Any] = {"loop": "auto", "http": "auto"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.cfg
        default = esg_config.DEFAULTS
        allow = cfg.forwarded_allow_ips
        options: Dict[str, Any] = {
            "timeout_keep_alive": int(cfg.keepalive),
            "timeout_graceful_shutdown": float(cfg.graceful_timeout),
            "forwarded_allow_ips": ",".join(allow) if isinstance(allow, (list, tuple)) else str(allow),
            "backlog": int(cfg.backlog),
            "log_level": str(cfg.loglevel).lower(),
            "access_log": False,  # gunicorn's access logger writes the lines (see _access_logged)
            "limit_request_line": _limit(getattr(cfg, "limit_request_line", None), default["limit_request_line"]),
            "limit_request_fields": _limit(getattr(cfg, "limit_request_fields", None),
                                           default["limit_request_fields"]),
            "limit_request_field_size": _limit(getattr(cfg, "limit_request_field_size", None),
                                               default["limit_request_field_size"]),
        }
        if cfg.is_ssl:
            options.update({
                "ssl_keyfile": cfg.keyfile or "",
                "ssl_certfile": cfg.certfile or "",
                "ssl_version": int(getattr(cfg, "ssl_version", None) or default["ssl_version"]),
                "ssl_cert_reqs": int(getattr(cfg, "cert_reqs", None) or default["ssl_cert_reqs"]),
                "ssl_ca_certs": getattr(cfg, "ca_certs", None) or "",
                "ssl_ciphers": getattr(cfg, "ciphers", None) or default["ssl_ciphers"],
            })
        options.update(_http2_options(cfg))
        options.update(self.CONFIG_KWARGS)
        self.options = options
        self.config: Dict[str, Any] = {}
        self.serving = None

    # -- gunicorn hooks

    def init_process(self) -> None:
        # A forked worker still has the arbiter's signal handlers, which only queue the signal for the arbiter
        # loop this process does not run: a SIGTERM now (e.g. a HUP's replacement of a worker still booting)
        # would be lost and the arbiter would SIGKILL us after --graceful-timeout. Ours, at once; _serve
        # stops at once when alive is already False.
        signal.signal(signal.SIGTERM, self.handle_exit)
        # Validated here, in the worker (__init__ runs in the arbiter, where an exception would crash it
        # instead of failing the boot with status 3), and before the app is imported.
        where = f"{type(self).__name__}.CONFIG_KWARGS"
        esg_config.check_options(self.options, where)
        if self.options.get("workers") not in (None, 1) or self.options.get("reload"):
            raise ConfigError(f"{where}: workers and reload are gunicorn's job (-w N, --reload).")
        if esg_config.master_only_in(self.options):
            raise ConfigError(f"{where}: {', '.join(esg_config.master_only_in(self.options))} need the esg master; "
                              "gunicorn has no equivalent (its max_requests recycles by request count).")
        self.config = esg_config.build(self.options, {})
        from esg.serve import require_tls_support  # (the engine is imported in the worker, not the arbiter)

        require_tls_support(self.config, f"gunicorn -k {type(self).__module__}.{type(self).__name__}")
        super().init_process()

    def init_signals(self) -> None:
        # Until the event loop takes over (_serve), gunicorn's own handlers: a SIGTERM that arrives while
        # the app is still being imported only clears self.alive, and _serve then stops at once.
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, self.handle_exit)
        signal.signal(signal.SIGINT, self.handle_quit)
        signal.signal(signal.SIGQUIT, self.handle_quit)
        signal.signal(signal.SIGUSR1, self.handle_usr1)
        signal.signal(signal.SIGABRT, self.handle_abort)

    def run(self) -> None:
        from esg import _esg
        from esg.errors import AppLoadError
        from esg.serve import Serving, limit_requests, new_event_loop, prepare_app

        _esg.init_log(self.config["log_level"], self.config["use_colors"], False)
        try:
            loop = new_event_loop(self.config["loop"])
            app = prepare_app(self.config, self.wsgi)
        except AppLoadError as exc:
            self.log.error("Error loading ASGI app. %s", exc)
            sys.exit(WORKER_BOOT_ERROR)
        if self._access_log_enabled():
            app = _access_logged(app, self.log)
        if self.max_requests < sys.maxsize:
            app = limit_requests(app, self.max_requests, self._on_max_requests)
        listeners = [listener_for(getattr(s, "sock", s)) for s in self.sockets]
        self.serving = Serving(app, self.config, listeners)
        asyncio.set_event_loop(loop)
        try:
            code = loop.run_until_complete(self._serve(loop))
        finally:
            if self.serving.engine is None:
                for listener in listeners:
                    os.close(listener["fd"])
            asyncio.set_event_loop(None)
            loop.close()
        if code != 0:
            self.log.error("%s", self.serving.failure_message or "Application startup failed.")
            sys.exit(WORKER_BOOT_ERROR)

    # -- serving

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> int:
        loop.add_signal_handler(signal.SIGINT, self._quick_exit)
        loop.add_signal_handler(signal.SIGQUIT, self._quick_exit)
        loop.add_signal_handler(signal.SIGUSR1, self.log.reopen_files)
        loop.add_signal_handler(signal.SIGWINCH, lambda: None)
        # SIGTERM through signal.signal, not the loop: gunicorn's arbiter repeats SIGTERM while a worker exits
        # (each time it wakes, e.g. on the other old worker's SIGCHLD after a HUP), and the loop's
        # remove_signal_handler() would restore SIG_DFL for an instant, turning a clean exit into "terminated
        # due to signal 15". This handler is swapped for SIG_IGN in one step below. The loop's wakeup fd (set
        # by the handlers above) wakes the loop, and the Python-level handler runs on the main thread.
        signal.signal(signal.SIGTERM, lambda signum, frame: loop.call_soon_threadsafe(self._graceful_stop))
        interval = max(min(float(self.timeout) / 2, 1.0), 0.05)

        def heartbeat() -> None:
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                self._graceful_stop()
                return
            if self.alive:
                loop.call_later(interval, heartbeat)

        heartbeat()
        if not self.alive:  # SIGTERM before the loop's handlers were installed
            loop.call_soon(self._graceful_stop)
        try:
            return await self.serving.run()
        finally:
            # Once the loop is gone a repeated signal must not kill a worker that exits cleanly.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1, signal.SIGWINCH):
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_IGN)

    def _graceful_stop(self) -> None:
        self.alive = False
        if self.serving is not None:
            self.serving.stop()

    def _quick_exit(self) -> None:
        self.alive = False
        self.cfg.worker_int(self)
        sys.exit(0)

    def _on_max_requests(self) -> None:
        self.log.info("Autorestarting worker after current request.")
        asyncio.get_running_loop().call_soon(self._graceful_stop)

    def _access_log_enabled(self) -> bool:
        enabled = getattr(self.log, "access_log_enabled", None)
        if enabled is not None:
            return bool(enabled)
        cfg = self.cfg
        return bool(cfg.accesslog or cfg.logconfig or getattr(cfg, "logconfig_dict", None) or
                    (cfg.syslog and not cfg.disable_redirect_access_to_syslog))


class ESGH11Worker(ESGWorker):
    """For PyPy and hosts without uvloop: the asyncio loop. ESG has one HTTP engine, so "http" is a no-op."""

    CONFIG_KWARGS: Dict[str, Any] = {"loop": "asyncio", "http": "h11"}


# ------------------------------------------------------------------------------------------------ access log


class _Response:
    """What gunicorn's Logger.atoms() reads from a response."""

    __slots__ = ("status", "headers", "sent")

    def __init__(self, status: int, headers: List[tuple], sent: int) -> None:
        self.status = status
        self.headers = headers
        self.sent = sent


def _environ(scope: Dict[str, Any], headers: List[tuple]) -> Dict[str, Any]:
    """The WSGI-style environ gunicorn's access-log atoms need (%(h)s %(r)s %(U)s %({name}e)s ...)."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode()
    query = scope.get("query_string", b"")
    raw_uri = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    client = scope.get("client")
    environ = {
        "REMOTE_ADDR": client[0] if client else "-",
        "REQUEST_METHOD": scope.get("method", "GET"),
        "RAW_URI": raw_uri,
        "PATH_INFO": scope.get("path", ""),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "wsgi.url_scheme": scope.get("scheme", "http"),
    }
    for name, value in headers:
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = value if key not in environ else environ[key] + "," + value
    return environ


def _access_logged(app: Any, log: Any) -> Any:
    """Wraps an ASGI 3 app so each HTTP request gets one line from gunicorn's access logger."""

    async def logged(scope, receive, send):
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = datetime.datetime.now()
        response = _Response(500, [], 0)

        async def logging_send(message):
            kind = message["type"]
            if kind == "http.response.start":
                response.status = message["status"]
                response.headers = [(n.decode("latin-1"), v.decode("latin-1"))
                                    for n, v in message.get("headers", ())]
            elif kind == "http.response.body":
                response.sent += len(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive, logging_send)
        finally:
            headers = [(n.decode("latin-1").upper(), v.decode("latin-1")) for n, v in scope.get("headers", ())]
            log.access(response, headers, _environ(scope, headers), datetime.datetime.now() - started)

    return logged
