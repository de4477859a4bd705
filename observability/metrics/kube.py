"""kube-state-metrics and Karpenter names the lifecycle and GPU capacity rules read.

Defined once here; the families (type, labels, source and version) are committed data:
`data/kube-state-metrics-2.20.0.json` (what kube-prometheus-stack 88.5.3 ships) and
`data/karpenter-1.14.1.json`. The simulator's fake kube-state-metrics serves the same names.
"""

from __future__ import annotations

__all__ = ["GPU_RESOURCE", "KARPENTER", "KARPENTER_GPU_RESOURCE", "KSM", "KSM_JOB", "ksm_label"]

# The job kube-prometheus-stack's kube-state-metrics ServiceMonitor gives its target
# (jobLabel app.kubernetes.io/name of the chart's Service).
KSM_JOB = "kube-state-metrics"
# `nvidia.com/gpu` as KSM writes it in `resource` (SanitizeLabelName, internal/store/pod.go).
GPU_RESOURCE = "nvidia_com_gpu"
# ... and as Karpenter writes it in `resource_type` (lower-cased, '-' -> '_' only).
KARPENTER_GPU_RESOURCE = "nvidia.com/gpu"


def ksm_label(k8s_label: str) -> str:
    """A Kubernetes label as kube-state-metrics exposes it in `kube_*_labels`."""
    return "label_" + "".join(c if c.isalnum() else "_" for c in k8s_label)


class KSM:
    POD_LABELS = "kube_pod_labels"
    POD_PHASE = "kube_pod_status_phase"
    POD_UNSCHEDULABLE = "kube_pod_status_unschedulable"
    POD_SCHEDULED_TIME = "kube_pod_status_scheduled_time"
    POD_READY = "kube_pod_status_ready"
    WAITING_REASON = "kube_pod_container_status_waiting_reason"
    INIT_WAITING_REASON = "kube_pod_init_container_status_waiting_reason"
    LAST_TERMINATED_REASON = "kube_pod_container_status_last_terminated_reason"
    RESTARTS = "kube_pod_container_status_restarts_total"
    CONTAINER_READY = "kube_pod_container_status_ready"
    CONTAINER_RUNNING = "kube_pod_container_status_running"
    CONTAINER_STARTED = "kube_pod_container_state_started"
    RESOURCE_REQUESTS = "kube_pod_container_resource_requests"
    DEPLOYMENT_SPEC_REPLICAS = "kube_deployment_spec_replicas"
    DEPLOYMENT_READY = "kube_deployment_status_replicas_ready"
    DEPLOYMENT_LABELS = "kube_deployment_labels"
    NODE_ALLOCATABLE = "kube_node_status_allocatable"
    NODE_LABELS = "kube_node_labels"


class KARPENTER:
    NODEPOOL_USAGE = "karpenter_nodepools_usage"
    NODEPOOL_LIMIT = "karpenter_nodepools_limit"
    NODECLAIMS_CREATED = "karpenter_nodeclaims_created_total"
    CLOUDPROVIDER_ERRORS = "karpenter_cloudprovider_errors_total"
