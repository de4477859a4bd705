"""vllm.meta: the always-firing Watchdog that proves the alerting pipeline works."""

from __future__ import annotations

from typing import Any

from observability.alerting.timing import Timing
from observability.config import BundleConfig
from observability.rulebase import Scope, alert

__all__ = ["GROUP", "group"]

GROUP = "vllm.meta"


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    return {
        "name": GROUP,
        "rules": [
            alert(
                "Watchdog",
                "vector(1)",
                "0s",
                "none",
                "Alerting pipeline heartbeat.",
                "This alert always fires. It is routed to a dead man's switch: when the "
                "heartbeat stops, Prometheus, its rule evaluation or Alertmanager is broken.",
            )
        ],
    }
