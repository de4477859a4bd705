"""Remote write and the HA pair in kube-prometheus-stack's values, built from bundle.yaml.

- `remoteWrite`: one entry per `prometheus.remote_write` item, in the Prometheus
  Operator's RemoteWriteSpec shape; credentials are Secret references (name + key), never
  values. `only_bundle_series` adds a keep rule on `__name__` listing exactly the series
  the bundle's rules and panels read (and the series its recording rules write), derived
  from the generated expressions by the PromQL parser, so it follows every rule or panel
  edit with no hand-kept list.
- The store deduplicates an HA pair on `prometheus.replica_label` (the operator sets it
  to the pod name on each replica); `cluster_label: cluster_name` tells clusters apart.
"""

from __future__ import annotations

import re
from typing import Any

from observability.config import BundleConfig, RemoteWrite

__all__ = ["bundle_series", "keep_regex", "local_remote_write", "remote_write_spec"]

# Read by the single pane's alert panels and by people in Grafana's explore view.
_ALWAYS = ("ALERTS",)


def bundle_series(cfg: BundleConfig) -> list[str]:
    """Sorted series names the bundle's rules and dashboards read or record."""
    from observability.alerting.rules import rule_groups
    from observability.dashboards import build_all
    from observability.dashboards.exprs import panel_queries
    from observability.metrics.promql_ast import metric_names

    names: set[str] = set(_ALWAYS)
    for group in rule_groups(cfg):
        for rule in group.get("rules", []):
            names.update(metric_names(str(rule["expr"])))
            if "record" in rule:
                names.add(rule["record"])
    for dash in build_all(cfg).values():
        for q in panel_queries(dash):
            names.update(metric_names(q.expr))
    return sorted(names)


def keep_regex(names: list[str]) -> str:
    """One anchored alternation (Prometheus anchors relabel regexes itself)."""
    return "|".join(re.escape(n) for n in names)


def _tuning(rw: RemoteWrite, cfg: BundleConfig) -> dict[str, Any]:
    """`queue_config` (the fields set) and the keep rule of `only_bundle_series`, in
    Prometheus' own remote_write names."""
    out: dict[str, Any] = {}
    queue = rw.queue.model_dump(exclude_none=True)  # QueueConfig's fields are Prometheus'
    if queue:
        out["queue_config"] = queue
    if rw.only_bundle_series:
        out["write_relabel_configs"] = [
            {
                "source_labels": ["__name__"],
                "regex": keep_regex(bundle_series(cfg)),
                "action": "keep",
            }
        ]
    return out


def _camel(value: Any) -> Any:
    """Prometheus' snake_case keys in the Prometheus Operator's camelCase (queue_config ->
    queueConfig, max_samples_per_send -> maxSamplesPerSend, ...); values untouched."""
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {re.sub(r"_([a-z])", lambda m: m[1].upper(), k): _camel(v) for k, v in value.items()}


def _entry(rw: RemoteWrite, cfg: BundleConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rw.name, "url": rw.url}
    if rw.basic_auth:
        ba = rw.basic_auth
        out["basicAuth"] = {
            "username": {"name": ba.name, "key": ba.username_key},
            "password": {"name": ba.name, "key": ba.password_key},
        }
    if rw.bearer_token:
        out["authorization"] = {
            "type": "Bearer",
            "credentials": {"name": rw.bearer_token.name, "key": rw.bearer_token.key},
        }
    out.update(_camel(_tuning(rw, cfg)))
    return out


def remote_write_spec(cfg: BundleConfig) -> list[dict[str, Any]]:
    return [_entry(rw, cfg) for rw in cfg.prometheus.remote_write]


def local_remote_write(cfg: BundleConfig, url: str) -> list[dict[str, Any]]:
    """Prometheus' own `remote_write` for the local demo: the bundle's queues (settings and
    keep list as rendered) pointed at `url`, or one default queue when none is configured."""
    queues = cfg.prometheus.remote_write or [RemoteWrite(name="central", url=url)]
    return [{"name": rw.name, "url": url, **_tuning(rw, cfg)} for rw in queues]
