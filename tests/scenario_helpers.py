"""The `obsctl scenario run` command line the scenario tests run (fast profile, a fresh
stack, JSON out, the committed bundle.yaml), and running it to its results."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


def scenario_cmd(repo_root: Path, names: tuple[str, ...], models: str | None = None) -> list[str]:
    return [
        sys.executable,
        "-m",
        "observability.cli",
        "scenario",
        "run",
        *names,
        *(["--models", models] if models else []),
        "--profile",
        "fast",
        "--fresh",
        "--json",
        "--config",
        str(repo_root / "bundle.yaml"),
    ]


def run_scenarios(
    repo_root: Path, names: tuple[str, ...], models: str | None = None, timeout: float = 360
) -> list[dict[str, Any]]:
    """Run the scenarios on one fresh stack and return `--json`'s results."""
    run = subprocess.run(
        scenario_cmd(repo_root, names, models), capture_output=True, text=True, timeout=timeout
    )
    return scenario_results(run.stdout, run.stderr)


def scenario_results(stdout: str, stderr: str) -> list[dict[str, Any]]:
    """`--json`'s results, or an AssertionError that quotes what came instead (the error
    document `{"error": ..., "exit_code": N}`, or the end of stderr when no JSON came)."""
    try:
        doc = json.loads(stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON; stderr: {stderr[-2000:]}") from None
    if not isinstance(doc, dict) or "results" not in doc:
        raise AssertionError(f"no results: {json.dumps(doc)[:1000]}; stderr: {stderr[-2000:]}")
    return doc["results"]


def run_side_by_side(cmds: Mapping[K, list[str]], timeout: float) -> dict[K, tuple[int, str, str]]:
    """Run scenario command lines at once (one stack each); key -> (rc, stdout, stderr).
    Whatever is still running when one times out or fails is terminated."""
    procs = {
        k: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k, cmd in cmds.items()
    }
    out: dict[K, tuple[int, str, str]] = {}
    try:
        for k, p in procs.items():
            stdout, stderr = p.communicate(timeout=timeout)
            out[k] = (p.returncode, stdout, stderr)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
    return out
