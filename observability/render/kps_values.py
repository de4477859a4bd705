"""Helm values for the kube-prometheus-stack Application, built from bundle.yaml.

Why each non-default value is here:
- `*SelectorNilUsesHelmValues: false` plus empty selectors: Prometheus picks up every
  ServiceMonitor, PodMonitor and PrometheusRule in every namespace, so ours need no
  `release: <name>` label (the usual "monitor not picked up" failure).
- `grafana.admin.existingSecret`: under Argo CD the chart's generated password changes on
  every `helm template` (no `lookup`), which means perpetual drift; a pre-created Secret
  keeps the password out of git and stable.
- Dashboard sidecar on ALL namespaces with a folder annotation: our dashboard ConfigMaps
  land in their own Grafana folder.
- Prometheus keeps its data on a PersistentVolumeClaim (the chart default is emptyDir).
- `replicas` + `replicaExternalLabelName`: an HA pair the remote store deduplicates;
  `remoteWrite` and the Thanos sidecar (render/remote_write.py) send data off-cluster.
"""

from __future__ import annotations

from typing import Any

from observability.alerting.alertmanager import kps_alertmanager_values
from observability.alerting.lifecycle import MODEL_POD_LABEL
from observability.config import BundleConfig
from observability.kube import (
    GRAFANA_DATASOURCE_UID,
    GRAFANA_FOLDER_ANNOTATION,
    JOB_LABEL,
    deep_merge,
    resources,
)
from observability.render.remote_write import remote_write_spec

__all__ = ["kps_values", "ksm_label_allowlist"]

_KINDS = ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")


def ksm_label_allowlist(cfg: BundleConfig) -> list[str]:
    """kube-state-metrics `--metric-labels-allowlist` entries (chart: metricLabelsAllowlist)."""
    from observability import runtimes

    model = f"[{JOB_LABEL},{MODEL_POD_LABEL}]"
    pods = f"[{','.join((JOB_LABEL, MODEL_POD_LABEL, *runtimes.ksm_pod_labels(cfg)))}]"
    return [f"pods={pods}", f"deployments={model}", f"nodes=[{cfg.gpu.node_pool_label}]"]


def _prometheus_spec(cfg: BundleConfig) -> dict[str, Any]:
    prom = cfg.prometheus
    spec: dict[str, Any] = {
        "scrapeInterval": prom.scrape_interval,
        "evaluationInterval": prom.evaluation_interval,
        "retention": prom.retention,
    }
    for kind in _KINDS:
        spec[f"{kind}SelectorNilUsesHelmValues"] = False
        spec[f"{kind}Selector"] = {}
        spec[f"{kind}NamespaceSelector"] = {}
    spec["replicas"] = prom.replicas
    # The operator labels each replica's series with this (its pod name); the remote store
    # (Thanos, Mimir, VictoriaMetrics) deduplicates the HA pair on it.
    spec["replicaExternalLabelName"] = prom.replica_label
    if prom.cluster_label:
        spec["externalLabels"] = {prom.cluster_label: prom.cluster_name}
    if prom.remote_write:
        spec["remoteWrite"] = remote_write_spec(cfg)
    if prom.thanos.enabled and prom.thanos.object_store is not None:
        store = prom.thanos.object_store
        spec["thanos"] = {
            "objectStorageConfig": {"existingSecret": {"name": store.name, "key": store.key}}
        }
    pvc: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": prom.storage_size}},
    }
    if prom.storage_class:
        pvc["storageClassName"] = prom.storage_class
    spec["storageSpec"] = {"volumeClaimTemplate": {"spec": pvc}}
    spec["resources"] = resources(cfg.resources.prometheus)
    return spec


def _prometheus(cfg: BundleConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"prometheusSpec": _prometheus_spec(cfg)}
    if cfg.prometheus.thanos.enabled:
        out["thanosService"] = {"enabled": True}  # the sidecar's StoreAPI for Thanos Query
    return out


def _grafana(cfg: BundleConfig) -> dict[str, Any]:
    admin = cfg.secrets.grafana_admin
    return {
        "admin": {
            "existingSecret": admin.name,
            "userKey": admin.user_key,
            "passwordKey": admin.password_key,
        },
        "resources": resources(cfg.resources.grafana),
        "sidecar": {
            "resources": resources(cfg.resources.grafana_sidecar),
            "dashboards": {
                "enabled": True,
                "label": "grafana_dashboard",
                "labelValue": "1",
                "searchNamespace": "ALL",
                "folderAnnotation": GRAFANA_FOLDER_ANNOTATION,
                "provider": {"foldersFromFilesStructure": True, "allowUiUpdates": False},
            },
            "datasources": {
                "enabled": True,
                "defaultDatasourceEnabled": True,
                "isDefaultDatasource": True,
                "name": "Prometheus",
                "uid": GRAFANA_DATASOURCE_UID,
            },
        },
    }


def kps_values(cfg: BundleConfig) -> dict[str, Any]:
    """The `valuesObject` of the kube-prometheus-stack Application."""
    r = cfg.resources
    alertmanager = deep_merge(
        {
            "alertmanagerSpec": {
                "resources": resources(r.alertmanager),
                # 2+: the operator meshes the pods; they gossip silences and deduplicate.
                "replicas": cfg.alertmanager.replicas,
            }
        },
        kps_alertmanager_values(cfg),
    )
    values = {
        "crds": {"enabled": True},
        "prometheusOperator": {
            "resources": resources(r.prometheus_operator),
            "prometheusConfigReloader": {"resources": resources(r.config_reloader)},
            "admissionWebhooks": {"patch": {"resources": resources(r.config_reloader)}},
        },
        "prometheus": _prometheus(cfg),
        "alertmanager": alertmanager,
        "grafana": _grafana(cfg),
        "kube-state-metrics": {
            "resources": resources(r.kube_state_metrics),
            # kube_pod_labels / kube_deployment_labels carry the model key the lifecycle
            # rules join on; kube_node_labels the node pool the GPU capacity rules sum by.
            "metricLabelsAllowlist": ksm_label_allowlist(cfg),
        },
        "prometheus-node-exporter": {"resources": resources(r.node_exporter)},
    }
    if r.priority_class_name:
        for path in _POD_SPECS:
            node = values
            for part in path:
                node = node.setdefault(part, {})
            node["priorityClassName"] = r.priority_class_name
    return values


# Every pod kube-prometheus-stack runs with the bundle's values, where the chart (or its
# subchart) takes a `priorityClassName`; several are documented only as comments in the
# charts' values.yaml, which the helm-values lint reads (lint/helm_values.commented_keys).
_POD_SPECS: tuple[tuple[str, ...], ...] = (
    ("prometheusOperator",),
    ("prometheusOperator", "admissionWebhooks", "patch"),
    ("prometheus", "prometheusSpec"),
    ("alertmanager", "alertmanagerSpec"),
    ("grafana",),
    ("kube-state-metrics",),
    ("prometheus-node-exporter",),
)
