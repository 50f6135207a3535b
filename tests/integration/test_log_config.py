"""--log-config with .ini, .json and .yaml files: the file's handlers and formats apply to the app's
loggers and to ESG's `esg.error` and `esg.access` loggers (engine messages are forwarded into Python
logging); --log-level overrides the file's esg levels; --no-access-log still
silences access lines; an unusable file is a start-up error naming the option (exit 3).
"""

import json
import re
import textwrap

import pytest

from esgtest import wait_for_file

FORMATS = ["ini", "json", "yaml"]


def config_dict(tmp_path, error_level="INFO"):
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "access": {"format": "ACCESS %(levelname)s %(message)s"},
            "error": {"format": "SERVER %(levelname)s [%(name)s] %(message)s"},
            "app": {"format": "APP %(levelname)s %(message)s"},
        },
        "handlers": {
            "access": {"class": "logging.FileHandler", "filename": str(tmp_path / "access.log"),
                       "formatter": "access"},
            "error": {"class": "logging.FileHandler", "filename": str(tmp_path / "error.log"),
                      "formatter": "error"},
            "app": {"class": "logging.FileHandler", "filename": str(tmp_path / "app.log"), "formatter": "app"},
        },
        "loggers": {
            "esg.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "esg.error": {"handlers": ["error"], "level": error_level, "propagate": False},
            "cfg_app": {"handlers": ["app"], "level": "INFO", "propagate": False},
        },
    }


def write_config(tmp_path, fmt, error_level="INFO"):
    d = config_dict(tmp_path, error_level)
    if fmt == "json":
        path = tmp_path / "logging.json"
        path.write_text(json.dumps(d))
    elif fmt == "yaml":
        yaml = pytest.importorskip("yaml")
        path = tmp_path / "logging.yaml"
        path.write_text(yaml.safe_dump(d))
    else:
        path = tmp_path / "logging.ini"
        path.write_text(textwrap.dedent(f"""\
            [loggers]
            keys=root,access,error,app

            [handlers]
            keys=access,error,app

            [formatters]
            keys=access,error,app

            [logger_root]
            level=WARNING
            handlers=

            [logger_access]
            qualname=esg.access
            level=INFO
            handlers=access
            propagate=0

            [logger_error]
            qualname=esg.error
            level={error_level}
            handlers=error
            propagate=0

            [logger_app]
            qualname=cfg_app
            level=INFO
            handlers=app
            propagate=0

            [handler_access]
            class=FileHandler
            args=({str(tmp_path / "access.log")!r},)
            formatter=access

            [handler_error]
            class=FileHandler
            args=({str(tmp_path / "error.log")!r},)
            formatter=error

            [handler_app]
            class=FileHandler
            args=({str(tmp_path / "app.log")!r},)
            formatter=app

            [formatter_access]
            format=ACCESS %(levelname)s %(message)s

            [formatter_error]
            format=SERVER %(levelname)s [%(name)s] %(message)s

            [formatter_app]
            format=APP %(levelname)s %(message)s
            """))
    return path


