"""A fake kube-state-metrics for the simulated pods, deployments and GPU nodes.

It serves the families the lifecycle and GPU capacity rules read, shaped as
kube-state-metrics 2.20.0 exposes them (internal/store/pod.go, deployment.go, node.go):
`uid` on pod series, `kube_pod_status_phase` one series per phase, waiting/last-terminated
reasons only while set, `kube_pod_status_ready` absent until the pod has a Ready
condition (a Pending pod), `kube_pod_container_resource_requests` with `node=""` while
unscheduled, and `label_*` only for the allowlisted labels the bundle configures.

Lifecycle faults (scope `replica`, targeting a pod) change what it reports; the cluster
also closes the replica's port, as a pod that is not running exposes no `/metrics`:

- `pod-pending-gpu`: the pod was recreated and cannot be scheduled; a batch job took
  every free GPU (so the scheduler's reason is insufficient nvidia.com/gpu).
- `crash-loop`: the container exits (`reason`, e.g. Error or OOMKilled) and waits in
  CrashLoopBackOff; restarts count up every `restart_every_s`.
- `slow-start`: the container restarted and is still downloading/loading the model.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from observability.metrics.kube import GPU_RESOURCE, KSM, ksm_label
from observability.sim.exporter import PROMETHEUS_TEXT
from observability.sim.faults import Faults

__all__ = ["CONTENT_TYPE", "NODE_POOL", "KsmNode", "KsmPod", "KubeState"]

CONTENT_TYPE = PROMETHEUS_TEXT  # kube-state-metrics serves the text format 0.0.4
NODE_POOL = "gpu-pool"  # karpenter.sh/nodepool of every simulated GPU node
_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
_HELP = {
    KSM.POD_LABELS: "Kubernetes labels converted to Prometheus labels.",
    KSM.POD_PHASE: "The pods current phase.",
    KSM.POD_UNSCHEDULABLE: "Describes the unschedulable status for the pod.",
    KSM.POD_SCHEDULED_TIME: "Unix timestamp when pod moved into scheduled status",
    KSM.POD_READY: "Describes whether the pod is ready to serve requests.",
    KSM.WAITING_REASON: "Describes the reason the container is currently in waiting state.",
    KSM.LAST_TERMINATED_REASON: "Describes the last reason the container was in terminated state.",
    KSM.RESTARTS: "The number of container restarts per container.",
    KSM.CONTAINER_READY: "Describes whether the containers readiness check succeeded.",
    KSM.CONTAINER_RUNNING: "Describes whether the container is currently in running state.",
    KSM.CONTAINER_STARTED: "Start time in unix timestamp for a pod container.",
    KSM.RESOURCE_REQUESTS: "The number of requested request resource by a container.",
    KSM.DEPLOYMENT_SPEC_REPLICAS: "Number of desired pods for a deployment.",
    KSM.DEPLOYMENT_READY: "The number of ready replicas per deployment.",
    KSM.DEPLOYMENT_LABELS: "Kubernetes labels converted to Prometheus labels.",
    KSM.NODE_ALLOCATABLE: "The allocatable for different resources of a node that are available for scheduling.",
    KSM.NODE_LABELS: "Kubernetes labels converted to Prometheus labels.",
}
_COUNTERS = {KSM.RESTARTS}


@dataclass
class KsmPod:
    name: str
    namespace: str
    model_key: str
    node: str
    gpus: int
    container: str = "vllm"
    deployment: str = ""  # the Deployment that owns the pod ("" = none: a StatefulSet's)
    # the allowlisted pod labels kube_pod_labels shows (None = the vLLM workload's:
    # app.kubernetes.io/name = container, app.kubernetes.io/instance = model key)
    labels: dict[str, str] | None = None
    started_at: float = field(default_factory=time.time)
    restarts: int = 0
    last_terminated: str | None = None

    @property
    def uid(self) -> str:
        h = hashlib.sha1(f"{self.namespace}/{self.name}".encode()).hexdigest()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    def pod_labels(self) -> dict[str, str]:
        if self.labels is not None:
            return self.labels
        return {
            "app.kubernetes.io/name": self.container,
            "app.kubernetes.io/instance": self.model_key,
        }


@dataclass
class KsmNode:
    name: str
    gpus: int


def _labels(**kv: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in kv.items())


class KubeState:
    """The objects and their state; `exposition()` renders them at scrape time (an
    `Exporter`, sim/exporter.py, listening on `port`)."""

    content_type = CONTENT_TYPE

    def __init__(
        self,
        pods: list[KsmPod],
        nodes: list[KsmNode],
        faults: Faults,
        started_at: float,
        node_pool_label: str = "karpenter.sh/nodepool",
        clock: Callable[[], float] = time.time,
        port: int = 0,
    ) -> None:
        self.pods, self.nodes, self.faults = pods, nodes, faults
        self.port = port
        self.started_at = started_at
        self.node_pool_label = node_pool_label
        self.clock = clock
        self._fault_since: dict[tuple[str, str], float] = {}
        self._restart_every: dict[str, float] = {}  # pod -> crash-loop restart period

    # -- fault bookkeeping -------------------------------------------------------------
    def on_faults_changed(self) -> None:
        """Record when each lifecycle fault began; a cleared fault restarts the pod."""
        now = self.clock()
        for pod in self.pods:
            for fault in ("pod-pending-gpu", "crash-loop", "slow-start"):
                key = (fault, pod.name)
                active = self.faults.get(fault, pod.name) is not None
                if active and key not in self._fault_since:
                    self._fault_since[key] = now
                    if fault == "crash-loop":
                        crash = self.faults.get(fault, pod.name)
                        assert crash is not None
                        self._restart_every[pod.name] = float(crash.params["restart_every_s"])
                    if fault == "slow-start":
                        pod.restarts += 1
                        pod.last_terminated = "Completed"
                        pod.started_at = now
                elif not active and key in self._fault_since:
                    # back to a running, ready container started now
                    pod.started_at = now
                    if fault == "crash-loop":
                        pod.restarts += self._crash_restarts(pod, key, now)
                    del self._fault_since[key]

    def _crash_restarts(self, pod: KsmPod, key: tuple[str, str], now: float) -> int:
        """Restarts since the crash loop began: one at once, then one per period."""
        every = self._restart_every.get(pod.name, 10.0)
        since = self._fault_since.get(key, now)
        return 1 + int((now - since) // max(every, 1.0))

    def state(self, pod: KsmPod) -> dict[str, Any]:
        """What kube-state-metrics would report for `pod` now."""
        now = self.clock()
        if self.faults.get("pod-pending-gpu", pod.name):
            return {"phase": "Pending", "scheduled": False, "ready": None, "running": False}
        crash = self.faults.get("crash-loop", pod.name)
        if crash:
            since = self._fault_since.get(("crash-loop", pod.name), now)
            return {
                "phase": "Running",
                "scheduled": True,
                "ready": False,
                "running": False,
                "waiting": "CrashLoopBackOff",
                "restarts": pod.restarts + self._crash_restarts(pod, ("crash-loop", pod.name), now),
                "last_terminated": crash.params["reason"],
                "started": None,
                "since": since,
            }
        if self.faults.get("slow-start", pod.name):
            return {"phase": "Running", "scheduled": True, "ready": False, "running": True}
        return {"phase": "Running", "scheduled": True, "ready": True, "running": True}

    # -- exposition ----------------------------------------------------------------------
    def exposition(self) -> bytes:
        out: dict[str, list[str]] = {name: [] for name in _HELP}

        def add(name: str, labels: str, value: float) -> None:
            text = str(int(value)) if float(value).is_integer() else repr(float(value))
            out[name].append(f"{name}{{{labels}}} {text}")

        pending_gpus = 0
        node_requests: dict[str, int] = {}
        ready_by_deploy: dict[tuple[str, str], int] = {}
        desired: dict[tuple[str, str], int] = {}
        for pod in self.pods:
            st = self.state(pod)
            base = _labels(namespace=pod.namespace, pod=pod.name, uid=pod.uid)
            ctr = f'{base},container="{pod.container}"'
            shown = "".join(f',{ksm_label(k)}="{v}"' for k, v in pod.pod_labels().items())
            add(KSM.POD_LABELS, base + shown, 1)
            for phase in _PHASES:
                add(KSM.POD_PHASE, f'{base},phase="{phase}"', 1 if phase == st["phase"] else 0)
            key = (pod.namespace, pod.deployment)
            if pod.deployment:
                desired[key] = desired.get(key, 0) + 1
                ready_by_deploy.setdefault(key, 0)
            node = pod.node if st["scheduled"] else ""
            add(
                KSM.RESOURCE_REQUESTS,
                f'{ctr},node="{node}",resource="{GPU_RESOURCE}",unit="integer"',
                pod.gpus,
            )
            if not st["scheduled"]:
                add(KSM.POD_UNSCHEDULABLE, base, 1)
                pending_gpus += pod.gpus
                continue
            node_requests[pod.node] = node_requests.get(pod.node, 0) + pod.gpus
            add(KSM.POD_SCHEDULED_TIME, base, int(self.started_at))
            ready = bool(st["ready"])
            if pod.deployment:
                ready_by_deploy[key] += int(ready)
            for cond, value in (("true", ready), ("false", not ready), ("unknown", False)):
                add(KSM.POD_READY, f'{base},condition="{cond}"', int(value))
            add(KSM.CONTAINER_READY, ctr, int(ready))
            add(KSM.CONTAINER_RUNNING, ctr, int(st["running"]))
            if st["running"]:
                add(KSM.CONTAINER_STARTED, ctr, int(pod.started_at))
            if st.get("waiting"):
                add(KSM.WAITING_REASON, f'{ctr},reason="{st["waiting"]}"', 1)
            last = st.get("last_terminated") or pod.last_terminated
            if last:
                add(KSM.LAST_TERMINATED_REASON, f'{ctr},reason="{last}"', 1)
            add(KSM.RESTARTS, ctr, st.get("restarts", pod.restarts))
        if pending_gpus:
            # A batch job took every GPU the pending pods could have had.
            free = {n.name: n.gpus - node_requests.get(n.name, 0) for n in self.nodes}
            for n, gpus in free.items():
                if gpus <= 0:
                    continue
                pod = f"train-{hashlib.sha1(n.encode()).hexdigest()[:5]}"
                base = _labels(namespace="batch", pod=pod, uid=f"batch-{n}")
                add(KSM.POD_LABELS, base, 1)
                for phase in _PHASES:
                    add(KSM.POD_PHASE, f'{base},phase="{phase}"', int(phase == "Running"))
                add(
                    KSM.RESOURCE_REQUESTS,
                    f'{base},container="trainer",node="{n}",resource="{GPU_RESOURCE}",unit="integer"',
                    gpus,
                )
        # a Deployment's labels are its pods' (the reference workloads label both alike)
        owner_labels = {(p.namespace, p.deployment): p.pod_labels() for p in self.pods}
        for (ns, deploy), n in desired.items():
            base = _labels(namespace=ns, deployment=deploy)
            shown = "".join(f',{ksm_label(k)}="{v}"' for k, v in owner_labels[(ns, deploy)].items())
            add(KSM.DEPLOYMENT_LABELS, base + shown, 1)
            add(KSM.DEPLOYMENT_SPEC_REPLICAS, base, n)
            add(KSM.DEPLOYMENT_READY, base, ready_by_deploy[(ns, deploy)])
        pool = ksm_label(self.node_pool_label)
        for node in self.nodes:
            add(KSM.NODE_LABELS, f'node="{node.name}",{pool}="{NODE_POOL}"', 1)
            add(
                KSM.NODE_ALLOCATABLE,
                f'node="{node.name}",resource="{GPU_RESOURCE}",unit="integer"',
                node.gpus,
            )
        lines: list[str] = []
        for name, samples in out.items():
            kind = "counter" if name in _COUNTERS else "gauge"
            lines += [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} {kind}", *samples]
        return ("\n".join(lines) + "\n").encode()
