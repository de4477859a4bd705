"""vllm.saturation: KV cache, preemptions and the waiting queue."""

from __future__ import annotations

from typing import Any

from observability.alerting import recording as rec
from observability.alerting.base import Scope, alert, bucket_edge
from observability.alerting.timing import Timing
from observability.config import BundleConfig
from observability.metrics.signals import VLLM

__all__ = ["GROUP", "group"]

GROUP = "vllm.saturation"

_WHERE = "{{ $labels.model_name }} in namespace {{ $labels.namespace }}"


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    a = cfg.alerting
    bucket_edge("queue_time_p99_warning_seconds", a.queue_time_p99_warning_seconds, VLLM.QUEUE_TIME)
    w = t.rate_window

    def kv(severity: str, threshold: float) -> dict[str, Any]:
        return alert(
            "VLLMKVCacheSaturated",
            f"{rec.KV_CACHE_USAGE_MAX} > {threshold:g}",
            t.saturation_for,
            severity,
            "vLLM KV cache is nearly full.",
            "KV-cache usage of pod {{ $labels.pod }} serving " + _WHERE + " is "
            "{{ $value | humanizePercentage }} "
            f"(threshold {threshold:.0%}); new requests queue and running ones get preempted.",
        )

    return {
        "name": GROUP,
        "rules": [
            *rec.saturation_rules(sc),
            *rec.latency_rules(sc, (rec.QUEUE_TIME_BUCKET_RATE5M,)),
            kv("critical", a.kv_cache_critical_ratio),
            kv("warning", a.kv_cache_warning_ratio),
            alert(
                "VLLMRequestPreemptions",
                f"{rec.PREEMPTIONS_RATE5M} > {a.preemptions_per_second_warning:g}",
                t.preemption_for,
                "warning",
                "vLLM is preempting requests.",
                f"{_WHERE} preempts {{{{ $value | humanize }}}} requests per second over the "
                f"last {w} (threshold {a.preemptions_per_second_warning:g}/s): the KV cache is "
                "too small for the load, preempted requests are recomputed.",
            ),
            alert(
                "VLLMQueueBacklog",
                f"{rec.WAITING_SUM} > {a.waiting_requests_warning:g}",
                t.saturation_for,
                "warning",
                "vLLM request queue is backing up.",
                f"{{{{ $value | humanize }}}} requests are waiting for {_WHERE} "
                f"(threshold {a.waiting_requests_warning:g}).",
                labels={"reason": "waiting_requests"},
            ),
            alert(
                "VLLMQueueBacklog",
                f"histogram_quantile(0.99, {rec.QUEUE_TIME_BUCKET_RATE5M}) "
                f"> {a.queue_time_p99_warning_seconds:g}",
                t.saturation_for,
                "warning",
                "vLLM request queue is backing up.",
                f"p99 queue time of {_WHERE} is {{{{ $value | humanizeDuration }}}} over the "
                f"last {w} (threshold {a.queue_time_p99_warning_seconds:g}s).",
                labels={"reason": "queue_time"},
            ),
        ],
    }
