"""gpu.capacity: allocatable vs requested `nvidia.com/gpu` per node pool, pending GPU
requests, and Karpenter GPU node pools that cannot launch.

Node pools come from the node label `gpu.node_pool_label` (Karpenter's
`karpenter.sh/nodepool` by default), which the bundle allowlists for kube-state-metrics'
`kube_node_labels`. The Karpenter alerts read Karpenter's own metrics (names from
kubernetes-sigs/karpenter v1.14.1, see metrics/data/karpenter-1.14.1.json); without
Karpenter they select nothing and stay silent.
"""

from __future__ import annotations

from typing import Any

from observability.alerting.timing import Timing, scaled
from observability.config import BundleConfig
from observability.metrics.kube import (
    GPU_RESOURCE,
    KARPENTER,
    KARPENTER_GPU_RESOURCE,
    KSM,
    KSM_JOB,
    ksm_label,
)
from observability.rulebase import Scope, alert, record

__all__ = ["ALLOCATABLE", "GROUP", "PENDING", "RECORDED_FROM", "REQUESTED", "group"]

GROUP = "gpu.capacity"
ALLOCATABLE = "node_pool:kube_node_status_allocatable_nvidia_gpu:sum"
REQUESTED = "node_pool:kube_pod_container_resource_requests_nvidia_gpu:sum"
PENDING = "namespace:kube_pod_unschedulable_nvidia_gpu_requests:sum"
# What each recording reads (checked against the generated rules in tests/test_lifecycle.py).
RECORDED_FROM: dict[str, tuple[str, ...]] = {
    ALLOCATABLE: (KSM.NODE_ALLOCATABLE, KSM.NODE_LABELS),
    REQUESTED: (KSM.RESOURCE_REQUESTS, KSM.POD_PHASE, KSM.NODE_LABELS),
    PENDING: (KSM.RESOURCE_REQUESTS, KSM.POD_UNSCHEDULABLE),
}


def _ksm(name: str, matchers: str = "") -> str:
    inner = f'job="{KSM_JOB}"' + (f", {matchers}" if matchers else "")
    return f"{name}{{{inner}}}"


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    pre = (sc.cluster,) if sc.cluster else ()
    pool = (*pre, "node_pool")
    node = (*pre, "node")
    pod = (*pre, "namespace", "pod")
    label = ksm_label(cfg.gpu.node_pool_label)
    node_pool = (
        f"group by ({sc.by((*node, 'node_pool'))}) (\n"
        f'  label_replace({_ksm(KSM.NODE_LABELS)}, "node_pool", "$1", "{label}", "(.*)")\n)'
    )
    gpu = f'resource="{GPU_RESOURCE}"'
    live = _ksm(KSM.POD_PHASE, 'phase=~"Pending|Running"')
    pending_total = f"sum by ({sc.by(pre)}) ({PENDING})" if pre else f"sum({PENDING})"
    k_gpu = f'resource_type="{KARPENTER_GPU_RESOURCE}"'
    five = scaled(t, "5m")
    window = scaled(t, "15m")
    return {
        "name": GROUP,
        "rules": [
            record(
                ALLOCATABLE,
                f"sum by ({sc.by(pool)}) (\n  {_ksm(KSM.NODE_ALLOCATABLE, gpu)}\n"
                f"  * {sc.on(node)} group_left (node_pool) {node_pool}\n)",
            ),
            record(
                REQUESTED,
                f"sum by ({sc.by(pool)}) (\n"
                f"  {_ksm(KSM.RESOURCE_REQUESTS, gpu + ', node!=' + chr(34) * 2)}\n"
                f"  * {sc.on(pod)} group_left () ({live} == 1)\n"
                f"  * {sc.on(node)} group_left (node_pool) {node_pool}\n)",
            ),
            record(
                PENDING,
                f"sum by ({sc.by((*pre, 'namespace'))}) (\n  {_ksm(KSM.RESOURCE_REQUESTS, gpu)}\n"
                f"  and {sc.on(pod)} ({_ksm(KSM.POD_UNSCHEDULABLE)} == 1)\n)",
            ),
            alert(
                "GPUNodePoolLimitReached",
                f"{KARPENTER.NODEPOOL_USAGE}{{{k_gpu}}}\n"
                f">= {sc.on((*pre, 'nodepool', 'resource_type'))} {KARPENTER.NODEPOOL_LIMIT}{{{k_gpu}}}\n"
                f"and {sc.on(pre)} ({pending_total} > 0)",
                five,
                "warning",
                "A Karpenter GPU node pool is at its limit while GPU pods wait.",
                "Karpenter node pool {{ $labels.nodepool }} has provisioned {{ $value }} "
                "nvidia.com/gpu, its spec.limits, and pods requesting GPUs are unschedulable: "
                "raise the limit or free GPUs.",
            ),
            alert(
                "GPUNodeLaunchFailing",
                f"sum by ({sc.by((*pre, 'error'))}) (\n"
                f'  increase({KARPENTER.CLOUDPROVIDER_ERRORS}{{method="Create"}}[{window}])\n'
                f") > 0\nand {sc.on(pre)} ({pending_total} > 0)",
                five,
                "warning",
                "Karpenter cannot launch nodes while GPU pods wait.",
                "Karpenter's cloud provider Create calls failed {{ $value | humanize }} times "
                "in the last 15m (error {{ $labels.error }}, e.g. InsufficientCapacityError: "
                "no GPU instances in the zones) and pods requesting GPUs are unschedulable.",
            ),
        ],
    }
