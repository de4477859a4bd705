"""Render determinism and drift detection."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from observability.cli import app
from observability.render import render_all


def test_render_is_deterministic(bundle):
    assert render_all(bundle) == render_all(bundle)


def test_committed_files_match_bundle(bundle, repo_root):
    from observability.render import check

    result = check(render_all(bundle), repo_root)
    assert result.clean, f"drift {result.drifted} orphans {result.orphans}: run obsctl render"


def test_check_detects_drift_and_orphans_without_writing(tmp_path, repo_root):
    shutil.copy(repo_root / "bundle.yaml", tmp_path / "bundle.yaml")
    runner = CliRunner()
    cfg = str(tmp_path / "bundle.yaml")
    assert runner.invoke(app, ["render", "--config", cfg]).exit_code == 0
    assert runner.invoke(app, ["render", "--check", "--config", cfg]).exit_code == 0
    rendered = sorted(p for p in tmp_path.rglob("*.yaml") if p.name != "bundle.yaml")
    if rendered:
        victim = rendered[0]
        victim.write_text(victim.read_text() + "# hand edit\n")
        before = victim.read_text()
        res = runner.invoke(app, ["render", "--check", "--config", cfg])
        assert res.exit_code == 1
        assert victim.relative_to(tmp_path).as_posix() in res.output
        assert victim.read_text() == before  # --check writes nothing
    (tmp_path / "alerts").mkdir(exist_ok=True)
    (tmp_path / "alerts" / "stray.yaml").write_text("x: 1\n")
    res = runner.invoke(app, ["render", "--check", "--config", cfg])
    assert res.exit_code == 1
    assert "orphan: alerts/stray.yaml" in res.output
