"""Shared pieces of the rule generators (alerting/, runtimes/, dashboards/): label scopes,
rule dicts, bucket-edge checks. Below every stage that writes rules, so a runtime can build
its alerts without importing alerting (which imports the runtimes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from observability.config import BundleConfig, ConfigError
from observability.metrics.buckets import edge_problem
from observability.metrics.names import Signal
from observability.metrics.promql import Promql, join_labels

__all__ = [
    "Scope",
    "alert",
    "bucket_edge",
    "le_text",
    "record",
    "scope",
]


@dataclass(frozen=True)
class Scope:
    """Aggregation labels. Every `by` keeps the cluster label (when configured) first,
    so two clusters, namespaces or models never mix."""

    cluster: str
    model: tuple[str, ...]  # (cluster,) namespace, model_name
    pod: tuple[str, ...]  # (cluster,) namespace, pod, model_name
    gpu: tuple[str, ...]  # (cluster,) Hostname, gpu, UUID, modelName

    def by(self, labels: tuple[str, ...]) -> str:
        return join_labels(labels)

    def on(self, labels: tuple[str, ...]) -> str:
        return f"on ({join_labels(labels)})"

    def promql(self, labels: tuple[str, ...], window: str) -> Promql:
        return Promql(by=labels, window=window)


def scope(cfg: BundleConfig) -> Scope:
    c = cfg.prometheus.cluster_label
    pre = (c,) if c else ()
    return Scope(
        cluster=c,
        model=(*pre, "namespace", "model_name"),
        pod=(*pre, "namespace", "pod", "model_name"),
        gpu=(*pre, "Hostname", "gpu", "UUID", "modelName"),
    )


def alert(
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An alerting rule. Labels are static (never `$value`, which would reset `for`)."""
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ and for_ != "0s":
        rule["for"] = for_
    rule["labels"] = {**(labels or {}), "severity": severity}
    rule["annotations"] = {"summary": summary, "description": description}
    return rule


def record(name: str, expr: str) -> dict[str, Any]:
    return {"record": name, "expr": expr}


def le_text(value: float) -> str:
    """`le` as prometheus_client writes it: always float form (`1.0`, `2.5`, `0.2`)."""
    return repr(float(value))


def bucket_edge(key: str, value: float, signal: Signal) -> str:
    """The `le` text of a threshold. Config validation already rejects a value off the
    common bucket edges (observability/metrics/buckets.py); this guards configs built
    without validation (model_construct/model_copy)."""
    problem = edge_problem(value, signal)
    if problem:
        raise ConfigError(f"bundle.yaml: invalid value for 'alerting.{key}': {problem}")
    return le_text(value)
