"""--log-config: a Python logging configuration for the worker, which ESG's own loggers follow too.

The file is applied as uvicorn applies it: `.json` → logging.config.dictConfig(json), `.yaml`/`.yml` →
dictConfig(yaml.safe_load) (needs PyYAML in the app's environment, as with uvicorn), anything else →
logging.config.fileConfig(path, disable_existing_loggers=False) (the .ini format).

Without --log-config, ESG logs through the engine's spdlog loggers straight to stderr/stdout (the fast
path). With it, the engine forwards each message of its `esg.error` and `esg.access` loggers to the
Python loggers of the same names (`_esg.forward_logs_to_python`), so the file decides their handlers,
formats and levels, like it does for the app's loggers. Access messages are the whole uvicorn-style line
(`127.0.0.1:5000 - "GET / HTTP/1.1" 200`) in `%(message)s`.

Levels: the engine drops messages below the most verbose level the two Python loggers accept, so
nothing is lost and nothing useless crosses into Python. A --log-level other than the default (info)
overrides the file's levels for esg.error and esg.access, as uvicorn applies --log-level after the file;
--log-level info is indistinguishable from the default and leaves the file's levels alone.
"""

import atexit
import configparser
import json
import logging
import logging.config
import os
from typing import Any, Mapping, Optional

from esg import _esg
from esg.errors import ConfigFileError

TRACE = 5  # as uvicorn's TRACE_LOG_LEVEL

_SPDLOG_NAMES = ((TRACE, "trace"), (logging.DEBUG, "debug"), (logging.INFO, "info"),
                 (logging.WARNING, "warning"), (logging.ERROR, "error"))


class Formatter(logging.Formatter):
    """A formatter with uvicorn's `%(levelprefix)s` ("INFO:     "), for configurations written for
    uvicorn.logging.DefaultFormatter/AccessFormatter; `use_colors` colours the prefix."""

    _COLORS = {TRACE: "34", logging.DEBUG: "36", logging.INFO: "32", logging.WARNING: "33",
               logging.ERROR: "31", logging.CRITICAL: "91"}

    def __init__(self, fmt: Optional[str] = None, datefmt: Optional[str] = None, style: str = "%",
                 use_colors: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init__(fmt=fmt, datefmt=datefmt, style=style, **kwargs)  # type: ignore[arg-type]
        self.use_colors = bool(use_colors)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        prefix = f"{record.levelname}:"
        padding = " " * max(0, 9 - len(prefix))
        if self.use_colors:
            prefix = f"\x1b[{self._COLORS.get(record.levelno, '91')}m{prefix}\x1b[0m"
        record.levelprefix = prefix + padding
        return super().formatMessage(record)


def _load(path: str) -> None:
    if not os.path.isfile(path):
        reason = "it is a directory" if os.path.isdir(path) else "No such file or directory"
        raise ConfigFileError(f"--log-config: cannot read '{path}': {reason}.")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".json":
            with open(path, encoding="utf-8") as f:
                logging.config.dictConfig(json.load(f))
        elif ext in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ConfigFileError(f"--log-config: '{path}' is YAML, which needs PyYAML installed in the "
                                      "app's environment (pip install PyYAML).") from None
            with open(path, encoding="utf-8") as f:
                logging.config.dictConfig(yaml.safe_load(f))
        else:
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except ConfigFileError:
        raise
    except OSError as exc:
        raise ConfigFileError(f"--log-config: cannot read '{path}': {exc.strerror or exc}.") from None
    except (ValueError, TypeError, KeyError, AttributeError, ImportError, configparser.Error) as exc:
        raise ConfigFileError(f"--log-config: '{path}' is not a valid logging configuration: {exc}") from None
    except Exception as exc:  # noqa: B902 - e.g. yaml.YAMLError; any failure of the file is a config error
        raise ConfigFileError(f"--log-config: '{path}' is not a valid logging configuration: "
                              f"{type(exc).__name__}: {exc}") from None


def _spdlog_level(levelno: int) -> str:
    for number, name in _SPDLOG_NAMES:
        if levelno <= number:
            return name
    return "critical"


def apply(config: Mapping[str, Any]) -> bool:
    """Applies config["log_config"] when set and routes ESG's loggers into Python logging; returns
    whether it did. Raises ConfigFileError naming the option when the file cannot be used."""
    path = config.get("log_config")
    if not path:
        return False
    logging.addLevelName(TRACE, "TRACE")
    _load(str(path))
    error_logger = logging.getLogger("esg.error")
    access_logger = logging.getLogger("esg.access")
    level = config.get("log_level")
    if level and level != "info":
        number = TRACE if level == "trace" else logging.getLevelName(level.upper())
        error_logger.setLevel(number)
        access_logger.setLevel(number)
    if not config.get("access_log", True):
        access_logger.handlers = []
        access_logger.propagate = False
    loggers = (error_logger, access_logger)

    def forward(which: int, levelno: int, message: str) -> None:
        logger = loggers[which]
        if logger.isEnabledFor(levelno):
            logger.log(levelno, message)

    _esg.forward_logs_to_python(forward)
    # Restore the direct path before the interpreter goes away (late engine messages still print).
    atexit.register(_esg.forward_logs_to_python, None)
    most_verbose = min(error_logger.getEffectiveLevel(), access_logger.getEffectiveLevel())
    _esg.set_log_level(_spdlog_level(most_verbose))
    return True
