"""Render stage: dashboards/<name>.json, a kustomization wrapping each in a ConfigMap, and
how Grafana gets them (`dashboards.delivery`):

- `sidecar` (default): the ConfigMaps carry the label kube-prometheus-stack's Grafana
  sidecar watches (`grafana_dashboard: "1"`) and the annotation naming the folder (the
  sidecar's `folderAnnotation`).
- `grafana-operator`: the ConfigMaps carry neither (no sidecar double-imports them), and
  `grafanadashboards.yaml` holds one `GrafanaDashboard` (grafana.integreatly.org/v1beta1)
  per dashboard whose `configMapRef` points at that ConfigMap, so the operator applies
  the very JSON the sidecar path would load, into the `Grafana` instances its
  `instanceSelector` matches.
"""

from __future__ import annotations

from typing import Any

from observability.config import BundleConfig
from observability.dashboards import build_all
from observability.kube import GRAFANA_FOLDER_ANNOTATION

__all__ = [
    "FOLDER_ANNOTATION",
    "GRAFANA_DASHBOARD_API",
    "OPERATOR_FILE",
    "SIDECAR_LABEL",
    "artifacts",
    "configmap_name",
    "grafana_dashboards",
]

SIDECAR_LABEL = {"grafana_dashboard": "1"}
# Must equal grafana.sidecar.dashboards.folderAnnotation in the KPS Application values.
FOLDER_ANNOTATION = GRAFANA_FOLDER_ANNOTATION
GRAFANA_DASHBOARD_API = "grafana.integreatly.org/v1beta1"
OPERATOR_FILE = "grafanadashboards.yaml"
PART_OF = {"app.kubernetes.io/part-of": "vllm-observability"}


def configmap_name(file_name: str) -> str:
    return "grafana-dashboard-" + file_name.removesuffix(".json")


def _sidecar(cfg: BundleConfig) -> bool:
    return cfg.dashboards.delivery == "sidecar"


def kustomization(cfg: BundleConfig, files: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"disableNameSuffixHash": True}
    if _sidecar(cfg):
        options["labels"] = {**SIDECAR_LABEL, **PART_OF}
        options["annotations"] = {FOLDER_ANNOTATION: cfg.dashboards.folder}
    else:
        options["labels"] = dict(PART_OF)
    out: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": cfg.namespaces.monitoring,
        # Stable names: Argo CD prunes and Grafana reloads in place, no orphaned copies.
        "generatorOptions": options,
    }
    if not _sidecar(cfg):
        out["resources"] = [OPERATOR_FILE]
    out["configMapGenerator"] = [{"name": configmap_name(f), "files": [f]} for f in sorted(files)]
    return out


def grafana_dashboards(cfg: BundleConfig, files: list[str]) -> list[dict[str, Any]]:
    """One GrafanaDashboard per dashboard file, reading the JSON from its ConfigMap."""
    op = cfg.dashboards.grafana_operator
    out = []
    for f in sorted(files):
        spec: dict[str, Any] = {
            "instanceSelector": {"matchLabels": dict(sorted(op.instance_selector.items()))},
            "folder": cfg.dashboards.folder,
            "resyncPeriod": op.resync_period,
            "configMapRef": {"name": configmap_name(f), "key": f},
        }
        if op.allow_cross_namespace_import:
            spec["allowCrossNamespaceImport"] = True
        out.append(
            {
                "apiVersion": GRAFANA_DASHBOARD_API,
                "kind": "GrafanaDashboard",
                "metadata": {
                    "name": f.removesuffix(".json"),
                    "namespace": cfg.namespaces.monitoring,
                    "labels": dict(PART_OF),
                },
                "spec": spec,
            }
        )
    return out


def artifacts(cfg: BundleConfig) -> dict[str, Any]:
    built = build_all(cfg)
    out: dict[str, Any] = {f"dashboards/{name}": d for name, d in built.items()}
    out["dashboards/kustomization.yaml"] = kustomization(cfg, list(built))
    if not _sidecar(cfg):
        out[f"dashboards/{OPERATOR_FILE}"] = grafana_dashboards(cfg, list(built))
    return out
