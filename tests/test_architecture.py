"""Stages import each other without cycles (read from the source; see testkit/imports.py
and docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

from testkit.imports import cycles, layers, module_graph, stage_graph


def test_no_import_cycle_between_stages(repo_root: Path) -> None:
    graph = stage_graph(repo_root)
    assert {"config", "metrics", "render", "alerting", "local", "load", "verify"} <= set(graph)
    assert cycles(graph) == [], "a stage imports a stage that imports it back"


def test_no_import_cycle_between_modules(repo_root: Path) -> None:
    assert cycles(module_graph(repo_root)) == []


def test_shared_foundations_import_no_stage(repo_root: Path) -> None:
    graph = stage_graph(repo_root)
    foundations = {"duration", "httppool", "kube", "process", "promapi"}
    for base in foundations:
        assert graph[base] <= foundations - {base}, base  # foundations build on foundations
    assert "local" not in graph["load"]  # the local stack starts load, never the reverse
    assert "render" not in graph["alerting"]  # render builds on alerting


def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "observability" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_the_check_sees_a_cycle_even_inside_a_function(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "",
            "a/x.py": "from observability.b.y import f\n",
            "b/__init__.py": "",
            "b/y.py": "def f():\n    from observability.a import x\n",
            "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from observability.a import x\n",
        },
    )
    assert stage_graph(root) == {"a": {"b"}, "b": {"a"}, "c": set()}
    assert cycles(stage_graph(root)) == [["a", "b"]]
    assert cycles(module_graph(root)) == [["observability.a.x", "observability.b.y"]]


def test_layers_put_every_stage_after_what_it_imports() -> None:
    graph = {"cli": {"verify", "config"}, "verify": {"config"}, "config": set()}
    assert layers(graph) == [["config"], ["verify"], ["cli"]]


# Stages ask the runtime plug-in (observability/runtimes/) and never compare a runtime's
# name. Each entry here is a known exception with why; it must still exist (no stale
# excuses) and nothing else may appear.
_RUNTIME_NAME_EXCEPTIONS: set[tuple[str, str]] = set()


def _runtime_name_comparisons(root: Path) -> set[tuple[str, str]]:
    import ast

    from observability.config import RUNTIMES

    found: set[tuple[str, str]] = set()
    for path in sorted((root / "observability").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("observability/runtimes/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            values: list[object] = []
            for side in (node.left, *node.comparators):
                if isinstance(side, ast.Constant):
                    values.append(side.value)
                elif isinstance(side, (ast.Tuple, ast.List, ast.Set)):
                    values += [e.value for e in side.elts if isinstance(e, ast.Constant)]
            if any(v in RUNTIMES for v in values if isinstance(v, str)):
                found.add((rel, ast.unparse(node)))
    return found


def test_stages_never_branch_on_a_runtime_name() -> None:
    root = Path(__file__).resolve().parent.parent
    found = _runtime_name_comparisons(root)
    assert found - _RUNTIME_NAME_EXCEPTIONS == set(), (
        "compare no runtime name outside observability/runtimes/: add a question to "
        "runtimes/base.py Runtime and answer it in the runtime's module"
    )
    assert found >= _RUNTIME_NAME_EXCEPTIONS, "stale exception: remove it"


def test_the_runtime_name_scan_sees_comparisons(tmp_path: Path) -> None:
    pkg = tmp_path / "observability" / "stage"
    pkg.mkdir(parents=True)
    (pkg / "m.py").write_text('if m.runtime == "tgi" or r in ("aibrix",):\n    pass\n')
    (tmp_path / "observability" / "runtimes").mkdir()
    (tmp_path / "observability" / "runtimes" / "x.py").write_text('a = b == "tgi"\n')
    assert {e for _f, e in _runtime_name_comparisons(tmp_path)} == {
        "m.runtime == 'tgi'",
        "r in ('aibrix',)",
    }


# No crowded room: a module past these sizes gets split by concern (docs/architecture.md).
MAX_LINES = {"observability/config": 250, "observability": 600}


def test_no_module_is_a_crowded_room(repo_root: Path) -> None:
    over = []
    for path in sorted((repo_root / "observability").rglob("*.py")):
        rel = path.relative_to(repo_root).as_posix()
        limit = next(n for prefix, n in MAX_LINES.items() if rel.startswith(prefix + "/"))
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            over.append(f"{rel}: {lines} lines (at most {limit})")
    assert over == []


def test_tests_import_their_helpers_one_way() -> None:
    """tests/ is on sys.path (pytest's rootdir conftest): helpers are imported as
    `from sim_helpers import ...`, never also as `tests.sim_helpers` (two module objects,
    two copies of module state, and a monkeypatch on one the other never sees)."""
    import ast

    tests = Path(__file__).resolve().parent
    found = []
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = []
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            found += [f"{path.name}: {m}" for m in mods if m == "tests" or m.startswith("tests.")]
    assert found == [], found
