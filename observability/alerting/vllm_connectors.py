"""vllm.connectors: KV moved between workers or tiers by a KV connector going to waste.

- VLLMNixlKVExpired: in a prefill/decode (P/D) deployment the decode worker pulls each
  request's KV from the prefill worker over NIXL; the prefill worker released a request's KV before the decode worker
  read it (its lease expired): the decode side recomputes the prompt, so P/D stops paying.
- VLLMKVOffloadAllocationFailures: the OffloadingConnector found no room in its offload
  medium (CPU memory) for a store: KV that would have been reused is dropped.

Failed NIXL transfers are VLLMNixlTransferFailures (vllm.router, rendered with
`gateway.inference_pool.disaggregation`). The families come from vLLM main's connector
stats (unreleased-vllm-main.json); without the connector nothing matches, nothing fires.
"""

from __future__ import annotations

from typing import Any

from observability.alerting.links import DASHBOARD_KEY
from observability.alerting.timing import Timing
from observability.config import BundleConfig
from observability.metrics.catalog import vllm_main_catalog
from observability.metrics.promql import divide
from observability.rulebase import Scope, alert

__all__ = ["GROUP", "group"]

GROUP = "vllm.connectors"
_WHERE = "pod {{ $labels.pod }} ({{ $labels.model_name }}, namespace {{ $labels.namespace }})"


def _name(family: str) -> str:
    """A family of vLLM main's catalog, by name: a typo fails at render, not silently."""
    if family not in vllm_main_catalog().families:
        raise KeyError(f"{family} is not in unreleased-vllm-main.json")
    return family


EXPIRED = _name("vllm:nixl_num_kv_expired_reqs_total")
ALLOCATION_FAILURES = _name("vllm:kv_offload_allocation_failure_total")
STORES = _name("vllm:kv_offload_store_size") + "_count"


def _rate(sc: Scope, name: str, window: str) -> str:
    return f"sum by ({sc.by(sc.pod)}) (rate({name}[{window}]))"


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    a = cfg.alerting
    w = t.rate_window
    alloc = _rate(sc, ALLOCATION_FAILURES, w)
    stores = f"{_rate(sc, STORES, w)} + {alloc}"
    rules = [
        alert(
            "VLLMNixlKVExpired",
            f"{_rate(sc, EXPIRED, w)} > {a.nixl_kv_expired_per_second:g}",
            t.error_for,
            "warning",
            "Prefill workers release KV before decode workers read it.",
            f"{{{{ $value | humanize }}}} requests/s on prefill {_WHERE} had their KV "
            f"expire before a decode worker pulled it, over the last {w} (threshold "
            f"{a.nixl_kv_expired_per_second:g}/s): the decode side recomputes them.",
        ),
        alert(
            "VLLMKVOffloadAllocationFailures",
            f"{divide(alloc, stores)} > {a.kv_offload_allocation_failure_ratio_warning:g}",
            t.error_for,
            "warning",
            "KV offload stores find no free space.",
            f"{{{{ $value | humanizePercentage }}}} of KV offload stores on {_WHERE} could "
            f"not allocate offload space over the last {w} (threshold "
            f"{a.kv_offload_allocation_failure_ratio_warning:.0%}): reusable KV is dropped "
            "and recomputed.",
        ),
    ]
    for rule in rules:
        rule[DASHBOARD_KEY] = "kv"  # the KV cache & disaggregation dashboard shows them
    return {"name": GROUP, "rules": rules}
