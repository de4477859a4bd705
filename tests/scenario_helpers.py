"""The `obsctl scenario run` command line the scenario tests run (fast profile, a fresh
stack, JSON out, the committed bundle.yaml), and running it to its results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


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
    return json.loads(run.stdout)["results"]
