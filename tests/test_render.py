"""Render determinism and drift detection."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from observability.cli import app
from observability.render import render_all


def test_render_is_deterministic_across_processes(bundle, repo_root, tmp_path):
    """A separate process with another hash seed (set and dict order, ids) renders the
    same bytes as this one."""
    import os
    import subprocess
    import sys

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    cmd = [sys.executable, "-m", "observability.cli", "render", "--config"]
    proc = subprocess.run(
        [*cmd, str(repo_root / "bundle.yaml"), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    here = render_all(bundle)
    assert len(here) > 30
    for path, content in here.items():
        assert (out / path).read_text(encoding="utf-8") == content, path


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
    victim = tmp_path / "alerts" / "vllm-saturation.yaml"
    assert victim.is_file(), "render wrote no alerts/vllm-saturation.yaml"
    victim.write_text(victim.read_text().replace("> 0.9", "> 0.94"))
    before = victim.read_text()
    res = runner.invoke(app, ["render", "--check", "--config", cfg])
    assert res.exit_code == 1
    assert "alerts/vllm-saturation.yaml" in res.output
    assert victim.read_text() == before  # --check writes nothing
    (tmp_path / "alerts").mkdir(exist_ok=True)
    (tmp_path / "alerts" / "stray.yaml").write_text("x: 1\n")
    res = runner.invoke(app, ["render", "--check", "--config", cfg])
    assert res.exit_code == 1
    assert "orphan: alerts/stray.yaml" in res.output


def test_prune_deletes_the_orphans_and_nothing_else(tmp_path, repo_root):
    """`render` lists a generated-dir file no builder produces and keeps it; `render --prune`
    deletes it (and only it), after which `render --check` is clean."""
    shutil.copy(repo_root / "bundle.yaml", tmp_path / "bundle.yaml")
    runner = CliRunner()
    cfg = str(tmp_path / "bundle.yaml")
    assert runner.invoke(app, ["render", "--config", cfg]).exit_code == 0
    stray = tmp_path / "alerts" / "stray.yaml"
    stray.write_text("x: 1\n")
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file() and p != stray)
    res = runner.invoke(app, ["render", "--config", cfg])
    assert res.exit_code == 0, res.output
    assert "orphan: alerts/stray.yaml" in res.output
    assert stray.is_file()  # without --prune nothing is deleted
    res = runner.invoke(app, ["render", "--prune", "--config", cfg])
    assert res.exit_code == 0, res.output
    assert not stray.exists()
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before
    res = runner.invoke(app, ["render", "--check", "--config", cfg])
    assert res.exit_code == 0, res.output
