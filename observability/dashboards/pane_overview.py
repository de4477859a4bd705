"""Single pane, top rows: the overview stats and the firing-alerts table. Stat
thresholds are the alert thresholds from `cfg.alerting`, so a red stat means the
matching alert is (about to be) firing."""

from __future__ import annotations

from observability.alerting.links import runbook_url
from observability.config import BundleConfig
from observability.dashboards.availability import ALERTS_QUIET
from observability.dashboards.panels import PanelSpec, Query, thresholds_high, thresholds_low
from observability.dashboards.queries import Queries
from observability.metrics.names import VLLM

__all__ = ["STAT_H", "STAT_W", "alerts", "overview"]

STAT_W, STAT_H = 4, 4  # six stats per line, two lines


def _stat(title: str, text: str, unit: str, expr: str, thresholds=None) -> PanelSpec:
    return PanelSpec(
        "stat",
        title,
        text,
        unit,
        (Query(expr),),
        width=STAT_W,
        height=STAT_H,
        **({"thresholds": thresholds} if thresholds else {}),
    )


def overview(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    a = cfg.alerting
    return [
        _stat(
            "Request rate",
            "Finished requests per second over all selected models and pods",
            "reqps",
            q.request_rate(),
        ),
        _stat(
            "Generated tokens/s",
            "Output tokens per second over the selection",
            "suffix: tok/s",
            q.generation_tps(),
        ),
        _stat(
            "p99 TTFT",
            f"99th percentile time to first token; orange at {a.ttft_p99_warning_seconds} s "
            f"(VLLMHighTimeToFirstToken warning), red at {a.ttft_p99_critical_seconds} s (critical)",
            "s",
            q.quantile(0.99, VLLM.TTFT),
            thresholds_high(a.ttft_p99_warning_seconds, a.ttft_p99_critical_seconds),
        ),
        _stat(
            "p99 inter-token latency",
            f"99th percentile time between output tokens; orange at {a.itl_p99_warning_seconds} s "
            "(VLLMHighInterTokenLatency)",
            "s",
            q.quantile(0.99, VLLM.ITL),
            thresholds_high(a.itl_p99_warning_seconds),
        ),
        _stat(
            "Error %",
            "Share of API requests answered with HTTP 5xx (vLLM 0.7.3: requests finished with "
            "reason error/abort, which V0 never counts); orange at "
            f"{a.error_ratio_warning:.2%} (VLLMHighErrorRate)",
            "percentunit",
            q.error_ratio(),
            thresholds_high(a.error_ratio_warning),
        ),
        _stat(
            "KV-cache usage",
            "Fullest KV cache of any selected engine (max, never summed); orange at "
            f"{a.kv_cache_warning_ratio:.0%}, red at {a.kv_cache_critical_ratio:.0%} "
            "(VLLMKVCacheSaturated)",
            "percentunit",
            q.kv_usage_max(),
            thresholds_high(a.kv_cache_warning_ratio, a.kv_cache_critical_ratio),
        ),
        _stat(
            "Waiting requests",
            "Queued requests of the busiest model (sum over its pods); orange at "
            f"{a.waiting_requests_warning} (VLLMQueueBacklog)",
            "short",
            q.waiting_max_per_model(),
            thresholds_high(a.waiting_requests_warning),
        ),
        _stat(
            "GPU utilization",
            "Average utilization of the GPUs attributed to the selected pods (DCGM); red "
            f"below {a.gpu_utilization_low_ratio:.0%} (GPUUnderutilized)",
            "percentunit",
            q.gpu_util_ratio(),
            thresholds_low(a.gpu_utilization_low_ratio),
        ),
        _stat(
            "GPU cost per 1M tokens",
            "USD of GPU time per million generated tokens: attributed GPUs x gpu.hourly_cost "
            "(by DCGM modelName) / generated tokens",
            "currencyUSD",
            q.gpu_cost_per_million_tokens(),
        ),
        _stat(
            "Firing alerts",
            "Alerts of this bundle (VLLM*, GPU*, DCGM*) firing now, from Prometheus' ALERTS "
            "series; red from 1",
            "short",
            q.firing_alerts(),
            thresholds_high(critical=1),
        ),
        _stat(
            "Token cost / h",
            "USD per hour of the served tokens at each model's configured price "
            "(models[*].cost per 1K prompt and generated tokens)",
            "currencyUSD",
            f"sum({q.token_cost_per_hour()})",
        ),
        _stat(
            "GPU cost / h",
            "USD per hour of the GPUs attributed to the selected pods (gpu.hourly_cost by "
            "DCGM modelName, `default` for other types)",
            "currencyUSD",
            q.gpu_cost_per_hour(),
        ),
    ]


def alerts(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    runbook = runbook_url(cfg, "${__value.raw}")
    return [
        PanelSpec(
            "table",
            "Firing alerts",
            "Alerts of this bundle firing now, one row per scope; click an alert name for its "
            "runbook. The time series panels mark firing alerts as annotations",
            "none",
            (Query(q.firing_alert_list(), fmt="table", instant=True),),
            width=24,
            height=4,
            columns=(
                ("alertname", "Alert"),
                ("severity", "Severity"),
                ("namespace", "Namespace"),
                ("model_name", "Model"),
                ("pod", "Pod"),
                ("Hostname", "Node"),
            ),
            links=(("alertname", runbook),),
            no_data=ALERTS_QUIET,
        ),
    ]
