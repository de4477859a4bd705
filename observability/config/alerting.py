"""`alerting:` thresholds, the TTFT SLO and the receivers; `alertmanager:` its pods."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from observability.config.types import ConfigModel
from observability.config_errors import KeyProblem
from observability.duration import Duration
from observability.metrics.buckets import edge_problem
from observability.metrics.names import VLLM, Signal

__all__ = ["AlertingConfig", "AlertmanagerConfig", "ReceiversConfig", "SloConfig"]


def _on_bucket_edge(signal: Signal) -> AfterValidator:
    """A histogram threshold must be a bucket edge in every supported vLLM version."""

    def check(value: float) -> float:
        problem = edge_problem(value, signal)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


TtftEdge = Annotated[float, Field(gt=0), _on_bucket_edge(VLLM.TTFT)]
ItlEdge = Annotated[float, Field(gt=0), _on_bucket_edge(VLLM.ITL)]
E2eEdge = Annotated[float, Field(gt=0), _on_bucket_edge(VLLM.E2E)]
QueueTimeEdge = Annotated[float, Field(gt=0), _on_bucket_edge(VLLM.QUEUE_TIME)]


class SloConfig(ConfigModel):
    """The TTFT SLO: multi-window burn-rate alerts on its error budget."""

    threshold_seconds: TtftEdge = Field(
        1.0, description="A request meets the SLO when its TTFT is at most this (a bucket edge)"
    )
    objective: float = Field(
        0.99, gt=0, lt=1, description="Share of requests that must meet the threshold"
    )
    window: Duration = Field("30d", description="SLO period the error budget spans")
    min_requests: int = Field(
        10, ge=0, description="Low-traffic guard: requests needed in a burn-rate long window"
    )


class ReceiversConfig(ConfigModel):
    """Alertmanager receivers. Pager/chat keys are read from the receivers Secret as files;
    only non-secret webhook URLs live here (empty = that receiver drops notifications)."""

    ticket_webhook_url: str = Field("", description="Webhook for info/ticket alerts")
    heartbeat_webhook_url: str = Field("", description="Dead man's switch URL for Watchdog")
    webhook_token_from_secret: bool = Field(
        False, description="Send the Secret's webhook-token as a bearer token to the webhooks"
    )


class AlertingConfig(ConfigModel):
    """Alert thresholds. Defaults follow the production guide's table where it has one."""

    # Histogram thresholds: bucket edges present in every supported vLLM version.
    ttft_p99_warning_seconds: TtftEdge = Field(
        1.0, description="p99 time to first token that warns"
    )
    ttft_p99_critical_seconds: TtftEdge = Field(
        2.5, description="p99 time to first token that pages; above the warning"
    )
    itl_p99_warning_seconds: ItlEdge = Field(0.2, description="p99 inter-token latency that warns")
    e2e_p99_warning_seconds: E2eEdge = Field(30.0, description="p99 end-to-end latency that warns")
    queue_time_p99_warning_seconds: QueueTimeEdge = Field(
        5.0, description="p99 time a request waits in the queue that warns"
    )
    kv_cache_warning_ratio: float = Field(
        0.90, gt=0, le=1, description="KV-cache usage (0-1) that warns"
    )
    kv_cache_critical_ratio: float = Field(
        0.98, gt=0, le=1, description="KV-cache usage (0-1) that pages; above the warning"
    )
    waiting_requests_warning: int = Field(
        500, ge=1, description="Requests waiting for a model, summed over its replicas, that warn"
    )
    # VLLMRequestPreemptions: preemptions per finished request over 5m above the ratio,
    # counted only where the model preempts at least the floor per second (tiny traffic).
    preemption_ratio_warning: float = Field(
        0.05, gt=0, description="Preemptions per finished request over 5m that warn"
    )
    preemptions_per_second_floor: float = Field(
        0.1, ge=0, description="Preemptions per second below which the ratio never warns"
    )
    error_ratio_warning: float = Field(
        0.01, gt=0, lt=1, description="Share of requests finishing in error that warns"
    )
    gpu_temperature_warning_celsius: float = Field(
        85, gt=0, description="GPU temperature that warns"
    )
    gpu_temperature_critical_celsius: float = Field(
        92, gt=0, description="GPU temperature that pages; above the warning"
    )
    gpu_utilization_low_ratio: float = Field(
        0.5, gt=0, lt=1, description="GPU utilization (0-1) below which a model is underused"
    )
    ttft_slo: SloConfig = Field(SloConfig(), description="The TTFT SLO")
    error_ratio_critical: float = Field(
        0.05, gt=0, lt=1, description="Share of requests finishing in error that pages"
    )
    # NVIDIA's Xid catalog (docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html):
    # the codes whose immediate action is a GPU reset or node reboot, not an app restart:
    # 48 double-bit ECC, 64 row-remap/page-retirement failure, 74 NVLink, 79 fallen off the
    # bus, 92 high single-bit ECC rate, 94/95 contained/uncontained ECC, 119/120 GSP RPC
    # timeout/error, 154 GPU recovery action changed (reset or reboot required).
    gpu_xid_critical_codes: list[int] = Field(
        default_factory=lambda: [48, 64, 74, 79, 92, 94, 95, 119, 120, 154],
        description="XIDs that page while DCGM reports them (fatal class); others warn",
    )
    # Unset: the job the bundle's ServiceMonitors give their targets (kube.py
    # VLLM_JOB / DCGM_JOB). Set only when your own scrape config names the job otherwise.
    vllm_job_regex: str | None = Field(
        None, description="`job` of vLLM scrape targets (regex); unset: `vllm`, as rendered"
    )
    dcgm_job: str | None = Field(
        None, description="`job` of dcgm-exporter targets; unset: `dcgm-exporter`, as rendered"
    )
    grafana_url: str = Field(
        "http://localhost:3000", description="Grafana base URL used in dashboard_url links"
    )
    receivers: ReceiversConfig = Field(ReceiversConfig(), description="Webhook receivers")
    # Lifecycle (kube-state-metrics): how long a model pod may stay in each state before
    # it pages. Startup has a per-model budget: models.<key>.expected_load_time.
    pod_pending_for: Duration = Field(
        "10m", description="Unschedulable model pod (e.g. no free nvidia.com/gpu) before it alerts"
    )
    container_waiting_for: Duration = Field(
        "5m", description="CrashLoopBackOff / image pull failure before it alerts"
    )
    replicas_unavailable_for: Duration = Field(
        "15m", description="Fewer ready replicas than desired before it alerts"
    )
    oom_window: Duration = Field("15m", description="Window in which an OOMKilled restart alerts")
    # KV connectors and engine operations (vllm.connectors, vllm.operations): families of
    # vLLM main; without the connector or feature nothing matches and nothing fires.
    nixl_kv_expired_per_second: float = Field(
        0.01, ge=0, description="Requests/s whose KV expired on a prefill worker (NIXL) that warn"
    )
    kv_offload_allocation_failure_ratio_warning: float = Field(
        0.05, gt=0, lt=1, description="Share of KV offload stores failing to allocate that warns"
    )
    engine_operation_stuck_for: Duration = Field(
        "15m", description="A sleep, wake or RL weight-update operation in flight before it warns"
    )
    process_memory_limit_ratio_warning: float = Field(
        0.9,
        gt=0,
        lt=1,
        description="API server resident memory / the vllm container's memory limit that warns",
    )

    @model_validator(mode="after")
    def _ordered(self) -> AlertingConfig:
        problems = [
            (critical, f"{critical} must be above {warning} ({getattr(self, warning):g})")
            for critical, warning in (
                ("ttft_p99_critical_seconds", "ttft_p99_warning_seconds"),
                ("error_ratio_critical", "error_ratio_warning"),
                ("kv_cache_critical_ratio", "kv_cache_warning_ratio"),
                ("gpu_temperature_critical_celsius", "gpu_temperature_warning_celsius"),
            )
            if getattr(self, critical) <= getattr(self, warning)
        ]
        if problems:
            raise KeyProblem(*problems)
        return self


class AlertmanagerConfig(ConfigModel):
    """The kube-prometheus-stack Alertmanager."""

    replicas: int = Field(
        1, ge=1, le=5, description="Alertmanager pods; 2+ form a gossip mesh that deduplicates"
    )
