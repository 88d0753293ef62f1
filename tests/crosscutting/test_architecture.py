"""The architecture's rules, checked on the source tree (docs/architecture.md).

These read ``src/mnlogit`` with :mod:`ast` and :mod:`importlib`; none of them runs a fit.

- no module reads another object's private attributes (``other._name``): a missing public
  seam is the thing to build;
- no import cycle among mnlogit's modules, counting imports deferred into functions;
- no function longer than :data:`MAX_FUNCTION_LINES` lines;
- the solvers ask an objective only what the typed protocol declares: no
  ``getattr(objective, name, default)`` probing and no ``type: ignore`` in ``solvers/``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "mnlogit"
MAX_FUNCTION_LINES = 120

# Private names that are part of an external library's documented protocol, not ours.
_EXTERNAL_PRIVATE = {
    "_repr_html_",  # IPython's rich display protocol
    "_repr_latex_",
    "_fields",  # NamedTuple
    "_asdict",
    "_replace",
    "_make",
}


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _own_private_names(tree: ast.Module) -> set[str]:
    """Private names this module defines: its functions and methods, ``self._x = ...``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            names.add(node.attr)
    return {name for name in names if name.startswith("_")}


def _private_reads(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """``x._name`` where ``x`` is not ``self``/``cls``, ``_name`` is not a dunder and not a
    private name of this module's own (a class may use its private members on another
    instance of itself)."""
    own = _own_private_names(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__") or name in _EXTERNAL_PRIVATE | own:
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        yield node.lineno, ast.unparse(node)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_attribute_of_another_object(path: Path) -> None:
    found = list(_private_reads(_tree(path)))
    assert not found, f"{path.relative_to(SRC)} reads private attributes: {found}"


def test_the_private_attribute_check_can_fail() -> None:
    tree = ast.parse("def f(obj):\n    return obj._cache + self._ok + obj._g()\ndef _g(): ...\n")
    assert [text for _, text in _private_reads(tree)] == ["obj._cache"]


def _long_functions(tree: ast.Module) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                yield node.name, length


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_function_over_the_limit(path: Path) -> None:
    found = list(_long_functions(_tree(path)))
    assert not found, f"{path.relative_to(SRC)}: functions over {MAX_FUNCTION_LINES} lines: {found}"


def _imports(path: Path, known: set[str], everywhere: bool = False) -> set[str]:
    """mnlogit modules imported when ``path`` is imported (not inside functions), or with
    ``everywhere`` also those imported inside functions (deferred imports)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def resolve(module: str) -> None:
        # the longest known prefix: "mnlogit.solvers.newton" or "mnlogit.solvers"
        parts = module.split(".")
        for i in range(len(parts), 0, -1):
            candidate = ".".join(parts[:i])
            if candidate in known:
                found.add(candidate)
                return

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    resolve(alias.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    module = ".".join([*base, node.module] if node.module else base)
                else:
                    module = node.module or ""
                for alias in node.names:  # "from pkg import submodule"
                    if f"{module}.{alias.name}" in known:
                        found.add(f"{module}.{alias.name}")
                resolve(module)
            elif isinstance(node, ast.If | ast.Try):
                # `if TYPE_CHECKING:` blocks never run; other branches may
                test = getattr(node, "test", None)
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    continue
                visit(node.body)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                visit(node.orelse)

    tree = _tree(path)
    if everywhere:
        visit([n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)])
    else:
        visit(tree.body)
    found.discard(name)
    return found


def _import_graph(everywhere: bool = False) -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _modules()}
    known = set(modules)
    graph = {name: _imports(path, known, everywhere) for name, path in modules.items()}
    # importing a.b.c runs a/__init__ and a/b/__init__ first: those are not cycles
    for name, deps in graph.items():
        deps -= {d for d in deps if name.startswith(d + ".")}
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                cycle = dfs(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = dfs(node)
            if cycle:
                return cycle
    return None


@pytest.mark.parametrize("everywhere", [False, True], ids=["on-import", "with-deferred"])
def test_no_import_cycle(everywhere: bool) -> None:
    # deferred imports inside functions count too: they hide a cycle, not remove it
    cycle = _find_cycle(_import_graph(everywhere))
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_check_can_fail() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_model_files_do_not_import_the_estimator() -> None:
    graph = _import_graph(everywhere=True)
    seen: set[str] = set()
    todo = ["mnlogit.io"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    assert "mnlogit.estimator" not in seen


def test_solvers_declare_what_they_ask() -> None:
    for path in sorted((SRC / "solvers").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "type: ignore" not in text, path.name
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr")
            ):
                target = ast.unparse(node.args[0]) if node.args else ""
                assert target not in ("obj", "objective"), f"{path.name}: {ast.unparse(node)}"


def _private_imports(tree: ast.Module) -> Iterator[str]:
    """``from mnlogit... import _name``: another module's private name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mnlogit"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"{node.module}.{alias.name}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_private_name_imported_from_another_module(path: Path) -> None:
    found = list(_private_imports(_tree(path)))
    assert not found, f"{path.relative_to(SRC)} imports private names: {found}"


def test_the_private_import_check_can_fail() -> None:
    tree = ast.parse("from mnlogit.plotting.grid import _helper, public\n")
    assert list(_private_imports(tree)) == ["mnlogit.plotting.grid._helper"]
