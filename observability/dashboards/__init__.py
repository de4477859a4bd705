"""Grafana single-pane dashboard as code, push to Grafana, snapshot without Grafana.

`DASHBOARDS` maps each rendered file name under `dashboards/` to its builder.
"""

from __future__ import annotations

from collections.abc import Callable

from observability.config import BundleConfig
from observability.dashboards.single_pane import build_single_pane

__all__ = ["DASHBOARDS", "build_all", "build_single_pane"]

DASHBOARDS: dict[str, Callable[[BundleConfig], dict]] = {
    "vllm-single-pane.json": build_single_pane,
}


def build_all(cfg: BundleConfig) -> dict[str, dict]:
    """File name -> dashboard JSON for every registered dashboard."""
    return {name: build(cfg) for name, build in DASHBOARDS.items()}
