"""Alertmanager routing for the kube-prometheus-stack values (filled in by the alerts issue)."""

from __future__ import annotations

from typing import Any

from observability.config import BundleConfig

__all__ = ["kps_alertmanager_values"]


def kps_alertmanager_values(cfg: BundleConfig) -> dict[str, Any]:
    """The `alertmanager:` block of the kube-prometheus-stack values."""
    return {}
