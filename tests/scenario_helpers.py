"""The `obsctl scenario run` command line the scenario tests run (fast profile, a fresh
stack, JSON out, the committed bundle.yaml)."""

from __future__ import annotations

import sys
from pathlib import Path


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
