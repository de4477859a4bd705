"""The import graph of the `observability` package, read from the source with `ast`.

Nothing is imported or run. Every `import observability.x` / `from observability.x import y`
counts, at module level or inside a function, except those under `if TYPE_CHECKING:`
(they name a type a stage is handed and never run). A *stage* is a sub-package
(`render`, `local`, ...) or a top-level module (`config`, `kube`, `promapi`, ...).

    python -m testkit.imports    # stages in dependency order (layers), and any cycle

tests/test_architecture.py asserts that neither the stage graph nor the module graph has
a cycle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["cycles", "layers", "module_graph", "stage_graph", "stage_of"]

PACKAGE = "observability"


def _modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under `root/observability`."""
    out: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[str]:
    """Every dotted name an import statement may load (module, or module.name)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for other in node.orelse:
                yield from _imports(other)
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)
        yield from _imports(node)


def module_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a package's own `__init__` excluded)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = {t for t in _imports(tree) if t in modules and t != name}
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    return graph


def stage_of(module: str) -> str:
    """`observability.render.argocd` -> `render`; `observability.config` -> `config`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def stage_graph(root: Path) -> dict[str, set[str]]:
    """Stage -> the other stages it imports."""
    graph: dict[str, set[str]] = {}
    for module, targets in module_graph(root).items():
        src = stage_of(module)
        if src == PACKAGE:
            continue  # observability/__init__.py
        deps = graph.setdefault(src, set())
        deps.update(stage_of(t) for t in targets if stage_of(t) not in (src, PACKAGE))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
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

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


def layers(graph: dict[str, set[str]]) -> list[list[str]]:
    """Stages by layer: each imports only stages of earlier layers (acyclic graphs only)."""
    level: dict[str, int] = {}

    def depth(v: str) -> int:
        if v not in level:
            level[v] = 0  # guards a cycle from recursing forever
            level[v] = 1 + max((depth(w) for w in graph.get(v, ())), default=-1)
        return level[v]

    for v in graph:
        depth(v)
    out: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for v, n in level.items():
        out[n].append(v)
    return [sorted(layer) for layer in out]


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    stages = stage_graph(root)
    bad = cycles(stages) + cycles(module_graph(root))
    for i, layer in enumerate(layers(stages)):
        print(f"layer {i}: {', '.join(layer)}")
    for c in bad:
        print(f"cycle: {' <-> '.join(c)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
