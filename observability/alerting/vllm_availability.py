"""vllm.availability: errors, stalled engines, down targets and absent metrics.

Absence is explicit: a crashed replica leaves `up == 0` (VLLMTargetDown), a model with no
series at all (every replica gone, or `--disable-log-stats`) trips VLLMMetricsAbsent, and
an engine that keeps requests but produces no tokens trips VLLMEngineStalled.
"""

from __future__ import annotations

from typing import Any

from observability import runtimes
from observability.alerting import recording as rec
from observability.alerting.targets import vllm_up
from observability.alerting.timing import Timing
from observability.config import BundleConfig
from observability.metrics.names import VLLM
from observability.rulebase import Scope, alert

__all__ = ["GROUP", "asleep", "group", "model_namespace"]

GROUP = "vllm.availability"

_WHERE = "{{ $labels.model_name }} in namespace {{ $labels.namespace }}"


def model_namespace(cfg: BundleConfig, key: str) -> str:
    """Namespace a configured model runs in (a per-model field wins when present)."""
    return cfg.model_namespace(key)


def asleep(sc: Scope, keys: tuple[str, ...]) -> str:
    """Engines (or pods, by `keys`) put to sleep on purpose (`/sleep`, vLLM >= 0.11): every
    engine's `sleep_state="awake"` is 0. Nothing matches on vLLM without sleep mode."""
    awake = f'{VLLM.ENGINE_SLEEP_STATE.v1}{{sleep_state="awake"}}'
    return f"max by ({sc.by(keys)}) ({awake}) == 0"


def _stalled(sc: Scope, window: str) -> str:
    """In-flight requests on an engine while it processed no prompt or output token.
    Per engine (data parallel: `engine` tells the engines of one pod apart, and one can
    stall while another serves); a sleeping engine is not stalled."""
    keys = (*sc.pod, "engine")
    by = sc.by(keys)
    on = sc.on(keys)
    inflight = f"(sum by ({by}) ({VLLM.RUNNING.v1}) + sum by ({by}) ({VLLM.WAITING.v1})) > 0"
    tokens = (
        f"(sum by ({by}) (rate({VLLM.GENERATION_TOKENS.v1}[{window}])) "
        f"+ sum by ({by}) (rate({VLLM.PROMPT_TOKENS.v1}[{window}]))) == 0"
    )
    return f"{inflight}\nand {on}\n{tokens}\nunless {on}\n{asleep(sc, keys)}"


def _target_down(cfg: BundleConfig, sc: Scope, lookback: str) -> str:
    """`up == 0` for vLLM targets, labelled with the model the pod served last (so the
    inhibition of that model's latency and queue alerts can match); a pod that never
    exposed metrics keeps its alert without model_name."""
    pre = (sc.cluster,) if sc.cluster else ()
    keys = (*pre, "namespace", "pod")
    down = f"{vllm_up(cfg)} == 0"
    known = f"group by ({sc.by(sc.pod)}) (last_over_time({VLLM.RUNNING.v1}[{lookback}]))"
    return f"({down})\n* {sc.on(keys)} group_left (model_name)\n{known}\nor {sc.on(keys)}\n({down})"


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    a = cfg.alerting
    w = t.rate_window

    def errors(severity: str, threshold: float) -> dict[str, Any]:
        return alert(
            "VLLMHighErrorRate",
            f"{rec.ERROR_RATIO_RATE5M} > {threshold:g}",
            t.error_for,
            severity,
            "vLLM requests are failing.",
            f"{{{{ $value | humanizePercentage }}}} of requests to {_WHERE} failed over the "
            f"last {w} (threshold {threshold:.0%}).",
        )

    absent = [
        alert(
            "VLLMMetricsAbsent",
            f'absent({VLLM.RUNNING.v1}{{namespace="{model_namespace(cfg, key)}", '
            f'model_name="{m.served_name}"}})',
            t.absent_for,
            "critical",
            "vLLM metrics are absent for a configured model.",
            "No vLLM engine metrics for {{ $labels.model_name }} in namespace "
            "{{ $labels.namespace }}: every replica is down or unscraped, or vLLM runs "
            "with --disable-log-stats.",
            # absent() yields no labels once the model is gone; static labels keep one
            # rule per model distinct (and routable) when several models are deployed.
            labels={"namespace": model_namespace(cfg, key), "model_name": m.served_name},
        )
        for key, m in cfg.deployed_models
    ]
    return {
        "name": GROUP,
        "rules": [
            *rec.error_rules(sc, runtimes.error_ratios(cfg, sc, rec.RATE_WINDOW)),
            errors("critical", a.error_ratio_critical),
            errors("warning", a.error_ratio_warning),
            alert(
                "VLLMEngineStalled",
                _stalled(sc, t.stalled_window),
                t.stalled_for,
                "critical",
                "vLLM engine is stalled.",
                # V0 (0.7.3) has no engine label
                "{{ if $labels.engine }}Engine {{ $labels.engine }} of pod{{ else }}Pod{{ end }} "
                "{{ $labels.pod }} serving " + _WHERE + " has {{ $value | humanize }} "
                f"requests running or waiting but processed no tokens in the last "
                f"{t.stalled_window}.",
            ),
            alert(
                "VLLMTargetDown",
                _target_down(cfg, sc, t.target_lookback),
                t.target_down_for,
                "warning",
                "vLLM scrape target is down.",
                "Prometheus cannot scrape vLLM pod {{ $labels.pod }} in namespace "
                "{{ $labels.namespace }} (job {{ $labels.job }}): the replica is crashed, "
                "restarting or unreachable.",
            ),
            *absent,
        ],
    }
