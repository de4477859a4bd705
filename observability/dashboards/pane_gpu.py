"""Single pane, GPU rows: DCGM per GPU, capacity and pod lifecycle, cost."""

from __future__ import annotations

from observability.alerting import capacity as capacity_rules
from observability.alerting import lifecycle
from observability.config import BundleConfig
from observability.dashboards.panels import PanelSpec, Query, thresholds_high, thresholds_low
from observability.dashboards.queries import Queries
from observability.metrics.kube import KARPENTER, KARPENTER_GPU_RESOURCE
from observability.metrics.names import DCGM

__all__ = ["GPU_BY", "GPU_LEGEND", "capacity", "cost", "gpu"]

GPU_BY = ("Hostname", "gpu", "pod")
GPU_LEGEND = "{{Hostname}} gpu{{gpu}} {{pod}}"


def gpu(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    a = cfg.alerting
    d = q.dcgm(*GPU_BY)
    return [
        PanelSpec(
            "timeseries",
            "GPU utilization",
            "Fraction of time a kernel ran, per GPU and the pod using it",
            "percentunit",
            (Query(q.gpu_util_ratio(*GPU_BY), GPU_LEGEND),),
            min=0,
            max=1,
            thresholds=thresholds_low(a.gpu_utilization_low_ratio),
        ),
        PanelSpec(
            "timeseries",
            "GPU framebuffer used vs total",
            "Framebuffer memory used and total (used + free) per GPU; near-full is normal "
            "because vLLM preallocates --gpu-memory-utilization",
            "mbytes",
            (
                Query(d.gauge_raw(DCGM.FB_USED, "max"), f"used {GPU_LEGEND}"),
                Query(q.fb_total(*GPU_BY), f"total {GPU_LEGEND}"),
            ),
        ),
        PanelSpec(
            "timeseries",
            "GPU power",
            "Power draw per GPU",
            "watt",
            (Query(d.gauge_raw(DCGM.POWER_USAGE, "max"), GPU_LEGEND),),
        ),
        PanelSpec(
            "timeseries",
            "GPU temperature",
            "Core temperature per GPU; lines at the GPUHighTemperature thresholds",
            "celsius",
            (Query(d.gauge_raw(DCGM.GPU_TEMP, "max"), GPU_LEGEND),),
            thresholds=thresholds_high(
                a.gpu_temperature_warning_celsius, a.gpu_temperature_critical_celsius
            ),
        ),
        PanelSpec(
            "timeseries",
            "GPU XID errors",
            "Last XID error code per GPU (0 = none); any non-zero value needs a look "
            "(GPUXidErrors)",
            "none",
            (Query(d.gauge_raw(DCGM.XID_ERRORS, "max"), GPU_LEGEND),),
            thresholds=thresholds_high(critical=1),
        ),
        PanelSpec(
            "table",
            "GPUs in use",
            "One row per GPU attributed to a selected pod: type, node, pod and utilization now",
            "percentunit",
            (
                Query(
                    q.gpu_util_ratio("modelName", *GPU_BY),
                    fmt="table",
                    instant=True,
                ),
            ),
            extra={"options": {"showHeader": True}},
            columns=(
                ("modelName", "GPU type"),
                ("Hostname", "Node"),
                ("gpu", "GPU"),
                ("pod", "Pod"),
                ("Value", "Utilization"),
            ),
        ),
    ]


def cost(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    return [
        PanelSpec(
            "timeseries",
            "Token cost per model (USD/h)",
            "USD per hour: prompt and generated tokens/s x models[*].cost (per 1K tokens), "
            "matched on model_name = served_name",
            "currencyUSD",
            (Query(q.token_cost_per_hour("model_name"), "{{model_name}}"),),
            stack=True,
        ),
        PanelSpec(
            "timeseries",
            "GPU cost per GPU type (USD/h)",
            "USD per hour: attributed GPUs x gpu.hourly_cost keyed by DCGM modelName",
            "currencyUSD",
            (Query(q.gpu_cost_per_hour("modelName"), "{{modelName}}"),),
            stack=True,
        ),
        PanelSpec(
            "timeseries",
            "GPU cost per 1M generated tokens",
            "USD of GPU time per million generated tokens over the selection",
            "currencyUSD",
            (Query(q.gpu_cost_per_million_tokens(), "USD / 1M tokens"),),
        ),
    ]


def capacity(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    """Before the first token: ready model pods (kube-state-metrics), GPUs per node pool,
    GPUs that pods wait for, and Karpenter's GPU node pool limits."""
    gpu = f'resource_type="{KARPENTER_GPU_RESOURCE}"'
    return [
        PanelSpec(
            "timeseries",
            "Ready pods per model",
            "Model pods whose Ready condition is true (kube-state-metrics); a dip without "
            "a latency change is a pod Pending, crash-looping or still loading: the "
            "VLLMPod* alerts name which",
            "short",
            (Query(q.recorded(lifecycle.READY_PODS, "model_name"), "{{model_name}}"),),
            min=0,
        ),
        PanelSpec(
            "timeseries",
            "GPUs per node pool: allocatable vs requested",
            f"nvidia.com/gpu allocatable on the nodes of each pool (node label "
            f"{cfg.gpu.node_pool_label}) and requested by the live pods scheduled there",
            "short",
            (
                Query(
                    q.unscoped(capacity_rules.ALLOCATABLE, "node_pool"), "{{node_pool}} allocatable"
                ),
                Query(q.unscoped(capacity_rules.REQUESTED, "node_pool"), "{{node_pool}} requested"),
            ),
            min=0,
            colors=(("allocatable", "blue"), ("requested", "orange")),
        ),
        PanelSpec(
            "timeseries",
            "GPUs requested by unschedulable pods",
            "nvidia.com/gpu that unschedulable pods of the selected namespaces wait for, and "
            "the GPUs no pod has requested (cluster-wide): waiting GPUs with none free is a "
            "capacity "
            "shortage (VLLMPodUnschedulable reason InsufficientGPU)",
            "short",
            (
                # zero-filled: no Pending GPU pod is the normal case, not "No data"
                Query(
                    f"{q.unscoped(capacity_rules.PENDING, labels=('namespace',))} or vector(0)",
                    "waiting",
                ),
                Query(q.unscoped(lifecycle.GPU_UNREQUESTED), "unrequested"),
            ),
            min=0,
            colors=(("waiting", "red"), ("unrequested", "green")),
        ),
        PanelSpec(
            "timeseries",
            "Karpenter GPU node pools: usage vs limit",
            "nvidia.com/gpu Karpenter has provisioned per NodePool against its spec.limits; "
            "at the limit no node launches (GPUNodePoolLimitReached)",
            "short",
            (
                Query(
                    q.unscoped(KARPENTER.NODEPOOL_USAGE, "nodepool", extra_matchers=gpu),
                    "{{nodepool}} usage",
                ),
                Query(
                    q.unscoped(KARPENTER.NODEPOOL_LIMIT, "nodepool", extra_matchers=gpu),
                    "{{nodepool}} limit",
                ),
            ),
            min=0,
        ),
    ]
