"""Alertmanager routing invariants, checked on every rendered Alertmanager config.

Read from the files Alertmanager loads (`alerts/alertmanager.yaml` and the `alertmanager.config`
of the kube-prometheus-stack Application), never from the builder, so a hand edit on a fork
or a builder bug is caught the same way:

- every route's `group_by` keeps alertname, namespace and model_name (and the cluster label
  when one is set): without model_name two models' pages merge into one notification;
- every inhibition points from cause to symptom: a severity-only inhibition mutes a lower
  severity than its source and keeps `alertname` in `equal`; an alert-name inhibition's
  sources sit earlier in CAUSAL_ORDER than its targets (a swapped rule lets a symptom mute
  its own cause); every inhibition's `equal` carries the cluster label when one is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from observability.config import BundleConfig
from observability.lint.findings import Finding
from observability.lint.walk import mappings_where

__all__ = ["CAUSAL_ORDER", "GROUP_BY", "SEVERITY_RANK", "check", "check_config"]

CHECK = "alertmanager"
GROUP_BY = ("alertname", "namespace", "model_name")
SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1, "none": 0}

# Root causes first. An inhibition's source must sit in an earlier layer than each target;
# alerts not listed are symptoms (the last layer) and may not be inhibition sources.
CAUSAL_ORDER: tuple[tuple[str, ...], ...] = (
    # kube-state-metrics says why a model pod serves nothing
    (
        "VLLMPodUnschedulable",
        "VLLMPodOOMKilled",
        "VLLMPodCannotStart",
        "VLLMPodNotReady",
        "VLLMModelPodStarting",
    ),
    ("VLLMPodCrashLooping",),  # an OOM kill is one reason for a crash loop
    ("VLLMMetricsAbsent", "VLLMReplicasUnavailable"),  # nothing of a model is up
    ("VLLMTargetDown",),  # one replica's scrape fails
    ("InferencePoolEPPDown",),  # the pool's router answers nothing
    ("InferencePoolNoReadyEndpoints",),  # the router answers, with nowhere to route
)
_SYMPTOM = len(CAUSAL_ORDER)
_MATCHER = re.compile(r'^\s*(\w+)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def _layer(alert: str) -> int:
    return next((i for i, names in enumerate(CAUSAL_ORDER) if alert in names), _SYMPTOM)


def _equals(matchers: list[str], label: str) -> list[str] | None:
    """Values a `label="x"` or `label=~"a|b"` matcher admits; None without such a matcher."""
    for m in matchers:
        parsed = _MATCHER.match(m)
        if parsed and parsed.group(1) == label and parsed.group(2) in ("=", "=~"):
            value = parsed.group(3)
            return value.split("|") if parsed.group(2) == "=~" else [value]
    return None


def _routes(route: dict[str, Any], path: str = "route") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, route
    for i, child in enumerate(route.get("routes") or []):
        yield from _routes(child, f"{path}.routes[{i}]")


def check_config(file: str, conf: dict[str, Any], cluster_label: str = "") -> list[Finding]:
    out: list[Finding] = []

    def bad(message: str, field: str) -> None:
        out.append(Finding(CHECK, file, message, field=field))

    wanted = (*GROUP_BY, *((cluster_label,) if cluster_label else ()))
    for path, route in _routes(conf.get("route") or {}):
        group_by = route.get("group_by")
        if group_by is None and path != "route":
            continue  # inherits the parent's
        if "..." in (group_by or []):
            continue  # grouping by every label keeps them all
        lost = [label for label in wanted if label not in (group_by or [])]
        if lost:
            bad(
                f"group_by drops {lost}: alerts of different {'/'.join(lost)} would page as "
                f"one notification; group by {list(wanted)}",
                f"{path}.group_by",
            )
    for i, rule in enumerate(conf.get("inhibit_rules") or []):
        out += _inhibition(file, i, rule, cluster_label)
    return out


def _inhibition(file: str, i: int, rule: dict[str, Any], cluster_label: str) -> list[Finding]:
    field = f"inhibit_rules[{i}]"
    source = list(rule.get("source_matchers") or [])
    target = list(rule.get("target_matchers") or [])
    equal = list(rule.get("equal") or [])
    out: list[Finding] = []

    def bad(message: str) -> None:
        out.append(Finding(CHECK, file, message, field=field))

    if cluster_label and cluster_label not in equal:
        bad(f"equal lacks {cluster_label!r}: one cluster's alert would mute another cluster's")
    src_names, tgt_names = _equals(source, "alertname"), _equals(target, "alertname")
    if src_names is None and tgt_names is None:
        src_sev, tgt_sev = _equals(source, "severity") or [], _equals(target, "severity") or []
        low = min((SEVERITY_RANK.get(s, -1) for s in src_sev), default=-1)
        high = max((SEVERITY_RANK.get(s, 99) for s in tgt_sev), default=99)
        if low <= high:
            bad(
                f"severity {src_sev} mutes severity {tgt_sev}: a severity inhibition mutes a "
                "lower severity than its source (critical mutes warning)"
            )
        if "alertname" not in equal:
            bad("a severity inhibition must keep `alertname` in equal (one alert's two levels)")
        return out
    if src_names is None or tgt_names is None:
        bad("an inhibition names alerts on both sides (source_matchers and target_matchers)")
        return out
    for s in src_names:
        for t in tgt_names:
            if _layer(s) >= _layer(t):
                bad(
                    f"{s} mutes {t}, but {s} is not a cause of {t} in CAUSAL_ORDER "
                    "(observability/lint/alertmanager.py): swap source and target, or list "
                    "the cause in an earlier layer"
                )
    return out


def _is_config(node: dict[str, Any]) -> bool:
    """An Alertmanager config: a mapping with a receiver route and receivers."""
    route = node.get("route")
    return isinstance(route, dict) and "receiver" in route and "receivers" in node


def _configs(doc: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Alertmanager config inside a YAML document."""
    return mappings_where(doc, _is_config)


def check(root: Path, cfg: BundleConfig) -> list[Finding]:
    """Findings for every Alertmanager config under alerts/ and argocd/."""
    out: list[Finding] = []
    for sub in ("alerts", "argocd"):
        base = Path(root) / sub
        for path in sorted(base.rglob("*.yaml")) if base.is_dir() else []:
            if "tests" in path.relative_to(base).parts:
                continue
            rel = path.relative_to(root).as_posix()
            try:
                docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            except yaml.YAMLError:
                continue  # the YAML check reports it
            for doc in docs:
                for _where, conf in _configs(doc):
                    out += check_config(rel, conf, cfg.prometheus.cluster_label)
    return out
