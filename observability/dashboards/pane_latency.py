"""Single pane, request rows: latency quantiles and phases, throughput, request shape."""

from __future__ import annotations

from observability.alerting import recording as rec
from observability.config import BundleConfig
from observability.dashboards.panels import (
    FINISH_REASON_COLORS,
    PanelSpec,
    Query,
    Thresholds,
    thresholds_high,
)
from observability.dashboards.queries import Queries
from observability.metrics.names import VLLM, Signal

__all__ = ["latency", "request_shape", "throughput"]

_QUANT = "p50/p95/p99 per model from summed histogram buckets"


def _quantiles(q: Queries, signal: Signal) -> tuple[Query, ...]:
    return tuple(
        Query(
            q.model_quantile(p, signal),
            f"p{round(p * 100)} {{{{model_name}}}}",
        )
        for p in rec.QUANTILES
    )


def _quantile_panel(
    q: Queries,
    signal: Signal,
    title: str,
    text: str,
    unit: str,
    thresholds: Thresholds = thresholds_high(),
) -> PanelSpec:
    """A time series of one histogram's p50/p95/p99 per model; `text` says what it measures."""
    return PanelSpec("timeseries", title, text, unit, _quantiles(q, signal), thresholds=thresholds)


def latency(q: Queries, cfg: BundleConfig) -> list[PanelSpec]:
    a = cfg.alerting
    return [
        _quantile_panel(
            q,
            VLLM.TTFT,
            "Time to first token",
            f"Prefill latency seen by clients, {_QUANT}; lines at the alert thresholds",
            "s",
            thresholds_high(a.ttft_p99_warning_seconds, a.ttft_p99_critical_seconds),
        ),
        _quantile_panel(
            q,
            VLLM.ITL,
            "Inter-token latency",
            f"Time between output tokens (TPOT on vLLM 0.7.3), {_QUANT}",
            "s",
            thresholds_high(a.itl_p99_warning_seconds),
        ),
        _quantile_panel(
            q,
            VLLM.E2E,
            "End-to-end request latency",
            f"Arrival to last token, {_QUANT}",
            "s",
            thresholds_high(a.e2e_p99_warning_seconds),
        ),
        _quantile_panel(
            q,
            VLLM.QUEUE_TIME,
            "Queue time",
            f"Time requests wait before scheduling, {_QUANT}",
            "s",
            thresholds_high(a.queue_time_p99_warning_seconds),
        ),
        _quantile_panel(
            q,
            VLLM.REQUEST_TPOT,
            "Time per output token per request",
            "Each finished request's decode time / (output tokens - 1), "
            f"{_QUANT}: what one user sees, where inter-token latency weighs every token",
            "s",
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
    return [
        _quantile_panel(
            q,
            VLLM.PROMPT_LEN,
            "Prompt length",
            f"Prompt tokens per finished request, {_QUANT}: size KV cache and "
            "--max-num-batched-tokens from it",
            "suffix: tok",
        ),
        _quantile_panel(
            q,
            VLLM.GENERATION_LEN,
            "Output length",
            f"Generated tokens per finished request, {_QUANT}",
            "suffix: tok",
        ),
        _quantile_panel(
            q,
            VLLM.ITERATION_TOKENS,
            "Tokens per engine step",
            "Prefill + decode tokens scheduled in one engine iteration (the real batch size), "
            f"{_QUANT}; near --max-num-batched-tokens means the engine is compute-bound",
            "suffix: tok",
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
