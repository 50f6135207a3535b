"""ESG's settings on the Python side: how keyword arguments become a worker config, and how they become
`esg` command-line flags.

The names, defaults, flags and choices are not written here: they come from esg/_schema.py, which the
build generates from the C++ tables (server/common/config.h, server/master/options.cc), so esg.run(...)
(esg.main) and gunicorn's ESGWorker (esg.workers) accept exactly the settings of the worker config, with
the defaults `esg --help` shows. tests/integration/test_run_config.py checks that against the native CLI.
"""

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from esg._schema import DEFAULT_FORWARDED_ALLOW_IPS, DEFAULT_WORKERS, SETTINGS

# Every option `esg.run(**kwargs)` accepts, with the default the `esg` CLI uses. None means "unset"
# (workers: $WEB_CONCURRENCY or 1; wsgi_threads: $ESG_WSGI_THREADS or 128; forwarded_allow_ips:
# $FORWARDED_ALLOW_IPS or 127.0.0.1; use_colors: only on a TTY; limits and the graceful timeout: no limit).
DEFAULTS: Dict[str, Any] = {name: default for name, (default, _flag, _kind, _choices) in SETTINGS.items()}

# Names uvicorn users pass that have no meaning for ESG's single HTTP engine. Accepted and ignored so that
# `CONFIG_KWARGS = {"http": "h11"}` and `esg.run(app, http="httptools")` work as they do with uvicorn.
NO_OP_OPTIONS: Dict[str, Tuple[str, ...]] = {
    "http": ("auto", "h11", "httptools", "zttp"),
}

# Options only the `esg` master can honour (it watches and replaces the workers): refused, rather than
# silently ignored, where there is no master (an app object served in-process, a gunicorn worker).
MASTER_ONLY_OPTIONS: Tuple[str, ...] = ("limit_worker_memory", "limit_worker_lifetime", "metrics_bind")


def master_only_in(options: Mapping[str, Any]) -> List[str]:
    """The master-only options set (not None) in `options`."""
    return [name for name in MASTER_ONLY_OPTIONS if options.get(name) not in (None, "")]


CHOICES: Dict[str, Tuple[str, ...]] = {name: choices for name, (_d, _f, kind, choices) in SETTINGS.items()
                                      if kind == "choice"}

_BOOL_PAIRS = tuple(name for name, (_d, _f, kind, _c) in SETTINGS.items() if kind == "pair")
_FLAGS = tuple(name for name, (_d, _f, kind, _c) in SETTINGS.items() if kind == "flag")
_LISTS = tuple(name for name, (_d, _f, kind, _c) in SETTINGS.items() if kind == "list")


def flag_name(name: str) -> str:
    """The `esg` CLI flag of a Python option name: "log_level" -> "--log-level", "headers" -> "--header"."""
    return SETTINGS[name][1] if name in SETTINGS else "--" + name.replace("_", "-")


# Numeric settings whose range the `esg` CLI checks (exit 2) but a keyword argument would bypass.
_SECONDS_OR_OFF = ("timeout_request",)
_POSITIVE_INT32 = ("http2_max_concurrent_streams",)


def _positive_int32(value: Any) -> bool:
    """An int in 1..2**31-1, the CLI's range (bools are refused)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 2**31 - 1


def _seconds_or_off(value: Any) -> bool:
    """A finite number >= 0 (bools are refused: True is not a duration)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value >= 0 and value != float("inf")


