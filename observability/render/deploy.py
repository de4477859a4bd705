"""Render stage: deploy. (Filled in by its issue; returns no artifacts yet.)"""

from __future__ import annotations

from typing import Any

from observability.config import BundleConfig

__all__ = ["artifacts"]


def artifacts(cfg: BundleConfig) -> dict[str, Any]:
    return {}
