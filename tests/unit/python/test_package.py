"""The `esg` package's shape: module-level imports form no cycle, esg.errors is a leaf, and the gunicorn
worker module does not pull in esg.main (esg.run's module)."""

import ast
import os

import esg

PACKAGE_DIR = os.path.dirname(esg.__file__)


def module_imports():
    """{module: set of esg modules it imports at module level} for every module of the package's top level."""
    graph = {}
    for name in sorted(os.listdir(PACKAGE_DIR)):
        if not name.endswith(".py"):
            continue
        module = "esg" if name == "__init__.py" else "esg." + name[:-3]
        with open(os.path.join(PACKAGE_DIR, name), encoding="utf-8") as f:
            tree = ast.parse(f.read())
        found = set()
        for node in tree.body:  # module level only: imports inside functions are deliberate and lazy
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("esg"))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("esg"):
                if node.module == "esg":
                    found.update("esg." + a.name for a in node.names)
                else:
                    found.add(node.module)
        graph[module] = {m for m in found if m != module and not m.startswith("esg.control")}
    return graph


def test_no_import_cycles():
    graph = module_imports()
    state = {}

    def visit(module, path):
        if state.get(module) == "done":
            return
        assert state.get(module) != "active", "import cycle: " + " -> ".join(path + [module])
        state[module] = "active"
        for dependency in sorted(graph.get(module, ())):
            if dependency != "esg._esg":
                visit(dependency, path + [module])
        state[module] = "done"

    for module in graph:
        visit(module, [])


def test_errors_is_a_leaf_and_workers_does_not_import_main():
    graph = module_imports()
    assert graph["esg.errors"] == set()
    assert "esg.main" not in graph["esg.workers"]
    assert "esg.wsgi" not in graph["esg.importer"]


def test_child_process_module_is_not_named_like_the_gunicorn_workers_module():
    assert "esg.worker" not in module_imports(), "esg.worker_process is the master's child; esg.workers is gunicorn's"
