"""The single pane: overview stats, then latency, throughput, scheduler, cache, errors,
GPU and cost rows, top to bottom. Stat thresholds are the alert thresholds from
`cfg.alerting`, so a red stat means the matching alert is (about to be) firing."""

from __future__ import annotations

from observability.alerting import capacity as capacity_rules
from observability.alerting import lifecycle
from observability.alerting import recording as rec
from observability.alerting.links import runbook_url
from observability.config import BundleConfig
from observability.dashboards.availability import ALERTS_QUIET
from observability.dashboards.finalize import dashboard_json
from observability.dashboards.layout import Layout
from observability.dashboards.panels import (
    FINISH_REASON_COLORS,
    PanelSpec,
    Query,
    thresholds_high,
    thresholds_low,
)
from observability.dashboards.queries import QUANTILES, Queries
from observability.dashboards.runtimes import runtime_rows
from observability.metrics.kube import KARPENTER, KARPENTER_GPU_RESOURCE
from observability.metrics.names import DCGM, VLLM
from observability.metrics.promql import divide

__all__ = ["build_single_pane", "rows"]

STAT_W, STAT_H = 4, 4  # six stats per line, two lines
GPU_BY = ("Hostname", "gpu", "pod")
GPU_LEGEND = "{{Hostname}} gpu{{gpu}} {{pod}}"
_V1 = 'handler=~"/v1/.*"'  # API endpoints; /metrics and /health scrapes left out


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
            f"reason error/abort); orange at {a.error_ratio_warning:.2%} (VLLMHighErrorRate)",
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


def _quantiles(q: Queries, signal) -> tuple[Query, ...]:
    return tuple(
        Query(
            q.quantile(p, signal, "namespace", "model_name"),
            f"p{round(p * 100)} {{{{model_name}}}}",
        )
        for p in QUANTILES
    )


