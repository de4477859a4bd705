"""vllm.operations: the engine's own operations that never finish, and its process memory.

- VLLMEngineStuckAsleep: requests wait on an engine that is asleep (sleep mode, vLLM >=
  0.11): nothing serves them until someone calls /wake_up. VLLMEngineStalled leaves
  sleeping engines out on purpose, so this is the alert for a sleep that outlived its use.
- VLLMEngineOperationStuck: a sleep, wake, KV-cache release or RL weight-update operation
  (init, start, update, finish, set_version) has been in flight longer than
  `alerting.engine_operation_stuck_for` (vLLM main's `*_operations_in_flight` gauges).
- VLLMProcessMemoryNearLimit: the API server's resident memory nears the vllm
  container's memory limit (kube-state-metrics): the kernel OOM-kills the container next.
"""

from __future__ import annotations

from typing import Any

from observability.alerting.links import DASHBOARD_KEY
from observability.alerting.targets import vllm_up
from observability.alerting.timing import Timing, scaled
from observability.alerting.vllm_availability import asleep
from observability.config import BundleConfig
from observability.metrics.catalog import vllm_main_catalog
from observability.metrics.names import VLLM
from observability.metrics.promql import divide
from observability.rulebase import Scope, alert

__all__ = ["GROUP", "group"]

GROUP = "vllm.operations"
IN_FLIGHT = tuple(
    n
    for n in ("vllm:sleep_mode_operations_in_flight", "vllm:rl_weight_update_operations_in_flight")
    if n in vllm_main_catalog().families
)
# The vLLM container of the model pods (deploy/vllm); its memory limit is the OOM line.
CONTAINER = "vllm"


def _stuck_asleep(sc: Scope) -> str:
    keys = sc.pod
    waiting = f"sum by ({sc.by(keys)}) ({VLLM.WAITING.v1}) > 0"
    return f"{waiting}\nand {sc.on(keys)}\n{asleep(sc, keys)}"


def _in_flight(sc: Scope) -> str:
    pre = (sc.cluster,) if sc.cluster else ()
    keys = (*pre, "namespace", "pod", "operation")
    return " or ".join(f"max by ({sc.by(keys)}) ({n}) > 0" for n in IN_FLIGHT)


def _memory_ratio(cfg: BundleConfig, sc: Scope) -> str:
    pre = (sc.cluster,) if sc.cluster else ()
    keys = (*pre, "namespace", "pod")
    job = vllm_up(cfg).removeprefix("up{").removesuffix("}")
    rss = f"sum by ({sc.by(keys)}) (process_resident_memory_bytes{{{job}}})"
    limit = (
        f"sum by ({sc.by(keys)}) (kube_pod_container_resource_limits"
        f'{{resource="memory", container="{CONTAINER}"}})'
    )
    return divide(rss, limit)


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    a = cfg.alerting
    stuck_for = scaled(t, a.engine_operation_stuck_for)
    ratio = a.process_memory_limit_ratio_warning
    rules = [
        alert(
            "VLLMEngineStuckAsleep",
            _stuck_asleep(sc),
            t.stalled_for,
            "critical",
            "Requests wait on a vLLM engine that is asleep.",
            "{{ $value }} requests wait on pod {{ $labels.pod }} ({{ $labels.model_name }}, "
            "namespace {{ $labels.namespace }}) while every engine there is asleep (sleep "
            "mode): nothing serves them until POST /wake_up.",
        ),
        alert(
            "VLLMEngineOperationStuck",
            _in_flight(sc),
            stuck_for,
            "warning",
            "A vLLM sleep, wake or weight-update operation never finishes.",
            "Operation {{ $labels.operation }} on pod {{ $labels.pod }} (namespace "
            f"{{{{ $labels.namespace }}}}) has been in flight for over {stuck_for} "
            "({{ $value }} awaiting).",
        ),
        alert(
            "VLLMProcessMemoryNearLimit",
            f"{_memory_ratio(cfg, sc)} > {ratio:g}",
            t.memory_for,
            "warning",
            "vLLM's API server memory nears its container limit.",
            "The vLLM API server on pod {{ $labels.pod }} (namespace {{ $labels.namespace }}) "
            "uses {{ $value | humanizePercentage }} of the "
            f"{CONTAINER} container's memory limit (threshold {ratio:.0%}): the container "
            "is OOM-killed next.",
        ),
    ]
    for rule in rules:
        rule[DASHBOARD_KEY] = "instance"  # the instance drill-down shows them per pod
    return {"name": GROUP, "rules": rules}
