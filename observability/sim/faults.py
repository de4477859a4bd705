"""Fault registry: which faults exist, their parameters, and which are active where."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAULTS", "LIFECYCLE_FAULTS", "ActiveFault", "FaultError", "FaultSpec", "Faults"]


class FaultError(ValueError):
    """Bad fault request; the message names the problem and the fix."""


@dataclass(frozen=True)
class FaultSpec:
    name: str
    scope: str  # "replica" (pod targets) or "node" (GPU/DCGM targets)
    params: dict[str, tuple[type, Any]]  # name -> (type, default)
    help: str


FAULTS: dict[str, FaultSpec] = {
    s.name: s
    for s in (
        FaultSpec("slow-gpu", "replica", {"factor": (float, 5.0)}, "step time x factor"),
        FaultSpec(
            "kv-pressure",
            "replica",
            {"block_fraction": (float, 0.05)},
            "only this fraction of KV blocks usable",
        ),
        FaultSpec(
            "error-storm", "replica", {"ratio": (float, 0.5)}, "ratio of requests fail with 500"
        ),
        FaultSpec("engine-hang", "replica", {}, "requests accepted, no tokens produced"),
        FaultSpec(
            "sleep",
            "replica",
            {"level": (int, 1)},
            "sleep mode (POST /sleep?level=N): engine_sleep_state awake 0, no tokens until woken",
        ),
        FaultSpec("crash", "replica", {}, "the replica's port closes"),
        FaultSpec("pool-unready", "replica", {}, "endpoint picker: no ready endpoint in its pool"),
        FaultSpec(
            "scheduling-failures",
            "replica",
            {"ratio": (float, 0.5)},
            "endpoint picker: this share of scheduling attempts fail",
        ),
        FaultSpec("datalayer-errors", "replica", {}, "endpoint picker: its endpoint polls fail"),
        FaultSpec(
            "nixl-transfer-failures",
            "replica",
            {"ratio": (float, 0.5)},
            "with --nixl: this share of a decode worker's NIXL KV pulls fail "
            "(vllm:nixl_num_failed_transfers_total); the prompt is recomputed",
        ),
        FaultSpec("metrics-disabled", "replica", {}, "vllm:* metrics vanish"),
        FaultSpec("underscore-escaping", "replica", {}, "sample names vllm: -> vllm_"),
        FaultSpec(
            "pod-pending-gpu",
            "replica",
            {},
            "pod recreated and unschedulable: no free nvidia.com/gpu (kube-state-metrics)",
        ),
        FaultSpec(
            "crash-loop",
            "replica",
            {"reason": (str, "Error"), "restart_every_s": (float, 10.0)},
            "container exits with reason and waits in CrashLoopBackOff (kube-state-metrics)",
        ),
        FaultSpec(
            "slow-start",
            "replica",
            {},
            "container restarted, still loading the model, not ready (kube-state-metrics)",
        ),
        FaultSpec("gpu-xid", "node", {"xid": (int, 79)}, "DCGM_FI_DEV_XID_ERRORS = xid"),
        FaultSpec("gpu-overheat", "node", {"celsius": (float, 95.0)}, "GPU temperature"),
    )
}


# Faults that leave the pod without a listening vLLM (not scheduled, crashed, loading).
LIFECYCLE_FAULTS = ("pod-pending-gpu", "crash-loop", "slow-start")


@dataclass(frozen=True)
class ActiveFault:
    fault: str
    target: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"fault": self.fault, "target": self.target, "params": dict(self.params)}


class Faults:
    """Active faults; `on_change(fault, target)` lets the cluster react (crash, hang)."""

    def __init__(self, replicas: list[str], nodes: list[str]) -> None:
        self.replicas, self.nodes = set(replicas), set(nodes)
        self.active: dict[tuple[str, str], ActiveFault] = {}
        self.listeners: list[Callable[[], None]] = []

    def add(self, fault: str, target: str = "all", params: dict[str, Any] | None = None) -> None:
        spec = FAULTS.get(fault)
        if spec is None:
            raise FaultError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        valid = self.replicas if spec.scope == "replica" else self.nodes
        if target != "all" and target not in valid:
            kind = "pod" if spec.scope == "replica" else "node"
            raise FaultError(
                f"{fault} targets a {kind}; {target!r} is none of: all, {', '.join(sorted(valid))}"
            )
        given = dict(params or {})
        unknown = set(given) - set(spec.params)
        if unknown:
            raise FaultError(f"{fault} takes params {sorted(spec.params)}, not {sorted(unknown)}")
        values = {}
        for name, (typ, default) in spec.params.items():
            try:
                values[name] = typ(given.get(name, default))
            except (TypeError, ValueError):
                raise FaultError(f"{fault}: param {name} must be a {typ.__name__}") from None
        self.active[(fault, target)] = ActiveFault(fault, target, values)
        self._changed()

    def remove(self, fault: str | None = None) -> None:
        if fault is not None and fault not in FAULTS:
            raise FaultError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        for key in [k for k in self.active if fault is None or k[0] == fault]:
            del self.active[key]
        self._changed()

    def get(self, fault: str, target: str) -> ActiveFault | None:
        return self.active.get((fault, target)) or self.active.get((fault, "all"))

    def listing(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self.active.values()]

    def _changed(self) -> None:
        for fn in self.listeners:
            fn()
