"""The import graph of ``neurotunes/`` and ``app_pages/``: no cycle, no upward import, pages on top.

Every ``import`` of a project module is read from the source (module level and
inside functions; ``if TYPE_CHECKING:`` blocks are annotations, not imports).
Layers, lowest first, are declared in :data:`LAYERS`; a module may import its own
layer or lower ones, never a higher one.  Running this file prints the graph's
problems: ``python tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Lowest layer first.  A module belongs to the most specific entry that is its name or a package above it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("neurotunes.constants", "neurotunes.errors", "neurotunes._quiet", "neurotunes.text",
                    "neurotunes.registry", "neurotunes.records")),
    ("values", ("neurotunes.keys", "neurotunes.score", "neurotunes.config")),
    ("edges", ("neurotunes.midi_io", "neurotunes.corpus", "neurotunes.transcribe", "neurotunes.render",
               "neurotunes.plotting", "neurotunes.notation", "neurotunes.gallery", "neurotunes.encodings")),
    ("batch work", ("neurotunes.batch_transcribe",)),
    ("data and models", ("neurotunes.dataset", "neurotunes.primers", "neurotunes.models", "neurotunes.bundle",
                         "neurotunes.shards")),
    ("sampling and training", ("neurotunes.generate", "neurotunes.share", "neurotunes.training",
                               "neurotunes.harmonize", "neurotunes.regenerate")),
    ("judging", ("neurotunes.metrics", "neurotunes.realism", "neurotunes.evaluate")),
    # The package itself (neurotunes/__init__.py) is a facade that re-exports from below.
    ("front ends", ("neurotunes", "neurotunes.cli", "neurotunes.__main__", "neurotunes.ui")),
    ("app", ("app_pages", "app")),
)
#: Entries that name one module, not a package's modules: a new neurotunes module must be given a layer.
EXACT_ONLY = {"neurotunes", "app"}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = "inside a function" if self.in_function else "at module level"
        return f"{self.source} -> {self.target} ({_path(self.source)}:{self.line}, {where})"


def _module_files() -> dict[str, Path]:
    files = {"app": ROOT / "app.py"}
    for folder in ("neurotunes", "app_pages"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


FILES = _module_files()


def _path(module: str) -> str:
    return str(FILES[module].relative_to(ROOT))


def _is_package(module: str) -> bool:
    return FILES[module].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The project modules one import statement loads (a name imported from a package that is a module
    counts as that module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in FILES]
    if node.level:
        package = module if _is_package(module) else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if base not in FILES:
        return []
    found = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in FILES]
    return found if len(found) == len(node.names) else [base, *found]


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _edges_of(module: str) -> list[Edge]:
    tree = ast.parse(FILES[module].read_text(), str(FILES[module]))
    edges: list[Edge] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                edges.extend(Edge(module, t, child.lineno, in_function) for t in _resolve(module, child)
                             if t != module)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return edges


EDGES = [edge for module in FILES for edge in _edges_of(module)]


def _layer(module: str) -> int | None:
    """The layer of the most specific entry naming the module or a package above it."""
    matches = [(len(m), index) for index, (_, members) in enumerate(LAYERS) for m in members
               if module == m or (module.startswith(m + ".") and m not in EXACT_ONLY)]
    return max(matches)[1] if matches else None


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted list."""
    graph: dict[str, set[str]] = {m: set() for m in FILES}
    for e in EDGES:
        graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(FILES)))
    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def _inside(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _cycle_report(component: list[str]) -> str:
    members = set(component)
    inner = [str(e) for e in EDGES if e.source in members and e.target in members]
    return " / ".join(component) + ":\n    " + "\n    ".join(inner)


def test_every_module_has_a_layer():
    unplaced = [m for m in FILES if _layer(m) is None]
    assert not unplaced, f"give each new module a place in LAYERS: {unplaced}"


def test_no_import_cycle():
    """Counting imports inside functions too: a cycle hidden in a function is still a cycle."""
    cycles = _cycles()
    assert not cycles, "import cycles:\n" + "\n".join(_cycle_report(c) for c in cycles)


def test_no_import_from_a_higher_layer():
    upward = [f"{e}: layer {LAYERS[_layer(e.source)][0]!r} imports layer {LAYERS[_layer(e.target)][0]!r}"
              for e in EDGES if None not in (_layer(e.source), _layer(e.target)) and _layer(e.target) > _layer(e.source)]
    assert not upward, "\n".join(upward)


def test_pages_import_only_the_library_and_never_each_other():
    wrong = [str(e) for e in EDGES if _inside(e.source, "app_pages") and _inside(e.target, "app_pages", "app")]
    assert not wrong, "\n".join(wrong)


def test_the_library_never_imports_the_app_and_only_ui_imports_streamlit():
    wrong = [str(e) for e in EDGES if _inside(e.source, "neurotunes") and _inside(e.target, "app_pages", "app")]
    wrong += [str(e) for e in EDGES
              if _inside(e.target, "neurotunes.ui") and not _inside(e.source, "neurotunes.ui", "app_pages", "app")]
    for module, path in FILES.items():
        if _inside(module, "neurotunes") and not _inside(module, "neurotunes.ui"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                wrong += [f"{_path(module)}:{node.lineno} imports streamlit"
                          for n in names if n.split(".")[0] == "streamlit"]
    assert not wrong, "\n".join(wrong)


def test_project_modules_are_imported_at_module_level():
    """Imports inside functions are for the heavy libraries only (TensorFlow, Basic Pitch, music21,
    FluidSynth, ...); every project module is light to import, so it is imported at the top."""
    tucked = [str(e) for e in EDGES if e.in_function]
    assert not tucked, f"{len(tucked)} project imports inside functions:\n" + "\n".join(tucked)


if __name__ == "__main__":
    for test in (test_every_module_has_a_layer, test_no_import_cycle, test_no_import_from_a_higher_layer,
                 test_pages_import_only_the_library_and_never_each_other,
                 test_the_library_never_imports_the_app_and_only_ui_imports_streamlit,
                 test_project_modules_are_imported_at_module_level):
        try:
            test()
            print(f"ok   {test.__name__}")
        except AssertionError as exc:
            print(f"FAIL {test.__name__}\n{exc}\n")
