"""vllm.slo: multi-window, multi-burn-rate alerts on the TTFT SLO.

SLI: share of requests whose time to first token is at or under the SLO threshold (an
exact bucket edge). An alert fires when both its long and short windows burn the error
budget faster than `burn` (SRE Workbook ch. 5): 1h/5m at 14.4 and 6h/30m at 6 page;
1d/2h at 3 and 3d/6h at 1 are tickets. A model with fewer than `min_requests` requests in
the long window never alerts (one slow request out of three is not an outage).
"""

from __future__ import annotations

from typing import Any

from observability.alerting import recording as rec
from observability.alerting.timing import Timing
from observability.config import BundleConfig, duration_seconds
from observability.metrics.names import VLLM
from observability.rulebase import Scope, alert, bucket_edge

__all__ = ["GROUP", "group", "slo_windows"]

GROUP = "vllm.slo"


def slo_windows(t: Timing) -> tuple[str, ...]:
    out: list[str] = []
    for bw in t.slo_windows:
        for w in (bw.short, bw.long):
            if w not in out:
                out.append(w)
    return tuple(sorted(out, key=duration_seconds))


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    slo = cfg.alerting.ttft_slo
    bucket_edge("ttft_slo.threshold_seconds", slo.threshold_seconds, VLLM.TTFT)
    budget = round(1 - slo.objective, 10)
    on = sc.on(sc.model)
    rules: list[dict[str, Any]] = [*rec.slo_rules(sc, slo.threshold_seconds, slo_windows(t))]
    for bw in t.slo_windows:
        count = f"{VLLM.TTFT.v1}_count"
        expr = (
            f"{rec.slo_error_ratio(bw.long)} / {budget:g} > {bw.burn:g}\n"
            f"and {on}\n{rec.slo_error_ratio(bw.short)} / {budget:g} > {bw.burn:g}\n"
            f"and {on}\nsum by ({sc.by(sc.model)}) (increase({count}[{bw.long}])) "
            f">= {slo.min_requests}"
        )
        exhaustion = _human(duration_seconds(slo.window) / bw.burn)
        rules.append(
            alert(
                "VLLMLatencySLOBurnRate",
                expr,
                bw.for_,
                bw.severity,
                "vLLM is burning its time-to-first-token error budget too fast.",
                "{{ $labels.model_name }} in namespace {{ $labels.namespace }} burns its TTFT "
                f"error budget ({slo.objective * 100:g}% of requests within "
                f"{slo.threshold_seconds:g}s over {slo.window}) "
                f"{{{{ $value | humanize }}}}x too fast over the last {bw.long} and "
                f"{bw.short} (threshold {bw.burn:g}x): at this rate the whole budget is "
                f"spent in {exhaustion}.",
                labels={"long": bw.long, "short": bw.short},
            )
        )
    return {"name": GROUP, "rules": rules}
