"""No rule or panel may read a series a monitor drops at scrape time.

ServiceMonitor/PodMonitor `metricRelabelings` with `action: drop` on `__name__` remove
series before they are stored; a rule or panel that reads one is silently empty. This
check matches every series name that a PrometheusRule expression or a dashboard `expr`
selects (read with the PromQL parser) against those (anchored, as Prometheus anchors them)
regexes. An expression that does not parse is left to the rules and dashboards checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from observability.lint.findings import Finding
from observability.lint.manifests import Manifest
from observability.metrics.promql_ast import PromQLError, metric_names

__all__ = ["check_dropped_metrics"]


def _names(expr: str) -> list[str]:
    try:
        return metric_names(expr)
    except PromQLError:
        return []


def _drop_rules(m: Manifest) -> Iterator[tuple[str, re.Pattern[str]]]:
    spec = m.obj.get("spec") or {}
    key = "endpoints" if m.kind == "ServiceMonitor" else "podMetricsEndpoints"
    for i, ep in enumerate(spec.get(key) or []):
        for j, rl in enumerate((ep or {}).get("metricRelabelings") or []):
            if rl.get("action", "replace").lower() != "drop":
                continue
            if rl.get("sourceLabels") != ["__name__"] or "regex" not in rl:
                continue
            try:
                yield f"spec.{key}[{i}].metricRelabelings[{j}].regex", re.compile(rl["regex"])
            except re.error:
                continue  # the CRD schema check reports malformed values


def _rule_exprs(manifests: list[Manifest]) -> Iterator[tuple[str, str]]:
    for m in manifests:
        if m.kind != "PrometheusRule":
            continue
        for group in (m.obj.get("spec") or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                name = rule.get("alert") or rule.get("record") or "?"
                yield f"{m.file} rule {name}", str(rule.get("expr", ""))


def _walk_exprs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                yield v
            else:
                yield from _walk_exprs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk_exprs(v)


def _dashboard_exprs(root: Path) -> Iterator[tuple[str, str]]:
    base = root / "dashboards"
    for path in sorted(base.rglob("*.json")) if base.is_dir() else ():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # the dashboards plug-in reports unreadable dashboards
        for expr in _walk_exprs(data):
            yield path.relative_to(root).as_posix(), expr


def check_dropped_metrics(root: Path, manifests: list[Manifest]) -> list[Finding]:
    drops = [
        (m, field, rx)
        for m in manifests
        if m.kind in ("ServiceMonitor", "PodMonitor")
        for field, rx in _drop_rules(m)
    ]
    if not drops:
        return []
    findings = []
    reported: set[tuple[str, str, str]] = set()
    readers = [*_rule_exprs(manifests), *_dashboard_exprs(root)]
    for where, expr in readers:
        for token in _names(expr):
            for m, field, rx in drops:
                if rx.fullmatch(token) and (m.id, field, token) not in reported:
                    reported.add((m.id, field, token))
                    findings.append(
                        Finding(
                            "crossref",
                            m.file,
                            f"drops {token!r}, which {where} reads: narrow the regex",
                            m.id,
                            field,
                        )
                    )
    return findings
