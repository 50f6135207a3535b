"""--env-file: KEY=VALUE lines loaded into os.environ in the worker, before the app is imported.

The syntax is python-dotenv's (what uvicorn uses for this option), parsed here so that the worker needs
nothing installed in the app's environment:

    # a comment                     KEY=value            export KEY=value
    KEY=value # inline comment      KEY=                 (empty string)
    KEY='single $quoted, literal'   KEY="double \\n escapes, ${OTHER} and ${OTHER:-default}, may span
    lines"                          KEY                  (no '=': ignored, as python-dotenv does)

As with uvicorn (`load_dotenv(path)`, override off), a variable already set in the environment wins over
the file. The file is read by each new worker, so a reload picks up its new contents. A line that does
not parse is skipped with a warning naming its line number.
"""

import os
import re
from typing import Dict, Iterator, Mapping, Optional, Tuple

from esg import _log
from esg.errors import ConfigFileError


_KEY = re.compile(r"[ \t]*(?:export[ \t]+)?(?:'([^']+)'|([^=#\s'\"]+))[ \t]*")
_SINGLE = re.compile(r"'((?:\\'|[^'])*)'")
_DOUBLE = re.compile(r'"((?:\\"|[^"])*)"')
_UNQUOTED = re.compile(r"([^\r\n]*)")
_REST_OF_LINE = re.compile(r"[ \t]*(?:#[^\r\n]*)?(?:\r\n|\n|\r|$)")
_SKIP = re.compile(r"(?:[ \t]*(?:#[^\r\n]*)?(?:\r\n|\n|\r))+")
_EXPANSION = re.compile(r"\$\{(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}")
_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "$": "$", "0": "\0",
                   "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unescape_double(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _DOUBLE_ESCAPES.get(m.group(1), m.group(0)), text, flags=re.S)


def _expand(value: str, file_values: Mapping[str, str]) -> str:
    def one(match: "re.Match[str]") -> str:
        name = match.group("name")
        found = os.environ.get(name, file_values.get(name))
        if found:
            return found
        return match.group("default") or ""

    return _EXPANSION.sub(one, value)


def parse(text: str) -> Iterator[Tuple[Optional[str], Optional[str], bool, int]]:
    """Yields (key, value, expand, line) per statement: value None for a bare KEY, key None for a line
    that does not parse; `expand` says whether ${...} applies (not in single quotes)."""
    pos, line = 0, 1
    end = len(text)
    while pos < end:
        skipped = _SKIP.match(text, pos)
        if skipped and skipped.end() > pos:
            line += _count_lines(skipped.group(0))
            pos = skipped.end()
            continue
        start_line = line
        key_match = _KEY.match(text, pos)
        if not key_match:
            pos, line = _skip_line(text, pos, line)
            yield None, None, False, start_line
            continue
        key = key_match.group(1) or key_match.group(2)
        pos = key_match.end()
        if pos >= end or text[pos] != "=":
            rest = _REST_OF_LINE.match(text, pos)
            if rest:
                line += _count_lines(rest.group(0))
                pos = rest.end()
                yield key, None, False, start_line
            else:
                pos, line = _skip_line(text, pos, line)
                yield None, None, False, start_line
            continue
        pos += 1
        spaced = pos < end and text[pos] in " \t"
        while pos < end and text[pos] in " \t":
            pos += 1
        quote = text[pos] if pos < end else ""
        if quote == "'":
            m = _SINGLE.match(text, pos)
            value = m.group(1).replace("\\'", "'").replace("\\\\", "\\") if m else None
        elif quote == '"':
            m = _DOUBLE.match(text, pos)
            value = _unescape_double(m.group(1)) if m else None
        else:
            m = _UNQUOTED.match(text, pos)
            value = re.sub(r"\s+#.*", "", m.group(1)).rstrip() if m else None
            if value is not None and spaced and value.startswith("#"):
                value = ""  # KEY= # comment
        rest = _REST_OF_LINE.match(text, m.end()) if m else None
        if value is None or rest is None:
            pos, line = _skip_line(text, pos, line)
            yield None, None, False, start_line
            continue
        line += _count_lines(m.group(0)) + _count_lines(rest.group(0))
        pos = rest.end()
        yield key, value, quote != "'", start_line


def _count_lines(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _skip_line(text: str, pos: int, line: int) -> Tuple[int, int]:
    newline = re.compile(r"\r\n|\n|\r").search(text, pos)
    if newline is None:
        return len(text), line
    return newline.end(), line + 1


def read(path: str) -> Dict[str, str]:
    """The variables the file at `path` defines, expanded. Raises ConfigFileError."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigFileError(f"--env-file: cannot read '{path}': {exc.strerror or exc}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"--env-file: '{path}' is not UTF-8 text ({exc.reason}).") from None
    values: Dict[str, str] = {}
    for key, value, expand, line in parse(text):
        if key is None:
            _log.warning(f"--env-file: could not parse the statement at line {line} of '{path}'; skipped it.")
        elif value is not None:
            values[key] = _expand(value, values) if expand else value
    return values


def load(path: str) -> Dict[str, str]:
    """Loads `path` into os.environ without overriding variables that are already set; returns what the
    file defines. Raises ConfigFileError."""
    values = read(path)
    if values and all(os.environ.get(key) == value for key, value in values.items()):
        # Already in our environment: the `esg` master loaded the file for its workers.
        _log.debug(f"Environment from '{path}' already loaded")
        return values
    _log.info(f"Loading environment from '{path}'")
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return values


def load_from_config(config: Mapping[str, object]) -> None:
    """Loads config["env_file"] when it is set (called before the app is imported)."""
    path = config.get("env_file")
    if path:
        load(str(path))
