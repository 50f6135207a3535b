"""The worker process: `python -m esg.worker_process`, started by the `esg` master with the listening sockets
already open. It loads the app and serves it (esg.serve), reports to the master over a control socket,
and shuts down gracefully when told to drain, on SIGTERM/SIGINT, or when the master goes away.

Master contract (server/master/WORKER_PROTOCOL.md; worker_process.h and worker_protocol.h are the other side):

- $ESG_WORKER_CONFIG holds JSON {"config": {...}, "listeners": [...], "control_fd": N}.
- $ESG_WORKER_STDIO ("<out>,<err>", -1 when absent): the master's own stdout/stderr. The worker's fds 1
  and 2 start as pipes the master reads and prefixes with the worker pid; the worker moves ESG's log
  streams back to the master's real stdout/stderr (same format and order as a single process) and keeps
  Python's sys.stdout/sys.stderr (the app's prints, warnings, tracebacks) on the pipes.
- Before anything else (--log-config's files included), a worker started as root switches to
  config["user"]/config["group"]. The master refuses --group without --user as root.
- The control socket protocol — the events this worker sends (ready, heartbeat, max_requests,
  startup_failed), the commands it obeys (drain, reopen_logs, set_log_level), line framing, the master's
  1 MiB line cap and what each side does with a bad line — is written down in
  server/master/WORKER_PROTOCOL.md; server/master/worker_protocol.h is the master's side. Change the three
  together.
- SIGTERM/SIGINT: graceful stop (as drain); a SIGINT while already stopping exits at once.
- EOF on control_fd: the master is gone; stop gracefully.
"""

import asyncio
import json
import os
import random
import signal
import sys
from typing import Any, Dict, Optional

from esg import _esg, _log, logconfig
from esg.errors import EXIT_STARTUP_FAILURE, AppLoadError, ConfigFileError
from esg.serve import Serving, new_event_loop, prepare_app

HEARTBEAT_SECONDS = 1.0
# The master refuses a message line over 1 MiB (kMaxWorkerMessageBytes in server/master/worker_protocol.h)
# and kills the worker that sent it; a startup_failed text is trimmed well below that (its tail, where a
# traceback says what went wrong, is kept). json.dumps escapes at most 6 bytes per character.
MAX_FAILURE_MESSAGE_CHARS = 64 * 1024
MAX_REQUESTS_CHECK_SECONDS = 0.1


class Control:
    """The worker's end of the master↔worker socketpair (absent when run without a master)."""

    def __init__(self, fd: Optional[int]) -> None:
        self.fd = fd
        self.buffer = b""

    def send(self, event: str, **fields: Any) -> None:
        if self.fd is None:
            return
        message = fields.get("message")
        if isinstance(message, str) and len(message) > MAX_FAILURE_MESSAGE_CHARS:
            fields["message"] = "[...]\n" + message[-MAX_FAILURE_MESSAGE_CHARS:]
        line = json.dumps({"event": event, **fields}) + "\n"
        try:
            os.write(self.fd, line.encode())
        except OSError:
            pass


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Worker:
    def __init__(self, serving: Serving, control: Control, config: Dict[str, Any]) -> None:
        self.serving = serving
        self.control = control
        self.config = config
        self.stopping = False
        limit = config.get("limit_max_requests")
        jitter = int(config.get("limit_max_requests_jitter") or 0)
        self.max_requests: Optional[int] = None if not limit else int(limit) + random.randint(0, max(0, jitter))

    def stop(self, keep_idle: bool = False) -> None:
        self.stopping = True
        # Close our listening sockets now, not one loop turn later in Serving.run: on a graceful stop the
        # master shuts the shared listeners down (new connections are refused at once), after which
        # accept() on them fails with EINVAL for as long as a worker still watches them.
        if self.serving.engine is not None:
            self.serving.engine.stop_accepting()
        self.serving.stop(keep_idle)

    def handle_signal(self, signum: int) -> None:
        if signum == signal.SIGINT and self.stopping:
            _log.warning("Second interrupt: exiting at once.")
            os._exit(1)
        self.stop()

    # -- master -> worker
    def on_control(self) -> None:
        try:
            data = os.read(self.control.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # The master is gone: nobody supervises this worker any more.
            asyncio.get_running_loop().remove_reader(self.control.fd)
            self.control.fd = None
            self.stop()
            return
        self.control.buffer += data
        while b"\n" in self.control.buffer:
            line, self.control.buffer = self.control.buffer.split(b"\n", 1)
            try:
                command = json.loads(line)
            except ValueError:
                continue
            if isinstance(command, dict):
                self.on_command(command)

    def on_command(self, command: Dict[str, Any]) -> None:
        cmd = command.get("cmd")
        if cmd == "drain":
            _log.debug(f"Draining worker [{os.getpid()}] on the master's request")
            # Other workers go on serving: idle keep-alive connections are left for the client (a proxy) to
            # close or use once more, not closed under a request it may be writing.
            self.stop(keep_idle=True)
        elif cmd == "reopen_logs":
            _log.debug("Reopening log files: ESG logs to stdout and stderr, nothing to reopen")
        elif cmd == "set_log_level" and isinstance(command.get("level"), str):
            self.config["log_level"] = command["level"]
            _esg.init_log(command["level"], self.config.get("use_colors"), bool(self.config.get("access_log", True)))

    # -- worker -> master
    def send_heartbeat(self) -> None:
        engine = self.serving.engine
        # The per-request counters (requests_by_class, duration_*, *_bytes) only when the engine counts
        # them (the master serves --metrics-bind).
        counters = engine.request_counters() if engine is not None else None
        self.control.send(
            "heartbeat",
            requests=engine.requests_served if engine is not None else 0,
            in_flight=engine.active_requests if engine is not None else 0,
            connections=engine.connections if engine is not None else 0,
            websockets=engine.active_websockets if engine is not None else 0,
            rss=rss_bytes(),
            **(counters or {}),
        )

    async def heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = 0.0
        reported_limit = False
        while True:
            engine = self.serving.engine
            now = loop.time()
            if engine is not None and self.max_requests is not None and not reported_limit:
                served = engine.requests_served
                if served >= self.max_requests:
                    reported_limit = True
                    if self.control.fd is None:
                        self.stop()
                    else:
                        self.control.send("max_requests", requests=served)
            if now >= next_beat:
                next_beat = now + HEARTBEAT_SECONDS
                self.send_heartbeat()
            await asyncio.sleep(MAX_REQUESTS_CHECK_SECONDS if self.max_requests is not None else HEARTBEAT_SECONDS)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_signal, sig)
        if self.control.fd is not None:
            os.set_blocking(self.control.fd, False)
            loop.add_reader(self.control.fd, self.on_control)
        beat = loop.create_task(self.heartbeat())
        try:
            code = await self.serving.run(on_ready=lambda: self.control.send("ready", pid=os.getpid()))
        finally:
            beat.cancel()
        if code == 0 and self.serving.engine is not None:
            # The last counters, so that the master's totals (metrics) include the requests served since
            # the last periodic heartbeat.
            self.send_heartbeat()
        if code != 0:
            self.control.send("startup_failed", message=self.serving.failure_message)
        return code


