"""ESG's settings on the Python side: their defaults, how keyword arguments become a worker config, and how
they become `esg` command-line flags.

This is the one Python copy of the defaults of server/common/config.h (what `esg --help` shows). Used by
`esg.run(...)` (esg.main) and gunicorn's ESGWorker (esg.workers); tests/integration/test_run_config.py
compares DEFAULTS with the native CLI so the two cannot drift apart.
"""

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

# Every option `esg.run(**kwargs)` accepts, with the default the `esg` CLI uses. None means "unset"
# (workers: $WEB_CONCURRENCY or 1; wsgi_threads: $ESG_WSGI_THREADS or 10; forwarded_allow_ips:
# $FORWARDED_ALLOW_IPS or 127.0.0.1; use_colors: only on a TTY; limits and the graceful timeout: no limit).
DEFAULTS: Dict[str, Any] = {
    "app_dir": ".",
    "factory": False,
    "interface": "auto",
    "host": "127.0.0.1",
    "port": 8000,
    "uds": "",
    "fd": -1,
    "backlog": 2048,
    "workers": None,
    "reload": False,
    "reload_dirs": [],
    "reload_includes": [],
    "reload_excludes": [],
    "reload_delay": 0.25,
    "loop": "auto",
    "wsgi_threads": None,
    "cpu_scheduling": "batch",
    "ws": "auto",
    "ws_max_size": 16777216,
    "ws_ping_interval": 20.0,
    "ws_ping_timeout": 20.0,
    "ws_per_message_deflate": True,
    "lifespan": "auto",
    "env_file": "",
    "log_config": "",
    "log_level": "info",
    "access_log": True,
    "use_colors": None,
    "proxy_headers": True,
    "forwarded_allow_ips": None,
    "server_header": True,
    "date_header": True,
    "root_path": "",
    "headers": [],
    "limit_concurrency": None,
    "limit_max_requests": None,
    "timeout_keep_alive": 5,
    "timeout_graceful_shutdown": None,
    "limit_request_line": 8190,
    "limit_request_fields": 100,
    "limit_request_field_size": 8190,
    "limit_request_head_size": 32768,
    "limit_request_body": 0,
    "timeout_request_header": 30.0,
    "timeout_request_body": 60.0,
    "timeout_send": 60.0,
    "ssl_keyfile": "",
    "ssl_certfile": "",
    "ssl_keyfile_password": "",
    "ssl_version": 17,
    "ssl_cert_reqs": 0,
    "ssl_ca_certs": "",
    "ssl_ciphers": "TLSv1",
    # Supervision, user and release (the master's own options).
    "timeout_worker_healthcheck": 30,
    "limit_max_requests_jitter": 0,
    "user": "",
    "group": "",
    "venv": "",
}

# Names uvicorn users pass that have no meaning for ESG's single HTTP engine. Accepted and ignored so that
# `CONFIG_KWARGS = {"http": "h11"}` and `esg.run(app, http="httptools")` work as they do with uvicorn.
NO_OP_OPTIONS: Dict[str, Tuple[str, ...]] = {
    "http": ("auto", "h11", "httptools"),
}

CHOICES: Dict[str, Tuple[str, ...]] = {
    "interface": ("auto", "asgi3", "asgi2", "wsgi"),
    "loop": ("auto", "asyncio", "uvloop"),
    "cpu_scheduling": ("batch", "normal"),
    "ws": ("auto", "none", "websockets", "wsproto"),
    "lifespan": ("auto", "on", "off"),
    "log_level": ("critical", "error", "warning", "info", "debug", "trace"),
}

# Python name -> CLI flag where the flag is not simply "--" + name with dashes.
_FLAG_NAMES = {
    "reload_dirs": "--reload-dir",
    "reload_includes": "--reload-include",
    "reload_excludes": "--reload-exclude",
    "headers": "--header",
}
_BOOL_PAIRS = ("access_log", "use_colors", "proxy_headers", "server_header", "date_header", "ws_per_message_deflate")
_FLAGS = ("reload", "factory")
_LISTS = ("reload_dirs", "reload_includes", "reload_excludes")


def flag_name(name: str) -> str:
    """The `esg` CLI flag of a Python option name: "log_level" -> "--log-level"."""
    return _FLAG_NAMES.get(name) or "--" + name.replace("_", "-")


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
        config["workers"] = int(env["WEB_CONCURRENCY"]) if env.get("WEB_CONCURRENCY") else 1
    if config["forwarded_allow_ips"] is None:
        config["forwarded_allow_ips"] = env.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"
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
