"""Render stage: the workloads of models served by a runtime other than the vLLM
Deployment (`deploy/<runtime>/<model key>/`), one directory per registered model."""

from __future__ import annotations

from typing import Any

from observability import runtimes
from observability.config import BundleConfig

__all__ = ["artifacts"]


def artifacts(cfg: BundleConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in cfg.models:
        out.update(runtimes.runtime_of(cfg, key).workload(cfg, key))
    return out