def split_stdio() -> None:
    """ESG's log lines to the master's real stdout/stderr; Python's sys.stdout/stderr stay on the pipes."""
    spec = os.environ.pop("ESG_WORKER_STDIO", None)
    if not spec:
        return
    try:
        real_out, real_err = (int(x) for x in spec.split(","))
    except ValueError:
        return
    for real, fd, name in ((real_out, 1, "stdout"), (real_err, 2, "stderr")):
        if real < 0:
            continue
        pipe = os.dup(fd)
        os.set_inheritable(pipe, False)
        os.dup2(real, fd)
        os.close(real)
        stream = open(pipe, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=True)
        setattr(sys, name, stream)
    try:
        import faulthandler

        faulthandler.enable(file=sys.stderr)
    except (ImportError, RuntimeError, ValueError):
        pass


def drop_privileges(config: Dict[str, Any]) -> None:
    """As root: become config["user"]/config["group"] (names or ids) before any app code runs."""
    user = config.get("user") or ""
    group = config.get("group") or ""
    if not (user or group) or os.geteuid() != 0:
        return
    import grp
    import pwd

    pw = None
    if user:
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            pw = pwd.getpwuid(int(user)) if user.isdigit() else None
        if pw is None:
            raise AppLoadError(f"--user {user}: no such user.")
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            if not group.isdigit():
                raise AppLoadError(f"--group {group}: no such group.") from None
            gid = int(group)
    else:
        gid = pw.pw_gid
    if pw is not None:
        os.setgroups(os.getgrouplist(pw.pw_name, gid))
    else:
        os.setgroups([gid])
    os.setgid(gid)
    if pw is not None:
        os.setuid(pw.pw_uid)
        os.environ.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)


def main() -> None:
    raw = os.environ.pop("ESG_WORKER_CONFIG", None)
    if raw is None:
        sys.stderr.write("esg.worker_process is started by the `esg` command; run `esg --help`.\n")
        sys.exit(2)
    # The master owns these; a signal sent to the whole process group must not kill or stop a worker.
    for sig in (signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)
    spec = json.loads(raw)
    config: Dict[str, Any] = spec["config"]
    control = Control(spec.get("control_fd"))
    split_stdio()
    _esg.init_log(config.get("log_level") or "info", config.get("use_colors"), bool(config.get("access_log", True)))
    pid = os.getpid()
    # --user/--group first: the files --log-config's handlers open are then created by (and owned by) the
    # unprivileged user, not root.
    try:
        drop_privileges(config)
    except AppLoadError as exc:
        _log.error(f"Error loading ASGI app. {exc}")
        control.send("startup_failed", message=str(exc))
        sys.exit(EXIT_STARTUP_FAILURE)
    try:
        logconfig.apply(config)  # --log-config: before the first line, so that every line follows the file
    except ConfigFileError as exc:
        _log.error(str(exc))
        control.send("startup_failed", message=_log.text(exc))
        sys.exit(EXIT_STARTUP_FAILURE)
    _log.info(f"Started server process [{pid}]")
    try:
        loop = new_event_loop(config.get("loop", "auto"))
        # The master already put --env-file into our environment (server/master/env_file.h); the
        # loader in prepare_app is for esg.run and gunicorn, where no master runs.
        app = prepare_app({**config, "env_file": ""})
    except ConfigFileError as exc:
        _log.error(str(exc))
        control.send("startup_failed", message=_log.text(exc))
        sys.exit(EXIT_STARTUP_FAILURE)
    except AppLoadError as exc:
        _log.error(f"Error loading ASGI app. {exc}")
        control.send("startup_failed", message=_log.text(exc))
        sys.exit(EXIT_STARTUP_FAILURE)
    except BaseException as exc:  # noqa: B902 - an import-time crash of the app is an app-load failure
        _log.exception("Error loading ASGI app.", exc)
        control.send("startup_failed", message=_log.format_exception(exc))
        sys.exit(EXIT_STARTUP_FAILURE)
    asyncio.set_event_loop(loop)
    worker = Worker(Serving(app, config, spec["listeners"]), control, config)
    try:
        code = loop.run_until_complete(worker.run())
    finally:
        loop.close()
    if code == 0:
        _log.info(f"Finished server process [{pid}]")
    sys.exit(code)


if __name__ == "__main__":
    main()
