"""KEDA (`autoscaling.keda.enabled`): one ScaledObject per deployed model on its queue.

The trigger is KEDA's Prometheus scaler on `waiting_query` (the model's waiting requests,
vLLM's `vllm:num_requests_waiting` summed over its pods, or the runtime's mapped
series). KEDA creates an HPA (`keda-hpa-<ScaledObject>`) with an AverageValue target of
`threshold`, so the HPA asks for `ceil(value / threshold)` replicas, clamped to
[minReplicaCount, maxReplicaCount] (`desired_replicas`; the HPA's 10% tolerance aside).

KEDA scales anything with a `scale` subresource. A RayService has none (KubeRay v1.4.2
CRD), so `rayservice` models scale through Ray Serve's autoscaler instead (the same
bounds, rendered into their Serve config) and get no ScaledObject.

KEDA itself is an optional Argo CD Application (chart `kedacore/keda`, pinned).
"""

from __future__ import annotations

import math
from typing import Any

from observability.config import BundleConfig
from observability.kube import VLLM_NAME, argocd_application, helm_source
from observability.metrics.names import VLLM

__all__ = [
    "HPA_PREFIX",
    "KEDA_APP",
    "desired_replicas",
    "hpa_name",
    "keda_application",
    "prometheus_url",
    "scalable_models",
    "scaled_object",
    "scaled_object_name",
    "waiting_query",
]

KEDA_APP = "keda"
HPA_PREFIX = "keda-hpa-"  # KEDA names the HPA it creates keda-hpa-<ScaledObject name>


def scaled_object_name(key: str) -> str:
    return f"{VLLM_NAME}-{key}"


def hpa_name(key: str) -> str:
    return HPA_PREFIX + scaled_object_name(key)


def prometheus_url(cfg: BundleConfig) -> str:
    """The kube-prometheus-stack Prometheus Service, as KEDA reaches it in the cluster."""
    return f"http://kube-prometheus-stack-prometheus.{cfg.namespaces.monitoring}.svc:9090"


def scalable_models(cfg: BundleConfig) -> list[str]:
    """Deployed models KEDA scales: enabled, and served by a Deployment."""
    from observability import runtimes

    if not cfg.autoscaling.keda.enabled:
        return []
    return [k for k, _m in cfg.deployed_models if runtimes.runtime_of(cfg, k).uses_vllm_deployment]


def waiting_query(cfg: BundleConfig, key: str) -> str:
    """Waiting requests of one model over all its pods: the ScaledObject's query."""
    m = cfg.models[key]
    return (
        f'sum({VLLM.WAITING.v1}{{namespace="{cfg.model_namespace(key)}", '
        f'model_name="{m.served_name}"}})'
    )


def desired_replicas(value: float, target: float, lo: int, hi: int) -> int:
    """What the HPA KEDA creates asks for: ceil(value / target) within [lo, hi]."""
    want = math.ceil(value / target) if value > 0 else 0
    return max(lo, min(hi, want))


def scaled_object(cfg: BundleConfig, key: str) -> dict[str, Any]:
    keda = cfg.autoscaling.keda
    scale = cfg.models[key].autoscaling
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        # kustomize's nameSuffix makes this vllm-<key>; scaleTargetRef is not renamed by
        # kustomize (it does not know ScaledObject), so it carries the final name.
        "metadata": {"name": VLLM_NAME},
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": scaled_object_name(key),
            },
            "minReplicaCount": scale.min_replicas,
            "maxReplicaCount": scale.max_replicas,
            "pollingInterval": keda.polling_interval_seconds,
            "cooldownPeriod": keda.cooldown_seconds,
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": prometheus_url(cfg),
                        "query": waiting_query(cfg, key),
                        "threshold": f"{scale.waiting_per_replica:g}",
                        # Below one waiting request there is nothing to scale out for.
                        "activationThreshold": "0",
                    },
                }
            ],
        },
    }


def keda_application(cfg: BundleConfig) -> dict[str, Any]:
    keda = cfg.autoscaling.keda
    # The operator's metrics (keda_scaler_detail_errors_total, ...) through the chart's
    # ServiceMonitor; Prometheus selects every monitor.
    values = {"prometheus": {"operator": {"enabled": True, "serviceMonitor": {"enabled": True}}}}
    return argocd_application(
        cfg,
        KEDA_APP,
        namespace=keda.namespace,
        wave=-1,
        source=helm_source(keda.chart, KEDA_APP, valuesObject=values),
        sync_options=("CreateNamespace=true",),
    )
