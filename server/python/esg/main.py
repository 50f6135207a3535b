"""`esg.run(app, **config)`: ESG from Python, with the options of the command line.

- `app` is an app object: it is served in this process, on sockets bound here, by the same serving core as
  every worker (esg.serve). SIGINT/SIGTERM stop gracefully; a second SIGINT exits at once. `workers=` and
  `reload=` need separate processes that import the app themselves, so they are refused with ConfigError.
- `app` is an import string ("module:attribute"): the native `esg` master runs it with the equivalent
  flags, so `workers=` and `reload=` work; this call waits for it and forwards the signals it receives.

Also the console-script entry points of the wheel (`esg`, `esgctl`), which exec the native executables
shipped inside the package (esg/bin/).
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Any, Callable, Dict, List, Optional

from esg import config as esg_config
from esg import sockets
from esg.errors import EXIT_STARTUP_FAILURE, ConfigError

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
PACKAGE_PARENT = os.path.dirname(PACKAGE_DIR)


# ------------------------------------------------------------------------------------------- executables


def find_executable(name: str = "esg", search_path: bool = True) -> str:
    """The native `esg` (or `esgctl`) executable.

    Looked up in order: $ESG_BIN (for "esg") / $ESGCTL_BIN, the wheel's copy inside the package
    (esg/bin/NAME), the Bazel build this package came from (bazel-bin/.../NAME beside NAME.runfiles), the
    scripts directory of the running interpreter, then $PATH. Raises FileNotFoundError saying where it looked.
    """
    candidates: List[str] = []
    forced = os.environ.get("ESG_BIN" if name == "esg" else name.upper() + "_BIN")
    if forced:
        candidates.append(forced)
    candidates.append(os.path.join(PACKAGE_DIR, "bin", name))
    # Bazel runfiles: <out>/server/master/esg.runfiles/esg/server/python/esg -> <out>/server/master/esg
    parts = PACKAGE_DIR.split(os.sep)
    for i in range(len(parts) - 1, 0, -1):
        if parts[i].endswith(".runfiles"):
            sibling = os.sep.join(parts[:i] + [parts[i][: -len(".runfiles")]])
            candidates.append(os.path.join(os.path.dirname(sibling), name) if name != "esg" else sibling)
            break
    if search_path:
        candidates.append(os.path.join(os.path.dirname(sys.executable), name))
        for directory in os.environ.get("PATH", "").split(os.pathsep):
            if directory:
                candidates.append(os.path.join(directory, name))
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(f"cannot find the `{name}` executable; looked at: {', '.join(candidates)}. "
                            f"Install the esg wheel or set $ESG_BIN.")


def worker_environment(base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment for a native `esg`: workers use this interpreter and this copy of the package."""
    env = dict(os.environ if base is None else base)
    env.setdefault("ESG_PYTHON", sys.executable)
    # An installed package is importable by that interpreter anyway; a build tree (runfiles) is not.
    if os.path.basename(PACKAGE_PARENT) not in ("site-packages", "dist-packages"):
        env.setdefault("ESG_PYTHONPATH", PACKAGE_PARENT)
    return env


def esg_command() -> None:
    """Console script `esg`: exec the native master shipped in the package."""
    _exec_native("esg")


def esgctl_command() -> None:
    """Console script `esgctl`: exec the native control client shipped in the package."""
    _exec_native("esgctl")


def _exec_native(name: str) -> None:
    try:
        exe = find_executable(name, search_path=False)
    except FileNotFoundError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        sys.exit(1)
    os.execve(exe, [exe, *sys.argv[1:]], worker_environment())


# ------------------------------------------------------------------------------------------------- run()


def run(app: Any, **options: Any) -> None:
    """Serve `app` (an ASGI/WSGI app object, or a "module:attribute" import string) with `options`, the
    `esg` command-line options by their Python names (log_level="info", forwarded_allow_ips="*", ...).

    Returns when the server has stopped; exits with status 3 (SystemExit) when the app cannot start.
    Raises TypeError for an unknown option, ConfigError for workers/reload with an app object."""
    if isinstance(app, str):
        run_command(app, options)
        return
    esg_config.check_options(options)
    if options.get("reload") or (options.get("workers") or 1) > 1:
        raise ConfigError("esg.run(): workers= and reload= need the app as an import string, e.g. "
                          "esg.run(\"example:app\", workers=4); an app object can only be served in this process.")
    if esg_config.master_only_in(options):
        raise ConfigError(f"esg.run(): {', '.join(esg_config.master_only_in(options))} need the app as an import "
                          "string (the esg master replaces the workers); an app object is served in this process.")
    environ = dict(os.environ)
    if "workers" not in options:
        environ.pop("WEB_CONCURRENCY", None)  # one process is all an app object can have
    config = esg_config.build(options, environ)
    serve_in_process(app, config)


