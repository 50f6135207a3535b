"""Loading the application named by an import string (`module:attribute.path`).

Each failure a user can cause raises AppLoadError (esg.errors) with one sentence saying what was wrong; the
worker prints it and exits with status 3, the way uvicorn users expect.
"""

import importlib
import inspect
import sys
from typing import Any

from esg.errors import AppLoadError


def import_from_string(import_str: str) -> Any:
    module_str, _, attrs_str = import_str.partition(":")
    if not module_str or not attrs_str:
        raise AppLoadError(f'Import string "{import_str}" must be in format "<module>:<attribute>".')
    try:
        module = importlib.import_module(module_str)
    except ModuleNotFoundError as exc:
        # Only a missing *named* module is the user's typo; a missing dependency keeps its traceback.
        if exc.name != module_str and not module_str.startswith(f"{exc.name}."):
            raise
        raise AppLoadError(f'Could not import module "{module_str}".') from None
    instance = module
    try:
        for attr in attrs_str.split("."):
            instance = getattr(instance, attr)
    except AttributeError:
        raise AppLoadError(f'Attribute "{attrs_str}" not found in module "{module_str}".') from None
    return instance


def load_app(import_str: str, app_dir: str, factory: bool) -> Any:
    """Imports the app (after putting `app_dir` first on sys.path) and calls it if it is a factory."""
    if app_dir is not None:
        sys.path.insert(0, app_dir)
    app = import_from_string(import_str)
    if factory:
        if not callable(app):
            raise AppLoadError(f'Application factory "{import_str}" is not callable.')
        app = app()
    if not callable(app):
        raise AppLoadError(f'Application "{import_str}" is not callable (an ASGI app is a callable).')
    return app


def detect_interface(app: Any) -> str:
    """ASGI 3 when the app (or its __call__) is a coroutine function, else ASGI 2 (as uvicorn decides)."""
    if inspect.isclass(app):
        return "asgi3" if hasattr(app, "__await__") else "asgi2"
    if inspect.isfunction(app):
        return "asgi3" if inspect.iscoroutinefunction(app) else "asgi2"
    call = getattr(app, "__call__", None)
    return "asgi3" if inspect.iscoroutinefunction(call) else "asgi2"


def as_asgi3(app: Any, interface: str) -> Any:
    """Returns an ASGI 3 callable for `app` under `interface` ("auto", "asgi3" or "asgi2"). A WSGI app is
    wrapped by esg.wsgi.make_adapter instead (serve.prepare_app)."""
    if interface == "auto":
        interface = detect_interface(app)
    if interface == "asgi2":

        async def asgi2_adapter(scope, receive, send):
            # The app speaks ASGI 2: its scopes say so (uvicorn's asgi_version), in every scope type. The
            # scope is the request's own dict; its "asgi" value is replaced, not mutated (the engine
            # shares one dict between requests).
            asgi = scope.get("asgi")
            scope["asgi"] = {"version": "2.0", "spec_version": asgi.get("spec_version", "2.0") if asgi else "2.0"}
            instance = app(scope)
            await instance(receive, send)

        return asgi2_adapter
    return app
