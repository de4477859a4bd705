"""vllm.runtimes: the runtime mappings onto the normalised vLLM names, and runtime alerts.

Rendered only when a model's runtime needs it (models.<key>.runtime other than vllm):
each runtime in use contributes recording rules that write `vllm:*` from its own
names (observability/runtimes/), and alerts about its own control plane. The group comes
first in rule order; every other group reads its output as if vLLM exposed it directly.
"""

from __future__ import annotations

from typing import Any

from observability import runtimes
from observability.alerting.timing import Timing
from observability.config import BundleConfig
from observability.rulebase import Scope

__all__ = ["GROUP", "group"]

GROUP = "vllm.runtimes"


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    return {
        "name": GROUP,
        "rules": [*runtimes.mapping_rules(cfg, sc), *runtimes.alert_rules(cfg, t, sc)],
    }
