"""The package is layered: each folder imports only the folders below it, and no
module imports, however lazily, a module that imports it back."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "reload_server"

# Bottom to top: a module may import its own layer and the layers before it.
LAYERS = ("version", "core", "adapters", "wire", "runtime", "engines", "server", "cli", "")
# Public entry modules of the top layer, besides __init__ and __main__: each
# forwards one engine's names (``reload_server.dask``) from ``engines/``.
FACADES = ("__main__", "dask", "celery")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every package module ``path`` imports anywhere in its code, TYPE_CHECKING blocks too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from pkg import mod`` imports the module pkg.mod.
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            # The deepest package module the name refers to.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _layer(name: str) -> int:
    part = name.split(".")[1] if "." in name else ""
    if part in FACADES:
        part = ""
    return LAYERS.index(part) if part in LAYERS else LAYERS.index("")


def test_every_module_belongs_to_a_layer():
    strays = [n for n in _modules() if "." in n and n.split(".")[1] not in LAYERS + FACADES]
    assert strays == []


def test_layers_import_only_the_layers_below_them():
    upward = sorted(
        f"{name} imports {target}"
        for name, targets in _graph().items()
        for target in targets
        if _layer(target) > _layer(name)
    )
    assert upward == []


def test_no_module_imports_one_that_imports_it_back():
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert [" -> ".join(c) for c in cycles] == []


def test_the_core_imports_no_threads_or_sockets_of_its_own():
    forbidden = {"socket", "asyncio", "selectors", "concurrent"}
    used = sorted(
        f"{path.name}: {alias}"
        for path in (PACKAGE / "core").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
        if alias.split(".")[0] in forbidden
    )
    assert used == []


def test_importing_the_package_imports_no_framework_and_no_server():
    code = (
        "import sys, reload_server; "
        "print(sorted(m for m in sys.modules if m.startswith(('reload_server.server', "
        "'reload_server.cli', 'pygls', 'lsprotocol', 'flask', 'django', 'sqlalchemy', 'asyncio'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_importing_the_package_imports_no_heavy_standard_library_module():
    # Each of these costs the host milliseconds at start-up; the reimporter needs none at import.
    heavy = ("inspect", "ast", "dis", "typing", "pathlib", "dataclasses", "logging", "tokenize")
    code = f"import sys, reload_server; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)},
    )
    assert out.stdout.strip() == "[]"
