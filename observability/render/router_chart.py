"""Render stage: the inference router itself, when the bundle installs it
(`gateway.inference_pool.install: chart`): an Argo CD Application for llm-d-router's
gateway-mode chart (`llm-d-router-gateway`, pinned by `gateway.inference_pool.chart`), the
EPP and the InferencePool as release `<pool name>` in the pool's namespace. With
`install: existing` (the default) nothing is rendered here: the router is someone else's.

The values (llm-d-router v0.10.0, config/charts/routerlib/values.yaml) agree with what the
bundle scrapes (render/router.py): the chart's own ServiceMonitor stays off (the bundle's
`servicemonitors/inference-pool-epp.yaml` scrapes the EPP once, with the token from
`auth`), and the EPP's metrics auth is on unless `auth.source` is none (then the chart
passes `--metrics-endpoint-auth=false`). The pool selects the model servers by the label
every member model's pods carry (`POOL_POD_LABEL`, deploy/vllm/overlays/<key>), on the
vLLM port. The chart needs the Gateway API Inference Extension CRDs (InferencePool), which
it does not install: SkipDryRunOnMissingResource until they exist.
"""

from __future__ import annotations

from typing import Any

from observability.config import BundleConfig
from observability.kube import argocd_application, helm_source

__all__ = ["POOL_POD_LABEL", "ROUTER_APP", "pool_pod_labels", "router_application", "values"]

ROUTER_APP = "llm-d-router"
# on the pods of every model served through the pool: what the InferencePool selects
POOL_POD_LABEL = "vllm-observability/inference-pool"


def pool_pod_labels(cfg: BundleConfig, key: str) -> dict[str, str]:
    """The pool's label on a member model's pods (none for other models)."""
    if not cfg.pool.enabled or cfg.models[key].inference_pool != cfg.pool.name:
        return {}
    return {POOL_POD_LABEL: cfg.pool.name}


def values(cfg: BundleConfig) -> dict[str, Any]:
    """The chart's values (under `router`, its routerlib alias)."""
    return {
        "router": {
            "modelServers": {
                "matchLabels": {POOL_POD_LABEL: cfg.pool.name},
                "targetPorts": [{"number": cfg.vllm.port}],
            },
            "monitoring": {
                "prometheus": {
                    # the bundle's monitor scrapes the pool once, with its own token
                    "enabled": False,
                    "auth": {"enabled": cfg.pool.auth.source != "none"},
                }
            },
        }
    }


def router_application(cfg: BundleConfig) -> dict[str, Any] | None:
    """The router chart's Application, or None unless `install: chart`."""
    pool = cfg.pool
    if not pool.enabled or pool.install != "chart":
        return None
    return argocd_application(
        cfg,
        ROUTER_APP,
        namespace=cfg.pool_namespace,
        # after the model workloads (wave 1) whose pods it selects
        wave=2,
        source=helm_source(pool.chart, pool.name, valuesObject=values(cfg)),
        sync_options=("CreateNamespace=true", "SkipDryRunOnMissingResource=true"),
    )
