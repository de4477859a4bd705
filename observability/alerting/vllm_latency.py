"""vllm.latency: p99 time to first token, inter-token and end-to-end latency per model.

Quantiles come from the recorded `sum by (le, ...)` bucket rates, never from averaged
per-pod quantiles. An idle model has all-zero bucket rates, `histogram_quantile` returns
NaN and NaN > threshold is false, so no traffic means no latency alert.
"""

from __future__ import annotations

from typing import Any

from observability.alerting import recording as rec
from observability.alerting.timing import Timing
from observability.config import BundleConfig
from observability.metrics.names import VLLM
from observability.rulebase import Scope, alert, bucket_edge

__all__ = ["GROUP", "group"]

GROUP = "vllm.latency"

_WHERE = "{{ $labels.model_name }} in namespace {{ $labels.namespace }}"


def _p99(recorded: str, threshold: float) -> str:
    return f"histogram_quantile(0.99, {recorded}) > {threshold:g}"


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    a = cfg.alerting
    bucket_edge("ttft_p99_warning_seconds", a.ttft_p99_warning_seconds, VLLM.TTFT)
    bucket_edge("ttft_p99_critical_seconds", a.ttft_p99_critical_seconds, VLLM.TTFT)
    bucket_edge("itl_p99_warning_seconds", a.itl_p99_warning_seconds, VLLM.ITL)
    bucket_edge("e2e_p99_warning_seconds", a.e2e_p99_warning_seconds, VLLM.E2E)
    w = t.rate_window

    def ttft(severity: str, threshold: float) -> dict[str, Any]:
        return alert(
            "VLLMHighTimeToFirstToken",
            _p99(rec.TTFT_BUCKET_RATE5M, threshold),
            t.latency_for,
            severity,
            "vLLM time to first token is high.",
            f"p99 time to first token of {_WHERE} is {{{{ $value | humanizeDuration }}}} "
            f"over the last {w} (threshold {threshold:g}s).",
        )

    return {
        "name": GROUP,
        "rules": [
            *rec.latency_rules(
                sc, (rec.TTFT_BUCKET_RATE5M, rec.ITL_BUCKET_RATE5M, rec.E2E_BUCKET_RATE5M)
            ),
            ttft("critical", a.ttft_p99_critical_seconds),
            ttft("warning", a.ttft_p99_warning_seconds),
            alert(
                "VLLMHighInterTokenLatency",
                _p99(rec.ITL_BUCKET_RATE5M, a.itl_p99_warning_seconds),
                t.latency_for,
                "warning",
                "vLLM inter-token latency is high.",
                f"p99 inter-token latency of {_WHERE} is {{{{ $value | humanizeDuration }}}} "
                f"over the last {w} (threshold {a.itl_p99_warning_seconds:g}s).",
            ),
            alert(
                "VLLMHighRequestLatency",
                _p99(rec.E2E_BUCKET_RATE5M, a.e2e_p99_warning_seconds),
                t.latency_for,
                "warning",
                "vLLM end-to-end request latency is high.",
                f"p99 end-to-end request latency of {_WHERE} is "
                f"{{{{ $value | humanizeDuration }}}} over the last {w} "
                f"(threshold {a.e2e_p99_warning_seconds:g}s).",
            ),
        ],
    }
