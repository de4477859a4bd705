"""Render stage: alerts/alertmanager.yaml, the standalone Alertmanager config.

The cluster gets the same body through the kube-prometheus-stack values
(`kps_alertmanager_values`); this copy exists for `amtool check-config` and
`amtool config routes test`. It is not a Kubernetes object, so the alerts kustomization
does not list it.
"""

from __future__ import annotations

from typing import Any

from observability.alerting.alertmanager import alertmanager_config
from observability.config import BundleConfig

__all__ = ["artifacts"]


def artifacts(cfg: BundleConfig) -> dict[str, Any]:
    return {"alerts/alertmanager.yaml": alertmanager_config(cfg)}