def wait_for_line(path, pattern, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text() if path.exists() else ""
        if re.search(pattern, text, re.M):
            return text
        if time.monotonic() > deadline:
            pytest.fail(f"{pattern!r} not in {path}:\n{text}", pytrace=False)
        time.sleep(0.05)


@pytest.mark.parametrize("fmt", FORMATS)
def test_log_config_routes_esg_and_app_loggers(esg_server, tmp_path, fmt):
    config = write_config(tmp_path, fmt)
    server = esg_server(["--log-config", str(config)], app="cfg_app:app")
    assert server.get("/log?word=bonjour").text == "logged"
    access = wait_for_line(tmp_path / "access.log",
                           r'^ACCESS INFO 127\.0\.0\.1:\d+ - "GET /log\?word=bonjour HTTP/1\.1" 200$')
    assert "INFO:" not in access
    error = wait_for_line(tmp_path / "error.log", r"^SERVER INFO \[esg\.error\] Started server process \[\d+\]$")
    assert "SERVER INFO [esg.error] Waiting for application startup." in error
    app_log = wait_for_line(tmp_path / "app.log", r"^APP WARNING app says bonjour$")
    assert "APP INFO cfg_app imported" in app_log  # configured before the app was imported
    # Forwarded lines no longer reach the worker's stdout/stderr.
    assert "GET /log" not in server.stdout()
    assert "Started server process" not in server.stderr()
    assert server.stop() == 0
    wait_for_line(tmp_path / "error.log", r"^SERVER INFO \[esg\.error\] Shutting down$")


def test_log_config_levels_from_the_file(esg_server, tmp_path):
    config = write_config(tmp_path, "json", error_level="WARNING")
    server = esg_server(["--log-config", str(config)], app="cfg_app:app")
    server.get("/log")
    wait_for_line(tmp_path / "access.log", r'"GET /log HTTP/1\.1" 200')
    assert server.stop() == 0
    assert "Started server process" not in (tmp_path / "error.log").read_text()


@pytest.mark.parametrize("level", ["debug", "trace"])
def test_log_level_overrides_the_file(esg_server, tmp_path, level):
    # The file says WARNING for esg.error; an explicit --log-level (other than the default) wins.
    config = write_config(tmp_path, "json", error_level="WARNING")
    server = esg_server(["--log-config", str(config), "--log-level", level], app="cfg_app:app")
    server.get("/log")
    wait_for_line(tmp_path / "error.log", r"^SERVER INFO \[esg\.error\] Started server process")


def test_no_access_log_with_log_config(esg_server, tmp_path):
    config = write_config(tmp_path, "ini")
    server = esg_server(["--log-config", str(config), "--no-access-log"], app="cfg_app:app")
    server.get("/log")
    wait_for_line(tmp_path / "app.log", r"app says hello")
    assert server.stop() == 0
    assert not (tmp_path / "access.log").exists() or (tmp_path / "access.log").read_text() == ""


def test_uvicorn_style_levelprefix_formatter(esg_server, tmp_path):
    d = {"version": 1, "disable_existing_loggers": False,
         "formatters": {"default": {"()": "esg.logconfig.Formatter", "fmt": "%(levelprefix)s %(message)s"}},
         "handlers": {"file": {"class": "logging.FileHandler", "filename": str(tmp_path / "all.log"),
                               "formatter": "default"}},
         "loggers": {"esg.error": {"handlers": ["file"], "level": "INFO"},
                     "esg.access": {"handlers": ["file"], "level": "INFO"}}}
    path = tmp_path / "log.json"
    path.write_text(json.dumps(d))
    server = esg_server(["--log-config", str(path)], app="cfg_app:app")
    server.get("/")
    text = wait_for_line(tmp_path / "all.log", r'^INFO:     127\.0\.0\.1:\d+ - "GET / HTTP/1\.1" 200$')
    assert re.search(r"^INFO:     Started server process \[\d+\]$", text, re.M)


@pytest.mark.parametrize("content,suffix,needle", [
    (None, ".ini", "No such file or directory"),
    ("{not json", ".json", "is not a valid logging configuration"),
    ("[loggers]\nkeys=x\n", ".ini", "is not a valid logging configuration"),
    ("version: 1\nhandlers: {h: {class: no.such.Handler}}\n", ".yaml", "is not a valid logging configuration"),
])
def test_bad_log_config_is_a_startup_error(run_esg, tmp_path, content, suffix, needle):
    path = tmp_path / f"logging{suffix}"
    if content is not None:
        path.write_text(content)
    result = run_esg(["--port", "0", "--log-config", str(path), "cfg_app:app"])
    assert result.returncode == 3, result
    assert "--log-config" in result.stderr and needle in result.stderr, result.stderr
    assert str(path) in result.stderr
