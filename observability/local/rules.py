"""The bundle's PrometheusRule specs -> a Prometheus rule file for the local stack.

`standard` is exactly what `obsctl render` writes into `alerts/` (the same generator,
`prometheus_rules(cfg)`, so a threshold edited in bundle.yaml changes the demo with no other
edit; the rendered files are the fallback and a drift warning names `obsctl render`).
`fast` is the same generator with short `for` and windows (`rule_groups(cfg, "fast")`).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from observability.config import BundleConfig, duration_seconds

__all__ = [
    "PROFILES",
    "RuleInfo",
    "alert_rules",
    "groups_for",
    "rendered_groups",
    "write_rule_file",
]

PROFILES = ("standard", "fast")


def _merge_spec_groups(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for obj in objects:
        if obj.get("kind") == "PrometheusRule":
            groups.extend(obj.get("spec", {}).get("groups", []))
    return groups


def rendered_groups(repo_root: Path) -> list[dict[str, Any]]:
    """Rule groups of the committed PrometheusRule objects in `alerts/*.yaml`."""
    objects: list[dict[str, Any]] = []
    for path in sorted((repo_root / "alerts").glob("*.yaml")):
        objects.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return _merge_spec_groups(objects)


def groups_for(
    cfg: BundleConfig, profile: str, repo_root: Path | None = None
) -> list[dict[str, Any]]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
    try:
        from observability.alerting import rules as gen
    except ImportError:
        gen = None  # type: ignore[assignment]
    if gen is not None and hasattr(gen, "rule_groups"):
        return list(gen.rule_groups(cfg, profile))
    if profile == "standard" and repo_root is not None:
        groups = rendered_groups(repo_root)
        if groups:
            return groups
    raise RuntimeError(
        "the bundle's alert rules are not available (observability.alerting.rules.rule_groups "
        "is missing and alerts/ holds no PrometheusRule): run `obsctl render`"
    )


def drift_warning(cfg: BundleConfig, repo_root: Path) -> str | None:
    """A one-line warning when the committed alerts/ differ from the standard generator."""
    try:
        generated = groups_for(cfg, "standard")
    except RuntimeError:
        return None
    on_disk = rendered_groups(repo_root)
    if on_disk and on_disk != generated:
        return "alerts/ differs from bundle.yaml: the demo uses bundle.yaml; run `obsctl render` to update alerts/"
    return None


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


class RuleInfo(dict):  # type: ignore[type-arg]
    """name, severity, for_s, expr, group interval_s (plain dict for JSON output)."""


def alert_rules(groups: list[dict[str, Any]], default_interval_s: float) -> dict[str, RuleInfo]:
    """Alert name -> the facts the scenario timing needs (first rule of that name wins
    the `for`; the smallest `for` across severities is what fires first)."""
    out: dict[str, RuleInfo] = {}
    for g in groups:
        interval = duration_seconds(g["interval"]) if g.get("interval") else default_interval_s
        for r in g.get("rules", []):
            if "alert" not in r:
                continue
            for_s = duration_seconds(r.get("for", "0s"))
            name = r["alert"]
            if name not in out or for_s < out[name]["for_s"]:
                out[name] = RuleInfo(
                    name=name,
                    severity=(r.get("labels") or {}).get("severity", ""),
                    for_s=for_s,
                    expr=r["expr"],
                    interval_s=interval,
                    group=g["name"],
                )
    return out
