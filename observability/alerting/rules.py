"""Public entry points: the bundle's rule groups and PrometheusRule objects.

    prometheus_rules(cfg, profile="standard") -> list[PrometheusRule dict]  (alerts/*.yaml)
    rule_groups(cfg, profile="standard")      -> list[rule group dict]      (plain rule file)
    component_groups(cfg, profile)            -> {file stem: [groups]}     (one per component)

One PrometheusRule and one rule group per component; group names are `vllm.*`/`gpu.*`.
Every threshold, `for` and window comes from `cfg` and the timing profile.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from observability.alerting import (
    capacity,
    gpu,
    lifecycle,
    router,
    slo,
    vllm_autoscaling,
    vllm_availability,
    vllm_connectors,
    vllm_latency,
    vllm_operations,
    vllm_recording,
    vllm_runtimes,
    vllm_saturation,
    watchdog,
)
from observability.alerting.links import add_links
from observability.alerting.timing import Timing, timing
from observability.config import BundleConfig
from observability.rulebase import Scope, scope

__all__ = [
    "COMPONENTS",
    "alert_names",
    "component_groups",
    "prometheus_rules",
    "rule_groups",
]

GroupBuilder = Callable[[BundleConfig, Timing, Scope], dict[str, Any]]

# file stem (alerts/<stem>.yaml, PrometheusRule name) -> group builder
COMPONENTS: dict[str, GroupBuilder] = {
    # Empty (and not rendered) unless a model runs on a runtime that needs a mapping.
    "vllm-runtimes": vllm_runtimes.group,
    "vllm-recording": vllm_recording.group,
    "vllm-latency": vllm_latency.group,
    "vllm-slo": slo.group,
    "vllm-saturation": vllm_saturation.group,
    "vllm-availability": vllm_availability.group,
    "vllm-connectors": vllm_connectors.group,
    "vllm-operations": vllm_operations.group,
    # Empty (and not rendered) unless gateway.inference_pool.enabled.
    "vllm-router": router.group,
    # Empty (and not rendered) unless autoscaling.keda.enabled.
    "vllm-autoscaling": vllm_autoscaling.group,
    "vllm-lifecycle": lifecycle.group,
    "vllm-meta": watchdog.group,
    "gpu-dcgm": gpu.group,
    "gpu-capacity": capacity.group,
}

_LABEL_REF = re.compile(r"\$labels\.(\w+)")


def _linked(cfg: BundleConfig, group: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in group["rules"]:
        used = set(_LABEL_REF.findall(rule.get("annotations", {}).get("description", "")))
        rules.append(add_links(cfg, rule, used))
    return {**group, "rules": rules}


def component_groups(cfg: BundleConfig, profile: str = "standard") -> dict[str, list[dict]]:
    t = timing(profile)
    sc = scope(cfg)
    out: dict[str, list[dict]] = {}
    for stem, build in COMPONENTS.items():
        group = build(cfg, t, sc)
        if group["rules"]:
            out[stem] = [_linked(cfg, group)]
    return out


def rule_groups(cfg: BundleConfig, profile: str = "standard") -> list[dict[str, Any]]:
    """Plain Prometheus rule-file groups (what `rule_files` loads)."""
    return [g for groups in component_groups(cfg, profile).values() for g in groups]


def prometheus_rules(cfg: BundleConfig, profile: str = "standard") -> list[dict[str, Any]]:
    """PrometheusRule objects, one per component, for the operator to pick up."""
    out = []
    for stem, groups in component_groups(cfg, profile).items():
        out.append(
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": {
                    "name": stem,
                    "namespace": cfg.namespaces.monitoring,
                    "labels": {
                        "app.kubernetes.io/name": "vllm-observability-rules",
                        "app.kubernetes.io/component": stem,
                        "app.kubernetes.io/part-of": "vllm-observability",
                        # Matched by a default kube-prometheus-stack ruleSelector, too.
                        "release": "kube-prometheus-stack",
                    },
                },
                "spec": {"groups": groups},
            }
        )
    return out


def alert_names(cfg: BundleConfig) -> list[str]:
    """Every distinct alert name, in rule order."""
    names: list[str] = []
    for g in rule_groups(cfg):
        for r in g["rules"]:
            if "alert" in r and r["alert"] not in names:
                names.append(r["alert"])
    return names
