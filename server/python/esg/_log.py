"""Worker-side logging helpers: every line goes through the engine's spdlog loggers (esg.error), so
Python and C++ messages share one format, level and colour setting.

Messages often hold text an app produced (exception messages, wsgi.errors writes, lifespan failure
messages). Whatever it is, logging it must not raise: text() turns any object into a str that encodes to
UTF-8 (lone surrogates, as os.fsdecode makes them, are written as backslash escapes), and a traceback
that cannot be formatted is logged as the exception's type name.
"""

import traceback

from esg import _esg

# A traceback longer than this is logged with its middle left out (a 100 MB exception message must not
# become a 100 MB log line). The C++ side applies the same bound (asgi_channel.cc).
MAX_TEXT = 64 * 1024


def text(obj: object) -> str:
    """str(obj), made safe to log: never raises, always encodable as UTF-8, at most MAX_TEXT long."""
    if not isinstance(obj, str):
        try:
            obj = str(obj)
        except Exception:  # noqa: BLE001 - __str__ of app objects may raise anything
            obj = f"<unprintable {type(obj).__name__} object>"
        if not isinstance(obj, str):  # a str subclass whose __str__ misbehaves
            obj = f"<unprintable {type(obj).__name__} object>"
    try:
        obj.encode("utf-8")
    except UnicodeEncodeError:
        obj = obj.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(obj) > MAX_TEXT:
        omitted = len(obj) - MAX_TEXT
        obj = f"{obj[:MAX_TEXT * 3 // 4]}\n... ({omitted} characters omitted) ...\n{obj[-MAX_TEXT // 4:]}"
    return obj


def info(message: object) -> None:
    _esg.log("info", text(message))


def warning(message: object) -> None:
    _esg.log("warning", text(message))


def error(message: object) -> None:
    _esg.log("error", text(message))


def debug(message: object) -> None:
    _esg.log("debug", text(message))


def format_exception(exc: BaseException) -> str:
    """The traceback of `exc` as text() would give it; never raises."""
    try:
        formatted = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip("\n")
    except Exception:  # noqa: BLE001 - a broken exception object must still be logged
        formatted = f"{type(exc).__name__}: <the exception could not be formatted>"
    return text(formatted)


def exception(message: str, exc: BaseException) -> None:
    """Logs `message` followed by the traceback of `exc`."""
    _esg.log("error", text(f"{message}\n{format_exception(exc)}"))
