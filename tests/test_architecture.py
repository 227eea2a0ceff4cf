"""Architecture rules of both packages (the framework ``hno_framework`` and the studies ``hno_studies``): no import
cycle between the modules of either, counting every import in the code (at module level and inside functions;
only ``if TYPE_CHECKING:`` blocks are left out, they never run); the core never imports a built-in plugin (built-ins
come in through entry points like any third-party plugin) nor the studies."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "hno_framework"
STUDIES = ROOT / "studies" / "hno_studies"
PACKAGES = {"hno_framework": CORE, "hno_studies": STUDIES}


def module_name(path: Path, package_dir: Path) -> str:
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_names(path: Path, name: str) -> set[str]:
    """Every module named by an import statement of ``path`` (module ``name``), wherever it stands in the code
    (functions and methods included), except inside ``if TYPE_CHECKING:``. ``from a import b`` names both ``a``
    and ``a.b`` (``b`` may be a module)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if is_type_checking(node):
                for child in node.orelse:
                    self.visit(child)
            else:
                self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def loaded_by(importer: str, target: str) -> set[str]:
    """What importing ``target`` from module ``importer`` runs: ``target`` and its parent packages, except the
    importer's own packages (already being imported when the importer runs)."""
    own = {importer.rsplit(".", k)[0] for k in range(1, importer.count(".") + 1)} | {importer}
    parts = target.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} - own


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """module -> the modules of the same package that importing it, or calling any of its functions, may import."""
    modules = {module_name(p, package_dir): p for p in package_dir.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set().union(*(loaded_by(name, t) for t in imported_names(path, name)))
        graph[name] = {m for m in edges if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a list of nodes, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for root in sorted(graph):
        if state.get(root):
            continue
        stack: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        path = [root]
        state[root] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            nxt = todo.pop()
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(graph.get(nxt, ()))))
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) in (["a", "b", "c", "a"], ["b", "c", "a", "b"],
                                                                ["c", "a", "b", "c"])
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_imports_inside_functions_count_and_type_checking_ones_do_not(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n"
                              "def f():\n    from .b import g\n    return g\n")
    (pkg / "b.py").write_text("class K:\n    def m(self):\n        from . import a\n")
    (pkg / "c.py").write_text("")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert find_cycle(graph) is not None


def test_importing_a_submodule_runs_its_package() -> None:
    assert loaded_by("hno_framework.loggers.callback", "hno_framework.training.callbacks") == {
        "hno_framework", "hno_framework.training", "hno_framework.training.callbacks"} - {"hno_framework"}
    assert loaded_by("hno_framework.training.loop", "hno_framework.training.state") == {"hno_framework.training.state"}


def test_relative_imports_resolve_to_core_modules() -> None:
    graph = import_graph(CORE)
    assert "hno_framework.training.protocols" in graph["hno_framework.training.loop"]
    assert "hno_framework.config" in graph["hno_framework.training.loop"]


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycle(package: str) -> None:
    cycle = find_cycle(import_graph(PACKAGES[package]))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _absolute_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return names + [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level]


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_the_core_never_imports_a_builtin_plugin_nor_the_studies(path: Path) -> None:
    names = _absolute_imports(path)
    assert not [n for n in names if n.split(".")[0] in ("hno_plugins", "hno_extra", "hno_studies")]


@pytest.mark.processes
def test_importing_the_framework_imports_no_study() -> None:
    """``import hno_framework`` and every core module (the CLI included) load without the studies package."""
    import subprocess
    import sys

    modules = sorted(module_name(p, CORE) for p in CORE.rglob("*.py") if "cli" in p.name or p.name == "__init__.py")
    code = ("import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
            + "import hno_framework\nassert hno_framework.train.__module__ == 'hno_framework.api'\n"
            + "print(sorted(m for m in sys.modules if m.startswith('hno_studies')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
