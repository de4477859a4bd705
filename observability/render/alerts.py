"""Render stage: alerts/<component>.yaml PrometheusRule objects and alerts/kustomization.yaml."""

from __future__ import annotations

from typing import Any

from observability.alerting.rules import prometheus_rules
from observability.config import BundleConfig

__all__ = ["artifacts"]


def artifacts(cfg: BundleConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for obj in prometheus_rules(cfg):
        out[f"alerts/{obj['metadata']['name']}.yaml"] = obj
    out["alerts/kustomization.yaml"] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(p.removeprefix("alerts/") for p in out),
    }
    return out
