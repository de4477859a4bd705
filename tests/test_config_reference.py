"""docs/config-reference.md is generated from the config models and checked for drift like
the rendered files: a key, default or description changed in observability/config/ without
regenerating the page fails here, naming the command that regenerates it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field, create_model

from observability.config import BundleConfig
from observability.config import reference as ref
from observability.config.gitops import DashboardsConfig


def test_the_committed_reference_matches_the_models(repo_root: Path) -> None:
    committed = (repo_root / ref.REFERENCE_PATH).read_text(encoding="utf-8")
    assert committed == ref.reference_markdown(), (
        f"{ref.REFERENCE_PATH} is stale: run `{ref.REGENERATE}` and commit it"
    )


def test_every_key_has_its_own_description() -> None:
    bare = [k.path for k in ref.all_keys() if not k.description]
    assert not bare, f"keys without a Field description (the reference says nothing): {bare}"


def test_the_page_lists_every_key_with_its_default() -> None:
    page = ref.reference_markdown()
    for key in ref.all_keys():
        row = f"| `{key.path}` |" if "." in key.path else f"## `{key.path}`"  # a section
        assert row in page, key.path
    lines = {line.split(" | ")[0]: line for line in page.splitlines() if line.startswith("| `")}
    assert "| `10m` |" in lines["| `models.<key>.expected_load_time`"]
    assert "| `500m` |" in lines["| `resources.prometheus.cpu`"]  # the section's own default
    assert "| required |" in lines["| `git.repo_url`"]
    assert "| pinned image |" in lines["| `verify.image`"]
    assert "| Kubernetes name |" in lines["| `namespaces.vllm`"]


def test_a_changed_description_makes_the_check_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "config-reference.md"
    assert ref.main(["--out", str(out)]) == 0
    assert ref.main(["--check", "--out", str(out)]) == 0
    changed = create_model(
        "DashboardsConfig",
        __base__=DashboardsConfig,
        folder=(str, Field("vLLM", description="Another meaning")),
    )
    bundle = create_model(
        "BundleConfig",
        __base__=BundleConfig,
        dashboards=(changed, Field(changed(), description="Grafana dashboards")),
    )
    monkeypatch.setattr(ref, "BundleConfig", bundle)
    assert ref.main(["--check", "--out", str(out)]) == 1


def test_a_section_docstring_opening_on_its_own_line_heads_its_section(monkeypatch) -> None:
    """A section model's docstring written with its summary on the line after the quotes
    (PEP 257's other style) still heads the section, as its first paragraph, whitespace
    collapsed."""
    monkeypatch.setattr(
        DashboardsConfig, "__doc__", "\n    Grafana dashboards,\n    as rendered.\n\n    More.\n"
    )
    page = ref.reference_markdown()
    assert "## `dashboards`\n\nGrafana dashboards, as rendered.\n" in page