def check_options(options: Mapping[str, Any], where: str = "esg.run()") -> None:
    """TypeError for an option ESG does not have, ValueError for a value outside its choices."""
    for name, value in options.items():
        if name in NO_OP_OPTIONS:
            if value not in NO_OP_OPTIONS[name]:
                raise ValueError(f"{where}: {name}={value!r} is not one of {', '.join(NO_OP_OPTIONS[name])}.")
            continue
        if name not in DEFAULTS:
            raise TypeError(f"{where} got an unexpected keyword argument {name!r} (see `esg --help` for the "
                            f"options; Python names use underscores, e.g. log_level).")
        if name in CHOICES and value not in CHOICES[name] and value is not None:
            raise ValueError(f"{where}: {name}={value!r} is not one of {', '.join(CHOICES[name])}.")
        if name in _SECONDS_OR_OFF and value is not None and not _seconds_or_off(value):
            raise ValueError(f"{where}: {name}={value!r} must be 0 (off) or a positive number of seconds "
                             f"({flag_name(name)}).")
        if name in _POSITIVE_INT32 and value is not None and not _positive_int32(value):
            raise ValueError(f"{where}: {name}={value!r} must be an integer from 1 to 2147483647 "
                             f"({flag_name(name)}).")
        if name == "access_log_format" and value:
            from esg import _esg  # the engine's own compiler: one definition of a valid format

            why = _esg.check_access_log_format(str(value))
            if why is not None:
                raise ValueError(f"{where}: access_log_format={value!r}: {why}.")


def normalize_headers(headers: Any) -> List[List[str]]:
    """`headers` as [[name, value], ...] from [(name, value)] pairs or "Name:Value" strings."""
    out = []
    for item in headers or []:
        if isinstance(item, str):
            name, sep, value = item.partition(":")
            if not sep:
                raise ValueError(f"header {item!r} is not a Name:Value pair.")
            out.append([name.strip(), value.strip()])
        else:
            name, value = item
            out.append([str(name), str(value)])
    return out


def build(options: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """The complete config dict (what the master hands a worker) for `options` over DEFAULTS.

    Resolves the environment defaults the CLI resolves ($WEB_CONCURRENCY, $FORWARDED_ALLOW_IPS)."""
    check_options(options)
    env = os.environ if environ is None else environ
    config = {name: (list(value) if isinstance(value, list) else value) for name, value in DEFAULTS.items()}
    config.update({k: v for k, v in options.items() if k not in NO_OP_OPTIONS})
    for name in _LISTS:
        if isinstance(config[name], str):
            config[name] = [config[name]]
    config["headers"] = normalize_headers(config["headers"])
    if config["workers"] is None:
        config["workers"] = int(env["WEB_CONCURRENCY"]) if env.get("WEB_CONCURRENCY") else DEFAULT_WORKERS
    if config["forwarded_allow_ips"] is None:
        config["forwarded_allow_ips"] = env.get("FORWARDED_ALLOW_IPS") or DEFAULT_FORWARDED_ALLOW_IPS
    elif isinstance(config["forwarded_allow_ips"], (list, tuple)):
        config["forwarded_allow_ips"] = ",".join(config["forwarded_allow_ips"])
    if config["uds"] is None:
        config["uds"] = ""
    if config["fd"] is None:
        config["fd"] = -1
    return config


def cli_args(options: Mapping[str, Any]) -> List[str]:
    """`esg` flags equivalent to `options` (only those that differ from the defaults)."""
    check_options(options)
    args: List[str] = []
    for name, value in options.items():
        if name in NO_OP_OPTIONS or value is None or name in ("app",):
            continue
        if name not in ("headers",) + _LISTS and value == DEFAULTS[name]:
            continue
        flag = flag_name(name)
        if name in _BOOL_PAIRS:
            args.append(flag if value else "--no-" + flag[2:])
        elif name in _FLAGS:
            if value:
                args.append(flag)
        elif name in _LISTS:
            for item in [value] if isinstance(value, str) else value:
                args += [flag, str(item)]
        elif name == "headers":
            for header_name, header_value in normalize_headers(value):
                args += [flag, f"{header_name}:{header_value}"]
        elif name == "forwarded_allow_ips" and isinstance(value, (list, tuple)):
            args += [flag, ",".join(value)]
        elif name == "timeout_graceful_shutdown":
            if float(value) != int(value):
                raise ValueError("timeout_graceful_shutdown must be a whole number of seconds.")
            args += [flag, str(int(value))]
        elif name == "log_config" and not isinstance(value, (str, os.PathLike)):
            raise TypeError("log_config must be a file path when the app is an import string.")
        else:
            args += [flag, str(value)]
    return args


def uses_tls(config: Mapping[str, Any]) -> bool:
    return bool(config.get("ssl_certfile") or config.get("ssl_keyfile"))
