"""The bundle's PrometheusRule specs -> a Prometheus rule file for the local stack.

`standard` is exactly what `obsctl render` writes into `alerts/` (the same generator,
`rule_groups(cfg)`, so a threshold edited in bundle.yaml changes the demo with no other edit).
`fast` is the same generator with short `for` and windows (`rule_groups(cfg, "fast")`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from observability.alerting.rules import rule_groups
from observability.config import BundleConfig

__all__ = [
    "PROFILES",
    "groups_for",
    "write_rule_file",
]

PROFILES = ("standard", "fast")


def groups_for(cfg: BundleConfig, profile: str) -> list[dict[str, Any]]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
    return list(rule_groups(cfg, profile))


def write_rule_file(groups: list[dict[str, Any]], path: Path, promtool: Path | None = None) -> None:
    """Write the rule file; with `promtool`, fail early with its message if it is invalid."""
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
    if promtool is not None:
        res = subprocess.run(
            [str(promtool), "check", "rules", str(path)], capture_output=True, text=True, timeout=30
        )
        if res.returncode != 0:
            msg = (res.stderr or res.stdout).strip().splitlines()
            raise RuntimeError(f"promtool rejects the rules: {' '.join(msg[-3:])}")