def latency(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    a = cfg.alerting
    quant = "p50/p95/p99 per model from summed histogram buckets"
    return [
        PanelSpec(
            "timeseries",
            "Time to first token",
            f"Prefill latency seen by clients, {quant}; lines at the alert thresholds",
            "s",
            _quantiles(q, VLLM.TTFT),
            thresholds=thresholds_high(a.ttft_p99_warning_seconds, a.ttft_p99_critical_seconds),
        ),
        PanelSpec(
            "timeseries",
            "Inter-token latency",
            f"Time between output tokens (TPOT on vLLM 0.7.3), {quant}",
            "s",
            _quantiles(q, VLLM.ITL),
            thresholds=thresholds_high(a.itl_p99_warning_seconds),
        ),
        PanelSpec(
            "timeseries",
            "End-to-end request latency",
            f"Arrival to last token, {quant}",
            "s",
            _quantiles(q, VLLM.E2E),
            thresholds=thresholds_high(a.e2e_p99_warning_seconds),
        ),
        PanelSpec(
            "timeseries",
            "Queue time",
            f"Time requests wait before scheduling, {quant}",
            "s",
            _quantiles(q, VLLM.QUEUE_TIME),
            thresholds=thresholds_high(a.queue_time_p99_warning_seconds),
        ),
        PanelSpec(
            "timeseries",
            "Time per output token per request",
            "Each finished request's decode time / (output tokens - 1), "
            f"{quant}: what one user sees, where inter-token latency weighs every token",
            "s",
            _quantiles(q, VLLM.REQUEST_TPOT),
        ),
        PanelSpec(
            "timeseries",
            "Request time by phase (mean)",
            "Where a request's time goes, stacked: waiting in the queue, prefill (scheduled to "
            "first token) and decode (first to last token), means over the selection",
            "s",
            tuple(
                Query(q.phase_mean(sig), name)
                for sig, name in (
                    (VLLM.QUEUE_TIME, "queue"),
                    (VLLM.PREFILL_TIME, "prefill"),
                    (VLLM.DECODE_TIME, "decode"),
                )
            ),
            stack=True,
            colors=(("queue", "orange"), ("prefill", "purple"), ("decode", "blue")),
        ),
        PanelSpec(
            "heatmap",
            "Time to first token distribution",
            "Requests per second in each TTFT bucket (all selected models)",
            "s",
            (Query(q.bucket_rate(VLLM.TTFT), "{{le}}", fmt="heatmap"),),
            width=24,
        ),
    ]


def request_shape(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    quant = "p50/p95/p99 per model from summed histogram buckets"
    return [
        PanelSpec(
            "timeseries",
            "Prompt length",
            f"Prompt tokens per finished request, {quant}: size KV cache and "
            "--max-num-batched-tokens from it",
            "suffix: tok",
            _quantiles(q, VLLM.PROMPT_LEN),
        ),
        PanelSpec(
            "timeseries",
            "Output length",
            f"Generated tokens per finished request, {quant}",
            "suffix: tok",
            _quantiles(q, VLLM.GENERATION_LEN),
        ),
        PanelSpec(
            "timeseries",
            "Tokens per engine step",
            "Prefill + decode tokens scheduled in one engine iteration (the real batch size), "
            f"{quant}; near --max-num-batched-tokens means the engine is compute-bound",
            "suffix: tok",
            _quantiles(q, VLLM.ITERATION_TOKENS),
        ),
    ]


def throughput(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    return [
        PanelSpec(
            "timeseries",
            "Requests/s by finish reason",
            "Finished requests per second: stop, length, abort, error (>= 0.16), repetition",
            "reqps",
            (Query(q.recorded(rec.REQUESTS_RATE1M, "finished_reason"), "{{finished_reason}}"),),
            stack=True,
            colors=tuple((f"^{r}$", c) for r, c in FINISH_REASON_COLORS),
        ),
        PanelSpec(
            "timeseries",
            "Prompt tokens/s",
            "Prompt (prefill) tokens per second per model",
            "suffix: tok/s",
            (Query(q.prompt_tps("model_name"), "{{model_name}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Generation tokens/s",
            "Generated (decode) tokens per second per model",
            "suffix: tok/s",
            (Query(q.generation_tps("model_name"), "{{model_name}}"),),
        ),
    ]


def scheduler(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    a = cfg.alerting
    return [
        PanelSpec(
            "timeseries",
            "Running requests",
            "Requests in the engine's running batch, per pod",
            "short",
            (Query(q.vllm("pod").gauge(VLLM.RUNNING, "sum"), "{{pod}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Waiting requests",
            "Requests queued for scheduling, per pod; line at the per-model backlog threshold",
            "short",
            (Query(q.vllm("pod").gauge(VLLM.WAITING, "sum"), "{{pod}}"),),
            thresholds=thresholds_high(a.waiting_requests_warning),
        ),
        PanelSpec(
            "timeseries",
            "Preemptions/s",
            "Requests preempted per second because the KV cache ran out, per model",
            "short",
            (Query(q.vllm("model_name").rate(VLLM.PREEMPTIONS), "{{model_name}}"),),
            thresholds=thresholds_high(a.preemptions_per_second_floor),
        ),
        PanelSpec(
            "timeseries",
            "Waiting requests by reason",
            "Queued requests by why they wait: capacity (no free KV blocks) or deferred "
            "(e.g. a KV transfer still in flight), summed over the selection",
            "short",
            (Query(q.vllm("reason").gauge(VLLM.WAITING_BY_REASON, "sum"), "{{reason}}"),),
            stack=True,
            colors=(("capacity", "orange"), ("deferred", "purple")),
        ),
        PanelSpec(
            "timeseries",
            "Model FLOP/s per GPU",
            "Estimated floating point operations per second per GPU, per pod (vLLM's MFU "
            "counters from vllm/v1/metrics/perf.py): divided by the GPU's peak FLOP/s it is "
            "the model FLOPs utilization; counts only with --enable-mfu-metrics",
            "flops",
            (Query(q.vllm("pod").rate(VLLM.MFU_FLOPS), "{{pod}}"),),
        ),
        PanelSpec(
            "timeseries",
            "Memory traffic per GPU",
            "Estimated bytes read from and written to GPU memory per second per GPU, per pod "
            "(vLLM's MFU counters): against the GPU's memory bandwidth it shows how "
            "memory-bound decoding is; counts only with --enable-mfu-metrics",
            "Bps",
            (
                Query(q.vllm("pod").rate(VLLM.MFU_READ_BYTES), "{{pod}} read"),
                Query(q.vllm("pod").rate(VLLM.MFU_WRITE_BYTES), "{{pod}} write"),
            ),
        ),
        PanelSpec(
            "timeseries",
            "Sleep state",
            "Sleep level of each engine (sleep mode, vLLM >= 0.11): 0 awake, 1 weights "
            "offloaded to CPU (level 1), 2 weights and KV cache discarded (level 2); a "
            "sleeping engine serves nothing and pages neither as stalled nor as an idle GPU",
            "none",
            (Query(q.sleep_level(), "{{pod}} engine {{engine}}"),),
        ),
        PanelSpec(
            "table",
            "LoRA adapters",
            "Adapters each engine holds now (vLLM's lora_requests_info): running and waiting "
            "adapter names and the --max-loras slots; the series has no model_name label",
            "none",
            (
                Query(
                    q.engine_info(
                        "pod", "max_lora", "running_lora_adapters", "waiting_lora_adapters"
                    ).gauge_raw(VLLM.LORA_INFO.v1 or "", "max"),
                    fmt="table",
                    instant=True,
                ),
            ),
            columns=(
                ("pod", "Pod"),
                ("max_lora", "Max adapters"),
                ("running_lora_adapters", "Running adapters"),
                ("waiting_lora_adapters", "Waiting adapters"),
            ),
        ),
        PanelSpec(
            "timeseries",
            "Speculative decoding acceptance",
            "Share of draft tokens the target model accepted, per model: low acceptance means "
            "the draft model costs more than it saves",
            "percentunit",
            (
                Query(
                    q.hit_ratio(VLLM.SPEC_ACCEPTED_TOKENS, VLLM.SPEC_DRAFT_TOKENS, "model_name"),
                    "{{model_name}}",
                ),
            ),
            max=1,
        ),
    ]


def cache(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    a = cfg.alerting
    return [
        PanelSpec(
            "timeseries",
            "KV-cache usage per pod",
            "Fraction of KV-cache blocks in use, max over a pod's engines",
            "percentunit",
            (Query(q.kv_usage_max("pod"), "{{pod}}"),),
            min=0,
            max=1,
            thresholds=thresholds_high(a.kv_cache_warning_ratio, a.kv_cache_critical_ratio),
        ),
        PanelSpec(
            "timeseries",
            "Prefix-cache hit rate",
            "Share of prompt tokens served from the prefix cache per model (vLLM 0.7.3: the "
            "engine's block hit-rate gauge)",
            "percentunit",
            (Query(q.prefix_hit_rate("model_name"), "{{model_name}}"),),
            min=0,
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "Prompt tokens by source",
            "Prompt tokens per second by where their KV came from: computed here, local "
            "prefix-cache hit, or transferred by a KV connector",
            "suffix: tok/s",
            (Query(q.recorded(rec.PROMPT_TOKENS_BY_SOURCE_RATE1M, "source"), "{{source}}"),),
            stack=True,
            colors=(
                ("local_compute", "blue"),
                ("local_cache_hit", "green"),
                ("external_kv_transfer", "purple"),
            ),
        ),
        PanelSpec(
            "timeseries",
            "KV-connector (external) prefix-cache hit rate",
            "Share of looked-up prompt tokens found by the KV connector (LMCache, offloading, "
            "disaggregated prefill) per model; no lookups without --kv-transfer-config",
            "percentunit",
            (
                Query(
                    q.hit_ratio(
                        VLLM.EXTERNAL_PREFIX_CACHE_HITS,
                        VLLM.EXTERNAL_PREFIX_CACHE_QUERIES,
                        "model_name",
                    ),
                    "{{model_name}}",
                ),
            ),
            width=12,
            max=1,
        ),
        PanelSpec(
            "timeseries",
            "Multimodal cache hit rate",
            "Share of multimodal inputs (images, audio) found in the processor cache per "
            "model; no lookups for text-only models",
            "percentunit",
            (
                Query(
                    q.hit_ratio(VLLM.MM_CACHE_HITS, VLLM.MM_CACHE_QUERIES, "model_name"),
                    "{{model_name}}",
                ),
            ),
            width=12,
            max=1,
        ),
    ]


def errors(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    a = cfg.alerting
    failed = q.recorded(
        rec.REQUESTS_RATE1M,
        "model_name",
        "finished_reason",
        extra_matchers='finished_reason=~"error|abort"',
    )
    # vLLM 0.7.3 creates a finished_reason series only at its first request: zero-fill so
    # "no failures yet" reads 0, not "No data".
    zero = f"{q.recorded(rec.REQUESTS_RATE1M, 'model_name')} * 0"
    failed = f'{failed} or label_replace({zero}, "finished_reason", "error", "", "")'
    return [
        PanelSpec(
            "timeseries",
            "Error ratio per pod",
            "HTTP 5xx share of API requests per pod (vLLM 0.7.3: error/abort share of "
            "finished requests); line at the error-rate alert threshold",
            "percentunit",
            (Query(q.error_ratio("pod"), "{{pod}}"),),
            width=12,
            thresholds=thresholds_high(a.error_ratio_warning),
        ),
        PanelSpec(
            "timeseries",
            "Failed requests/s",
            "Requests finished with reason error (vLLM >= 0.16) or abort (client gone or "
            "cancelled), per model",
            "reqps",
            (Query(failed, "{{finished_reason}} {{model_name}}"),),
            width=12,
            colors=(("^abort", "orange"), ("^error", "red")),
        ),
        PanelSpec(
            "timeseries",
            "HTTP responses/s by status",
            "API server responses per second by status class, /v1/* endpoints only",
            "reqps",
            (
                Query(
                    q.http("status").rate(VLLM.HTTP_REQUESTS, extra_matchers='handler=~"/v1/.*"'),
                    "{{status}}",
                ),
            ),
            width=12,
            stack=True,
            colors=(("2xx", "green"), ("3xx", "blue"), ("4xx", "orange"), ("5xx", "red")),
        ),
        PanelSpec(
            "timeseries",
            "HTTP duration by endpoint (mean)",
            "Mean API server response time per /v1/* endpoint (streaming responses count "
            "until the last byte)",
            "s",
            (
                Query(
                    divide(
                        q.http("handler").rate(
                            VLLM.HTTP_DURATION, extra_matchers=_V1, suffix="_sum"
                        ),
                        q.http("handler").rate(
                            VLLM.HTTP_DURATION, extra_matchers=_V1, suffix="_count"
                        ),
                    ),
                    "{{handler}}",
                ),
            ),
            width=12,
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


def rows(cfg: BundleConfig) -> list[tuple[str, list[PanelSpec]]]:
    q = Queries(cfg)
    return [
        ("Overview", overview(q, cfg)),
        ("Alerts", alerts(q, cfg)),
        ("Latency", latency(q, cfg)),
        ("Throughput", throughput(q, cfg)),
        ("Request shape", request_shape(q, cfg)),
        ("Scheduler", scheduler(q, cfg)),
        ("KV cache", cache(q, cfg)),
        ("Errors", errors(q, cfg)),
        ("GPU (DCGM)", gpu(q, cfg)),
        ("GPU capacity and pod lifecycle", capacity(q, cfg)),
        ("Cost", cost(q, cfg)),
        *runtime_rows(cfg),
    ]


def build_single_pane(cfg: BundleConfig) -> dict:
    layout = Layout()
    for title, specs in rows(cfg):
        layout.row(title, specs)
    return dashboard_json(cfg, layout.panels)
