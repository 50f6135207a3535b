"""The PEP 3333 environ of a WSGI request, built from its ASGI http scope (esg.wsgi's adapter uses it).

Built per request on the loop thread, so it is kept cheap: the common request's environ is built in C
(`fast_environ`, binding/wsgi_environ.cc), which leaves anything else (a root path, a percent-encoded
path, a UNIX socket, a scope not made by the engine) to `_environ` here, the reference it mirrors. Both
map request header names to environ keys through one bounded cache, and find the Expect header in the
same pass (the adapter must not read the body before the app asks)."""

import functools
import urllib.parse
from typing import Any, Dict, Optional, Tuple

from esg import _esg


def _latin1(text: str) -> str:
    """A str as PEP 3333 wants it: its UTF-8 bytes seen as latin-1 ("bytes-as-str")."""
    return text.encode("utf-8").decode("latin-1")


_SERVER_NAMES: Dict[Any, Tuple[str, str]] = {}  # scope["server"] -> (SERVER_NAME, SERVER_PORT); few listeners


def _server_name_port(server: Any, scheme: Any, host_header: Optional[str]) -> Tuple[str, str]:
    if server and server[1] is not None:
        if type(server) is not tuple:  # a list (ASGI allows either) cannot be a key
            return str(server[0]), str(server[1])
        names = _SERVER_NAMES.get(server)
        if names is None:
            names = (str(server[0]), str(server[1]))
            if len(_SERVER_NAMES) < 64:
                _SERVER_NAMES[server] = names
        return names
    # A UNIX socket has no name and port: take them from Host, which the proxy in front of it sets.
    default_port = "443" if scheme in ("https", "wss") else "80"
    if not host_header:
        return "localhost", default_port
    name, sep, port = host_header.rpartition(":")
    if sep and port.isdigit() and (not name.startswith("[") or name.endswith("]")):
        return name, port
    return host_header, default_port


_PROTOCOLS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0", "2": "HTTP/2"}

# Request header name (bytes, as the engine passes it) -> environ key, or "" for a dropped name.
# Filled as names are seen; bounded so that a client sending ever new names cannot grow it.
_HEADER_KEYS: Dict[bytes, str] = {}
_HEADER_KEYS_MAX = 512


def _header_key(raw_name: bytes) -> str:
    """The environ key of a request header name; "" when the name is dropped."""
    name = raw_name.lower()
    if name == b"content-type":
        key = "CONTENT_TYPE"
    elif name == b"content-length":
        key = "CONTENT_LENGTH"
    elif name.find(b"_") >= 0:
        key = ""
    else:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
    if len(_HEADER_KEYS) < _HEADER_KEYS_MAX:
        _HEADER_KEYS[raw_name] = key
    return key


def build_environ(scope: Dict[str, Any], wsgi_input: Any, errors: Any, multiprocess: bool) -> Dict[str, Any]:
    """The PEP 3333 environ for an ASGI http scope.

    PATH_INFO is the percent-decoded request path seen as latin-1 (so the app can recover the exact
    bytes, whatever their encoding), with the --root-path prefix moved to SCRIPT_NAME. Request headers
    whose names contain "_" are dropped: once "-" and "_" both map to "_", X-Auth_User could otherwise
    pose as X-Auth-User to an app behind a proxy that filters only the latter (header smuggling)."""
    built = fast_environ(scope, wsgi_input, errors, multiprocess)
    return (built or _environ(scope, wsgi_input, errors, multiprocess))[0]


def _environ(scope: Dict[str, Any], wsgi_input: Any, errors: Any,
             multiprocess: bool) -> Tuple[Dict[str, Any], bool]:
    """build_environ, and whether the request has an Expect header (one pass over the headers).

    Runs once per request on the loop thread, and every bytecode counts (callgrind, tests/bench): the
    engine's scope has every key, so they are read by subscript (a scope from elsewhere may lack some:
    the defaults are taken then); the environ is one dict display with the constant keys in it, not a
    template copied and then filled; `bytes.find` rather than `in` (`b"%" in path` first tries the
    needle as an integer and raises and clears a TypeError, ~1,600 instructions)."""
    try:
        root_path = scope["root_path"]
        raw_path = scope["raw_path"]
        version = scope["http_version"]
        query = scope["query_string"]
        scheme = scope["scheme"]
        headers = scope["headers"]
        client = scope["client"]
        server = scope["server"]
    except KeyError:
        root_path = scope.get("root_path", "")
        raw_path = scope.get("raw_path")
        version = scope.get("http_version", "1.1")
        query = scope.get("query_string", b"")
        scheme = scope.get("scheme", "http")
        headers = scope.get("headers", ())
        client = scope.get("client")
        server = scope.get("server")
    if raw_path is None:
        raw_path = scope["path"].encode("utf-8")
    if root_path:
        root_raw = root_path.encode("utf-8")
        if raw_path.startswith(root_raw):
            raw_path = raw_path[len(root_raw):]
        script_name = _latin1(root_path)
    else:
        script_name = ""
    if raw_path.find(b"%") >= 0:
        path_info = urllib.parse.unquote_to_bytes(raw_path).decode("latin-1")
    else:
        path_info = raw_path.decode("latin-1")
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": query.decode("latin-1") if query else "",
        "SERVER_PROTOCOL": _PROTOCOLS.get(version) or f"HTTP/{version}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": wsgi_input,
        "wsgi.errors": errors,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True if multiprocess else False,
        "wsgi.run_once": False,
        # wsgi.input ends at the body's end even without Content-Length (chunked requests): the
        # convention (mod_wsgi, gunicorn) that tells werkzeug it may read such a body.
        "wsgi.input_terminated": True,
    }
    if client:
        environ["REMOTE_ADDR"] = str(client[0])
        environ["REMOTE_PORT"] = str(client[1])
    host_header = None
    expect = False
    keys = _HEADER_KEYS
    for name, value in headers:
        key = keys.get(name)
        if key is None:
            key = _header_key(name)
        if not key:  # "": a dropped name
            continue
        text = value.decode("latin-1")
        if key == "HTTP_HOST":
            host_header = text
        elif key == "HTTP_EXPECT":
            expect = True
        if key in environ:
            joiner = "; " if key == "HTTP_COOKIE" else ","
            environ[key] = environ[key] + joiner + text
        else:
            environ[key] = text
    environ["SERVER_NAME"], environ["SERVER_PORT"] = _server_name_port(server, scheme, host_header)
    return environ, expect


# fast_environ(scope, wsgi_input, errors, multiprocess) -> (environ, expect) for an engine scope of the
# common shape, else None (then _environ builds it): the C version of _environ, about a fifth of its cost.
fast_environ = functools.partial(_esg.wsgi_environ, _HEADER_KEYS, _header_key)
