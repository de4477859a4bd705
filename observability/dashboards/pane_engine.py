"""Single pane, engine rows: scheduler, KV cache and errors."""

from __future__ import annotations

from observability.alerting import recording as rec
from observability.config import BundleConfig
from observability.dashboards.panels import PanelSpec, Query, thresholds_high
from observability.dashboards.queries import Queries
from observability.metrics.names import VLLM, Signal
from observability.metrics.promql import divide

__all__ = ["cache", "errors", "scheduler"]

_V1 = 'handler=~"/v1/.*"'  # API endpoints; /metrics and /health scrapes left out


def _ratio_panel(
    q: Queries, title: str, text: str, hits: Signal, total: Signal, width: int = 8
) -> PanelSpec:
    """A time series of one counter pair's ratio (hits / lookups) per model, 0 to 1."""
    return PanelSpec(
        "timeseries",
        title,
        text,
        "percentunit",
        (Query(q.hit_ratio(hits, total, "model_name"), "{{model_name}}"),),
        width=width,
        max=1,
    )


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
        _ratio_panel(
            q,
            "Speculative decoding acceptance",
            "Share of draft tokens the target model accepted, per model: low acceptance means "
            "the draft model costs more than it saves",
            VLLM.SPEC_ACCEPTED_TOKENS,
            VLLM.SPEC_DRAFT_TOKENS,
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
        _ratio_panel(
            q,
            "KV-connector (external) prefix-cache hit rate",
            "Share of looked-up prompt tokens found by the KV connector (LMCache, offloading, "
            "disaggregated prefill) per model; no lookups without --kv-transfer-config",
            VLLM.EXTERNAL_PREFIX_CACHE_HITS,
            VLLM.EXTERNAL_PREFIX_CACHE_QUERIES,
            width=12,
        ),
        _ratio_panel(
            q,
            "Multimodal cache hit rate",
            "Share of multimodal inputs (images, audio) found in the processor cache per "
            "model; no lookups for text-only models",
            VLLM.MM_CACHE_HITS,
            VLLM.MM_CACHE_QUERIES,
            width=12,
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
            "HTTP 5xx share of API requests per pod (vLLM 0.7.3, without HTTP metrics: the "
            "error/abort share of finished requests, which V0 never counts); line at the "
            "error-rate alert threshold",
            "percentunit",
            (Query(q.error_ratio("pod"), "{{pod}}"),),
            width=12,
            thresholds=thresholds_high(a.error_ratio_warning),
        ),
        PanelSpec(
            "timeseries",
            "Failed requests/s",
            "Requests finished with reason error (vLLM >= 0.16) or abort, per model. abort "
            "counts only what the engine aborts itself (/pause or /sleep in abort mode, "
            "vLLM >= 0.26): no vLLM counts a request whose client disconnected",
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
                    q.http("status").rate(VLLM.HTTP_REQUESTS, extra_matchers=_V1),
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
