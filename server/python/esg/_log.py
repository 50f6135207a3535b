"""Worker-side logging helpers: every line goes through the engine's spdlog loggers (esg.error), so
Python and C++ messages share one format, level and colour setting."""

import traceback

from esg import _esg


def info(message: str) -> None:
    _esg.log("info", message)


def warning(message: str) -> None:
    _esg.log("warning", message)


def error(message: str) -> None:
    _esg.log("error", message)


def debug(message: str) -> None:
    _esg.log("debug", message)


def exception(message: str, exc: BaseException) -> None:
    """Logs `message` followed by the traceback of `exc`."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip("\n")
    _esg.log("error", f"{message}\n{text}")
