"""Render stage: the inference router's monitor (`servicemonitors/inference-pool-epp.yaml`)
and the identity Prometheus scrapes it with (`servicemonitors/epp-metrics-reader.yaml`),
rendered only with `gateway.inference_pool.enabled`.

The endpoint picker (llm-d-router v0.10.0) serves /metrics on its Service port
`http-metrics` (9090) behind controller-runtime's authn/authz filter: the bearer token
must pass a TokenReview and a SubjectAccessReview for `get` on the non-resource URL
`/metrics` (the chart's own ClusterRole grants exactly that). A plain ServiceMonitor is
answered 401/403. So the monitor sends `authorization` (Bearer, from a Secret in the
monitor's namespace, where prometheus-operator reads it), and with
`auth.source: service-account` the bundle renders that Secret (a ServiceAccount token) and
the RBAC that makes its token pass.
"""

from __future__ import annotations

from typing import Any

from observability.config import BundleConfig
from observability.kube import PART_OF, monitor_metadata, node_relabeling
from observability.metrics.router import EPP_JOB, POOL_LABEL

__all__ = [
    "EPP_JOB",
    "MONITOR",
    "POOL_LABEL",
    "READER_FILE",
    "epp_labels",
    "epp_service_monitor",
    "monitors",
    "reader_rbac",
]

MONITOR = "inference-pool-epp"
READER_FILE = "epp-metrics-reader.yaml"
METRICS_PATH = "/metrics"


def epp_labels(cfg: BundleConfig) -> dict[str, str]:
    """Labels of the EPP Service as llm-d-router's chart sets them (`llm-d-router.labels`)."""
    return {"app.kubernetes.io/name": cfg.epp_service}


def _meta(cfg: BundleConfig, name: str, namespaced: bool = True) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name}
    if namespaced:
        m["namespace"] = cfg.namespaces.monitoring
    m["labels"] = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}
    return m


def epp_service_monitor(cfg: BundleConfig) -> dict[str, Any]:
    pool = cfg.pool
    endpoint: dict[str, Any] = {
        "port": pool.epp.port_name,
        "path": METRICS_PATH,
        "interval": cfg.prometheus.scrape_interval,
    }
    if pool.auth.source != "none":
        endpoint["authorization"] = {
            "type": "Bearer",
            "credentials": {"name": pool.auth.secret.name, "key": pool.auth.secret.key},
        }
    endpoint["relabelings"] = [
        node_relabeling(),
        {"targetLabel": "job", "replacement": EPP_JOB, "action": "replace"},
        {"targetLabel": POOL_LABEL, "replacement": pool.name, "action": "replace"},
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": monitor_metadata(cfg, MONITOR),
        "spec": {
            "namespaceSelector": {"matchNames": [cfg.epp_namespace]},
            "selector": {"matchLabels": epp_labels(cfg)},
            "endpoints": [endpoint],
        },
    }


def reader_rbac(cfg: BundleConfig) -> list[dict[str, Any]]:
    """ServiceAccount, its long-lived token Secret (kubernetes.io/service-account-token,
    filled by the token controller), and a ClusterRole + binding allowing `get /metrics`."""
    auth = cfg.pool.auth
    sa = auth.service_account
    role = f"{sa}-{cfg.namespaces.monitoring}"  # cluster-scoped: unique per bundle
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(cfg, sa)},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                **_meta(cfg, auth.secret.name),
                "annotations": {"kubernetes.io/service-account.name": sa},
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(cfg, role, namespaced=False),
            "rules": [{"nonResourceURLs": [METRICS_PATH], "verbs": ["get"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(cfg, role, namespaced=False),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": sa, "namespace": cfg.namespaces.monitoring}
            ],
        },
    ]


def monitors(cfg: BundleConfig) -> dict[str, Any]:
    """servicemonitors/<file> -> object(s); empty unless the pool is enabled."""
    if not cfg.pool.enabled:
        return {}
    out: dict[str, Any] = {f"{MONITOR}.yaml": epp_service_monitor(cfg)}
    if cfg.pool.auth.source == "service-account":
        out[READER_FILE] = reader_rbac(cfg)
    return out
