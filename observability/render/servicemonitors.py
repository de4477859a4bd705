"""Render stage: ServiceMonitors for vLLM and dcgm-exporter (`servicemonitors/`).

Both live in the monitoring namespace and select their Services across namespaces with
`namespaceSelector`, so Prometheus (which selects monitors in every namespace, see
kps_values.py) scrapes them without any `release` label.

The prometheus-operator adds `namespace`, `service`, `pod`, `container`, `endpoint` and
`job` to every target; we add `node` so vLLM and GPU series join on the node name (DCGM's
`Hostname`). `model_name` comes from vLLM itself (= --served-model-name) and survives
because no target label collides with it (honorLabels stays false for vLLM).
"""

from __future__ import annotations

from typing import Any

from observability import runtimes
from observability.config import BundleConfig
from observability.kube import (
    DCGM_APP,
    DCGM_JOB,
    DCGM_PORT_NAME,
    JOB_LABEL,
    VLLM_NAME,
    VLLM_PORT_NAME,
    monitor_metadata,
    node_relabeling,
    vllm_labels,
)
from observability.render import router

__all__ = ["VLLM_DROPPED_SERIES", "artifacts", "dcgm_service_monitor", "vllm_service_monitor"]

# Series dropped at scrape time; `obsctl lint` fails if a rule or panel reads one.
# - `*_created`: prometheus_client exports each counter/histogram creation time as its
#   own gauge in text format; nothing reads them and they double the series count.
# - `python_gc_*`: interpreter GC internals, per generation; no rule or panel uses them.
VLLM_DROPPED_SERIES = r".+_created|python_gc_.+"


def vllm_service_monitor(cfg: BundleConfig) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": monitor_metadata(cfg, VLLM_NAME),
        "spec": {
            "jobLabel": JOB_LABEL,
            "namespaceSelector": {"matchNames": cfg.monitored_namespaces},
            # vllm_labels() carries JOB_LABEL: VLLM_JOB, so every target's job is VLLM_JOB.
            "selector": {"matchLabels": vllm_labels()},
            # Plain text 0.0.4, never OpenMetrics: prometheus-client 0.23-0.26 (which a
            # vLLM image may ship) answers an OpenMetrics scrape from Prometheus < 3 with
            # `vllm:` rewritten to `vllm_`, and every rule and panel goes empty.
            "scrapeProtocols": ["PrometheusText0.0.4"],
            "endpoints": [
                {
                    "port": VLLM_PORT_NAME,
                    "path": "/metrics",
                    "interval": cfg.prometheus.scrape_interval,
                    "relabelings": [node_relabeling()],
                    "metricRelabelings": [
                        {
                            "sourceLabels": ["__name__"],
                            "regex": VLLM_DROPPED_SERIES,
                            "action": "drop",
                        }
                    ],
                }
            ],
        },
    }


def dcgm_service_monitor(cfg: BundleConfig) -> dict[str, Any]:
    """One monitor for whichever dcgm-exporter runs (gpu.dcgm_exporter): the bundled chart's
    Service, the GPU Operator's `nvidia-dcgm-exporter` Service in its namespace, or the
    Service you name. Every mode yields job DCGM_JOB, so rules read one job."""
    relabelings: list[dict[str, Any]] = [node_relabeling()]
    if cfg.gpu.dcgm_exporter == "bundled":
        namespace, labels, port = cfg.namespaces.monitoring, {JOB_LABEL: DCGM_JOB}, DCGM_PORT_NAME
    else:
        svc = cfg.gpu.scraped_dcgm_service
        namespace, labels, port = str(svc.namespace), dict(svc.match_labels or {}), str(svc.port)
        # The operator's Service has no app.kubernetes.io/name: the job would be the
        # Service's name. Rules and dashboards read job DCGM_JOB in every mode.
        relabelings.append({"targetLabel": "job", "replacement": DCGM_JOB, "action": "replace"})
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": monitor_metadata(cfg, DCGM_APP),
        "spec": {
            "jobLabel": JOB_LABEL,
            "namespaceSelector": {"matchNames": [namespace]},
            "selector": {"matchLabels": labels},
            "endpoints": [
                {
                    "port": port,
                    "path": "/metrics",
                    "interval": cfg.prometheus.scrape_interval,
                    # Keep the exporter's pod/namespace/container (the GPU's workload)
                    # instead of renaming them exported_* in favour of the exporter pod.
                    # (The GPU Operator's own ServiceMonitor lacks this: leave it disabled,
                    # dcgmExporter.serviceMonitor.enabled=false, its default.)
                    "honorLabels": True,
                    "relabelings": relabelings,
                }
            ],
        },
    }


def artifacts(cfg: BundleConfig) -> dict[str, Any]:

    monitors: dict[str, Any] = {
        "vllm.yaml": vllm_service_monitor(cfg),
        "dcgm-exporter.yaml": dcgm_service_monitor(cfg),
    }
    for rt in runtimes.runtimes_in_use(cfg):
        for name, obj in rt.monitors(cfg).items():
            if name in monitors:
                raise ValueError(f"runtime {rt.name} renders servicemonitors/{name} twice")
            monitors[name] = obj
    monitors.update(router.monitors(cfg))  # the inference pool's EPP, when enabled
    out = {f"servicemonitors/{name}": obj for name, obj in monitors.items()}
    out["servicemonitors/kustomization.yaml"] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(monitors),
    }
    return out
