"""Grafana single-pane dashboard as code, push to Grafana, snapshot without Grafana.

`DASHBOARDS` maps each rendered file name under `dashboards/` to its builder.
"""

from __future__ import annotations

from collections.abc import Callable

from observability.config import BundleConfig
from observability.dashboards.instance import build_instance
from observability.dashboards.kv_disagg import build_kv_disagg
from observability.dashboards.single_pane import build_single_pane

__all__ = ["DASHBOARDS", "build_all", "build_instance", "build_kv_disagg", "build_single_pane"]

DASHBOARDS: dict[str, Callable[[BundleConfig], dict]] = {
    "vllm-single-pane.json": build_single_pane,
    "vllm-kv-cache-disaggregation.json": build_kv_disagg,
    "vllm-instance.json": build_instance,
}


def build_all(cfg: BundleConfig) -> dict[str, dict]:
    """File name -> dashboard JSON for every registered dashboard."""
    return {name: build(cfg) for name, build in DASHBOARDS.items()}
