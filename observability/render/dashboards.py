"""Render stage: dashboards/<name>.json plus a kustomization wrapping each in a ConfigMap
that kube-prometheus-stack's Grafana sidecar picks up (label `grafana_dashboard: "1"`)
and files into a folder (annotation named by the sidecar's `folderAnnotation`)."""

from __future__ import annotations

from typing import Any

from observability.config import BundleConfig
from observability.dashboards import build_all
from observability.kube import GRAFANA_FOLDER_ANNOTATION

__all__ = ["FOLDER_ANNOTATION", "SIDECAR_LABEL", "artifacts", "configmap_name"]

SIDECAR_LABEL = {"grafana_dashboard": "1"}
# Must equal grafana.sidecar.dashboards.folderAnnotation in the KPS Application values.
FOLDER_ANNOTATION = GRAFANA_FOLDER_ANNOTATION


def configmap_name(file_name: str) -> str:
    return "grafana-dashboard-" + file_name.removesuffix(".json")


def kustomization(cfg: BundleConfig, files: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": cfg.namespaces.monitoring,
        # Stable names: Argo CD prunes and Grafana reloads in place, no orphaned copies.
        "generatorOptions": {
            "disableNameSuffixHash": True,
            "labels": {**SIDECAR_LABEL, "app.kubernetes.io/part-of": "vllm-observability"},
            "annotations": {FOLDER_ANNOTATION: cfg.dashboards.folder},
        },
        "configMapGenerator": [{"name": configmap_name(f), "files": [f]} for f in sorted(files)],
    }


def artifacts(cfg: BundleConfig) -> dict[str, Any]:
    out: dict[str, Any] = {f"dashboards/{name}": d for name, d in build_all(cfg).items()}
    out["dashboards/kustomization.yaml"] = kustomization(cfg, list(build_all(cfg)))
    return out
