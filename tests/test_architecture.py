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