def run_command(app: str, options: Dict[str, Any]) -> None:
    """Runs the native `esg` master for an import string; waits for it and forwards signals to it."""
    argv = [find_executable("esg"), *esg_config.cli_args(options), app]
    env = worker_environment()
    # With uvicorn the import happens in this process, where the script's directory is on sys.path. Keep
    # that true for the master's workers.
    script_dir = sys.path[0] if sys.path and sys.path[0] else ""
    if script_dir and "app_dir" not in options and os.path.isdir(script_dir):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (script_dir, env.get("PYTHONPATH", "")) if p)
    if sys.version_info >= (3, 11):
        proc = subprocess.Popen(argv, env=env, process_group=0, preexec_fn=_die_with_parent)
    else:  # Popen(process_group=) is 3.11+: the child makes its own group
        proc = subprocess.Popen(argv, env=env, preexec_fn=_own_group_dying_with_parent)
    forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                 signal.SIGTTIN, signal.SIGTTOU)
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in forwarded:
            previous[sig] = signal.signal(sig, lambda signum, frame: proc.send_signal(signum))
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code != 0:
        sys.exit(code if code > 0 else 128 - code)


def _own_group_dying_with_parent() -> None:
    """In the child, before 3.11: what process_group=0 and _die_with_parent do."""
    os.setpgid(0, 0)
    _die_with_parent()


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the Python process that started it dies (Linux prctl)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; not every libc exposes prctl
        pass


# --------------------------------------------------------------------------------------- in-process serving


def running_message(config: Dict[str, Any], sock: socket.socket) -> str:
    """The "ESG running on ..." line, worded like the master's."""
    if config["fd"] is not None and int(config["fd"]) >= 0:
        where = f"socket {sock.getsockname()!r}"
    elif sock.family == socket.AF_UNIX:
        where = f"unix socket {sock.getsockname()}"
    else:
        host, port = sock.getsockname()[:2]
        scheme = "https" if esg_config.uses_tls(config) else "http"
        where = f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"
    return f"ESG running on {where} (Press CTRL+C to quit)"


def serve_in_process(app: Any, config: Dict[str, Any]) -> None:
    from esg import _esg, _log
    from esg.errors import AppLoadError
    from esg.serve import Serving, limit_requests, new_event_loop, prepare_app, require_tls_support

    _esg.init_log(config["log_level"], config["use_colors"], bool(config["access_log"]))
    require_tls_support(config, "esg.run()")
    pid = os.getpid()
    bound = sockets.bind(config)
    listeners = [sockets.listener_for(bound.sock)]
    loop = None
    serving = None
    try:
        _log.info(f"Started server process [{pid}]")
        try:
            loop = new_event_loop(config["loop"])
            asgi = prepare_app(config, app)
        except AppLoadError as exc:
            _log.error(f"Error loading ASGI app. {exc}")
            sys.exit(EXIT_STARTUP_FAILURE)
        holder: Dict[str, Serving] = {}
        if config.get("limit_max_requests"):
            def on_limit() -> None:
                _log.warning(f"Maximum request limit of {config['limit_max_requests']} exceeded. "
                             f"Terminating process.")
                loop.call_soon(holder["serving"].stop)
            asgi = limit_requests(asgi, int(config["limit_max_requests"]), on_limit)
        serving = holder["serving"] = Serving(asgi, config, listeners)
        asyncio.set_event_loop(loop)
        code = loop.run_until_complete(_run_with_signals(serving, lambda: _log.info(
            running_message(config, bound.sock))))
        if code != 0:
            _log.error(serving.failure_message or "Application startup failed. Exiting.")
            sys.exit(code)
        _log.info(f"Finished server process [{pid}]")
    finally:
        if serving is None or serving.engine is None:
            sockets.close_unused(listeners)
        bound.close()
        if loop is not None:
            asyncio.set_event_loop(None)
            loop.close()


async def _run_with_signals(serving: Any, on_ready: Callable[[], None]) -> int:
    """Serving.run with SIGINT/SIGTERM → graceful stop (a second SIGINT exits at once), main thread only."""
    loop = asyncio.get_running_loop()
    installed = []
    interrupts = 0

    def on_signal(signum: int) -> None:
        nonlocal interrupts
        if signum == signal.SIGINT:
            interrupts += 1
            if interrupts > 1:
                os._exit(1)
        serving.stop()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
    try:
        return await serving.run(on_ready=on_ready)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
