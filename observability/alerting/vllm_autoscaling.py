"""vllm.autoscaling: the queue autoscaler is out of room, or blind (KEDA enabled only).

- VLLMAutoscalerAtMax: the HPA KEDA made for a model runs at its maximum and the model's
  queue still holds more than the maximum replicas can absorb at their target.
- KEDAScalerErrors: KEDA's Prometheus scaler fails to query (`keda_scaler_detail_errors_total`
  rises), so the HPA keeps its last replica count whatever the queue does.
HPA series are kube-state-metrics'; KEDA's names are from pkg/metricscollector/prommetrics.go
(catalog metrics/data/keda-2.17.2.json).
"""

from __future__ import annotations

from typing import Any

from observability.alerting.timing import Timing
from observability.autoscaling.keda import hpa_name, scalable_models
from observability.config import BundleConfig
from observability.metrics.names import VLLM
from observability.rulebase import Scope, alert

__all__ = ["GROUP", "group"]

GROUP = "vllm.autoscaling"


def _at_max(cfg: BundleConfig, key: str, sc: Scope) -> str:
    """Per cluster (in a central store two clusters' HPAs share names), joined to the
    model's queue on namespace, so the alert keeps every label it is routed on."""
    ns = cfg.model_namespace(key)
    sel = f'{{namespace="{ns}", horizontalpodautoscaler="{hpa_name(key)}"}}'
    pre = (sc.cluster,) if sc.cluster else ()
    hpa = sc.by((*pre, "namespace"))  # the selector pins the one HPA
    scale = cfg.models[key].autoscaling
    room = scale.max_replicas * scale.waiting_per_replica
    waiting = (
        f"sum by ({sc.by(sc.model)}) ({VLLM.WAITING.v1}"
        f'{{namespace="{ns}", model_name="{cfg.models[key].served_name}"}})'
    )
    return (
        f"(max by ({hpa}) (kube_horizontalpodautoscaler_status_current_replicas{sel})\n"
        f">= max by ({hpa}) (kube_horizontalpodautoscaler_spec_max_replicas{sel}))\n"
        f"and on ({sc.by((*pre, 'namespace'))}) ({waiting} > {room:g})"
    )


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    keys = scalable_models(cfg)
    if not keys:
        return {"name": GROUP, "rules": []}
    rules = [
        alert(
            "VLLMAutoscalerAtMax",
            _at_max(cfg, key, sc),
            t.saturation_for,
            "warning",
            "vLLM autoscaler is at its maximum and the queue persists.",
            f"{cfg.models[key].served_name} in namespace {cfg.model_namespace(key)} runs "
            f"{cfg.models[key].autoscaling.max_replicas} replicas (maxReplicaCount) and still "
            "queues more than they absorb at their target: raise max_replicas or add GPUs.",
            labels={
                "namespace": cfg.model_namespace(key),
                "model_name": cfg.models[key].served_name,
            },
        )
        for key in keys
    ]
    pre = (sc.cluster,) if sc.cluster else ()
    rules.append(
        alert(
            "KEDAScalerErrors",
            f"sum by ({sc.by((*pre, 'namespace', 'scaledObject'))}) "
            '(rate(keda_scaler_detail_errors_total{scaler="prometheusScaler"}'
            f"[{t.rate_window}])) > 0",
            t.error_for,
            "warning",
            "KEDA cannot query Prometheus for a ScaledObject.",
            "KEDA's Prometheus scaler of ScaledObject {{ $labels.scaledObject }} in namespace "
            "{{ $labels.namespace }} fails "
            "{{ $value | humanize }} times per second: its HPA keeps the last replica count "
            "whatever the queue does.",
        )
    )
    return {"name": GROUP, "rules": rules}
