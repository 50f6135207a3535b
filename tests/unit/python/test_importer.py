"""esg.importer: import strings, app factories and ASGI 2/3 detection, without a server."""

import asyncio
import sys

import pytest

from esg.errors import AppLoadError
from esg.importer import as_asgi3, detect_interface, import_from_string, load_app


def write_module(tmp_path, name, text):
    (tmp_path / f"{name}.py").write_text(text)
    sys.modules.pop(name, None)


def test_import_string_needs_module_and_attribute():
    for bad in ("nocolon", ":app", "module:"):
        with pytest.raises(AppLoadError, match="must be in format"):
            import_from_string(bad)


def test_missing_module_is_a_load_error_but_a_missing_dependency_keeps_its_traceback(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AppLoadError, match='Could not import module "no_such_esg_module"'):
        import_from_string("no_such_esg_module:app")
    write_module(tmp_path, "needs_missing_dep", "import no_such_esg_dependency\napp = 1\n")
    with pytest.raises(ModuleNotFoundError):
        import_from_string("needs_missing_dep:app")


def test_dotted_attribute_path_and_missing_attribute(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    write_module(tmp_path, "dotted_app", "class Holder:\n    app = 'found'\n")
    assert import_from_string("dotted_app:Holder.app") == "found"
    with pytest.raises(AppLoadError, match='Attribute "Holder.nope" not found in module "dotted_app"'):
        import_from_string("dotted_app:Holder.nope")


def test_load_app_puts_app_dir_first_and_calls_factories(tmp_path):
    write_module(tmp_path, "factory_app", "def make():\n    async def app(s, r, c):\n        pass\n    return app\n"
                 "not_callable = 42\n")
    try:
        app = load_app("factory_app:make", str(tmp_path), factory=True)
        assert asyncio.iscoroutinefunction(app)
        assert sys.path[0] == str(tmp_path)
        with pytest.raises(AppLoadError, match="is not callable"):
            load_app("factory_app:not_callable", str(tmp_path), factory=False)
        with pytest.raises(AppLoadError, match='factory "factory_app:not_callable" is not callable'):
            load_app("factory_app:not_callable", str(tmp_path), factory=True)
    finally:
        while str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))


def test_detect_interface():
    async def asgi3(scope, receive, send):
        pass

    def asgi2(scope):
        pass

    class Asgi3Instance:
        async def __call__(self, scope, receive, send):
            pass

    class Asgi2Class:
        def __init__(self, scope):
            pass

    assert detect_interface(asgi3) == "asgi3"
    assert detect_interface(asgi2) == "asgi2"
    assert detect_interface(Asgi3Instance()) == "asgi3"
    assert detect_interface(Asgi2Class) == "asgi2"


def test_asgi2_adapter_calls_the_instance_and_marks_the_scope():
    seen = {}

    def app(scope):
        seen["scope"] = scope

        async def instance(receive, send):
            seen["called"] = (receive, send)

        return instance

    wrapped = as_asgi3(app, "auto")
    shared = {"version": "3.0", "spec_version": "2.3"}
    scope = {"type": "http", "asgi": shared}
    asyncio.run(wrapped(scope, "r", "s"))
    assert seen["called"] == ("r", "s")
    assert scope["asgi"] == {"version": "2.0", "spec_version": "2.3"}
    assert shared == {"version": "3.0", "spec_version": "2.3"}, "the engine's shared dict must not change"


def test_asgi3_app_is_served_as_is():
    async def app(scope, receive, send):
        pass

    assert as_asgi3(app, "asgi3") is app
    assert as_asgi3(app, "auto") is app
