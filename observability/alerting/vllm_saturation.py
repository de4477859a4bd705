"""vllm.saturation: KV cache, preemptions and the waiting queue."""

from __future__ import annotations

from typing import Any

from observability.alerting import recording as rec
from observability.alerting.timing import Timing
from observability.config import BundleConfig
from observability.metrics.names import VLLM
from observability.metrics.promql import divide
from observability.rulebase import Scope, alert, bucket_edge

__all__ = ["GROUP", "group", "kv_usage_median"]

GROUP = "vllm.saturation"

_WHERE = "{{ $labels.model_name }} in namespace {{ $labels.namespace }}"


def kv_usage_median(sc: Scope, window: str) -> str:
    """Per-pod KV-cache usage as the median of the raw scrapes over `window`, busiest
    engine (max) per pod, newest name first.

    Why a median: in vLLM V1 a step that preempts admits nothing, so the preempted
    request's blocks read as free for that one step and a saturated cache scrapes low
    once in a while. On the instantaneous gauge that single low scrape restarts `for`.
    - `quantile_over_time(0.5)` ignores any dip shorter than half the window, however
      deep, and keeps a longer excursion's length (it shifts it by half the window), so a
      blip shorter than `for` still never fires.
    - `avg_over_time` lets a deep dip pull the mean under the threshold (one 0.3 among
      eight 0.97 scrapes averages 0.896).
    - `max_over_time` would stretch every blip by the window and fire on shorter ones.
    On raw series (not the recording) so it counts scrapes, whatever the rule evaluation
    interval, and has history right after Prometheus restarts."""
    by = sc.by(sc.pod)
    q = sc.promql(sc.pod, window)
    return q.fallback(
        VLLM.KV_CACHE_USAGE,
        lambda n: f"max by ({by}) (quantile_over_time(0.5, {q.sel(n)}[{window}]))",
    )


def _preempted_share(sc: Scope, floor: float) -> str:
    """Preemptions per finished request over the rate window, where the model preempts at
    least `floor` per second: a share, because one preemption a second is a symptom on an
    idle model and noise on a busy one; the floor keeps tiny traffic from paging."""
    finished = sc.promql(sc.model, rec.RATE_WINDOW).rate(VLLM.REQUEST_SUCCESS)
    share = divide(rec.PREEMPTIONS_RATE5M, finished)
    return f"({share}\nand {rec.PREEMPTIONS_RATE5M} >= {floor:g})"


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    a = cfg.alerting
    bucket_edge("queue_time_p99_warning_seconds", a.queue_time_p99_warning_seconds, VLLM.QUEUE_TIME)
    w = t.rate_window
    kv_w = t.kv_usage_window
    usage = kv_usage_median(sc, kv_w)

    def kv(severity: str, threshold: float) -> dict[str, Any]:
        return alert(
            "VLLMKVCacheSaturated",
            f"({usage})\n> {threshold:g}",
            t.saturation_for,
            severity,
            "vLLM KV cache is nearly full.",
            "KV-cache usage of pod {{ $labels.pod }} serving " + _WHERE + " is "
            f"{{{{ $value | humanizePercentage }}}} (median over {kv_w}, threshold "
            f"{threshold:.0%}); new requests queue and running ones get preempted.",
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
                _preempted_share(sc, a.preemptions_per_second_floor)
                + f" > {a.preemption_ratio_warning:g}",
                t.preemption_for,
                "warning",
                "vLLM is preempting requests.",
                f"{_WHERE} preempted {{{{ $value | humanizePercentage }}}} as many requests as "
                f"it finished over the last {w} (threshold {a.preemption_ratio_warning:.0%}), "
                f"at {a.preemptions_per_second_floor:g} preemptions/s or more (the floor for "
                "tiny traffic): the KV cache is too small for the load, preempted requests are "
                "recomputed.",
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
