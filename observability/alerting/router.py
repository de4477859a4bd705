"""vllm.router: the inference pool's endpoint picker (EPP), rendered only with
`gateway.inference_pool.enabled`.

First the mapping: one recording rule per normalised family (`epp:<key>`,
observability/metrics/router.py) from every EPP naming generation. A target contributes
only its newest name: llm-d-router >= 0.9 writes `llm_d_epp_*` *and* each deprecated twin
(`inference_objective_*`, `inference_pool_*`, ...) for every event, with different label
sets (the new names add `fairness_id`), so a plain `or` would keep both and every sum
downstream would count the request twice. Each older name therefore enters `unless on`
the target (cluster, namespace, pod) exposes a newer one. The rules keep every label, so
counters stay counters for `rate()`.

Then the alerts, each by pool (the EPP's namespace and the `inference_pool` target label
its ServiceMonitor sets): the EPP down or refusing the scrape, no ready endpoints,
saturation and flow-control backlog, request errors by code, scheduling failures,
data-layer poll errors, router-side TTFT, and for a P/D pool the disaggregation ratio
and vLLM's NIXL transfer failures.
"""

from __future__ import annotations

from typing import Any

from observability.alerting.timing import Timing
from observability.config import BundleConfig
from observability.metrics.router import (
    EPP_JOB,
    NIXL_FAILED,
    POOL_LABEL,
    ROUTER_FAMILIES,
    RouterFamily,
    family,
)
from observability.rulebase import Scope, alert, record

__all__ = [
    "ALERTS",
    "EPP_DOWN",
    "GROUP",
    "NO_READY",
    "SYMPTOMS",
    "group",
    "mapping_rules",
    "pool_scope",
    "target_scope",
]

GROUP = "vllm.router"

EPP_DOWN = "InferencePoolEPPDown"
NO_READY = "InferencePoolNoReadyEndpoints"
SATURATED = "InferencePoolSaturated"
BACKLOG = "InferencePoolQueueBacklog"
ERRORS = "InferencePoolRequestErrors"
SCHEDULING = "InferencePoolSchedulingFailures"
DATALAYER = "InferencePoolDatalayerPollErrors"
TTFT = "InferencePoolHighTimeToFirstToken"
DISAGG = "InferencePoolDisaggregationCollapsed"
NIXL = "VLLMNixlTransferFailures"
ALERTS = (EPP_DOWN, NO_READY, SATURATED, BACKLOG, ERRORS, SCHEDULING, DATALAYER, TTFT, DISAGG, NIXL)
# What a pool without ready endpoints (or without its EPP) causes: muted by those two.
SYMPTOMS = (SATURATED, BACKLOG, ERRORS, SCHEDULING, TTFT)

_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("",), "gauge": ("",)}
_POOL = "pool {{ $labels.inference_pool }} (namespace {{ $labels.namespace }})"


def target_scope(sc: Scope) -> tuple[str, ...]:
    """One scrape target: (cluster,) namespace, pod."""
    return (*((sc.cluster,) if sc.cluster else ()), "namespace", "pod")


def pool_scope(sc: Scope) -> tuple[str, ...]:
    """One pool: (cluster,) the EPP's namespace and the pool's name."""
    return (*((sc.cluster,) if sc.cluster else ()), "namespace", POOL_LABEL)


def _newest_per_target(fam: RouterFamily, suffix: str, on: str) -> str:
    names = [s + suffix for s in fam.sources]
    parts = [names[0]]
    for i, name in enumerate(names[1:], start=1):
        newer = " or ".join(names[:i])
        parts.append(f"({name} unless on ({on}) ({newer}))")
    return " or ".join(parts)


def mapping_rules(sc: Scope) -> list[dict[str, Any]]:
    on = sc.by(target_scope(sc))
    return [
        record(fam.record + suffix, _newest_per_target(fam, suffix, on))
        for fam in ROUTER_FAMILIES
        for suffix in _SUFFIXES[fam.kind]
    ]


def _r(key: str) -> str:
    return family(key).record


def _epp_down(cfg: BundleConfig, t: Timing, by: str) -> list[dict[str, Any]]:
    pool, ns = cfg.pool.name, cfg.epp_namespace
    cause = (
        "the EPP is down, crash looping or has no ready pod (the gateway then fails every "
        "request to the pool), or it refuses the bundle's token (HTTP 401/403: check "
        "gateway.inference_pool.auth)."
    )
    summary = "The inference pool's endpoint picker cannot be scraped."
    return [
        alert(
            EPP_DOWN,
            f'max by ({by}) (up{{job="{EPP_JOB}"}}) == 0',
            t.target_down_for,
            "critical",
            summary,
            "No endpoint picker of " + _POOL + " answers its metrics scrape: " + cause,
        ),
        alert(
            EPP_DOWN,
            f'absent(up{{job="{EPP_JOB}", {POOL_LABEL}="{pool}"}})',
            t.target_down_for,
            "critical",
            summary,
            # absent() has no labels to template: the pool's names are static.
            f"No endpoint picker of pool {pool} (namespace {ns}) is left to scrape: " + cause,
            labels={"namespace": ns, POOL_LABEL: pool},
        ),
    ]


def _ratio_alerts(cfg: BundleConfig, t: Timing, by: str) -> list[dict[str, Any]]:
    th = cfg.pool.thresholds
    w = t.rate_window
    err_by = f"{by}, model_name, error_code"
    errors = (
        f"sum by ({err_by}) (rate({_r('request_error_total')}[{w}])) "
        f"/ on ({by}, model_name) group_left () "
        f"(sum by ({by}, model_name) (rate({_r('request_total')}[{w}])) > 0)"
    )

    def error_alert(severity: str, threshold: float) -> dict[str, Any]:
        return alert(
            ERRORS,
            f"{errors} > {threshold}",
            t.error_for,
            severity,
            "Requests through the inference pool fail.",
            "{{ $value | humanizePercentage }} of the requests for {{ $labels.model_name }} "
            "through " + _POOL + " failed with {{ $labels.error_code }} over the last "
            f"{w} (threshold {threshold:.0%}).",
        )

    attempts = _r("scheduler_attempts_total")
    return [
        error_alert("critical", th.error_ratio_critical),
        error_alert("warning", th.error_ratio_warning),
        alert(
            SCHEDULING,
            f'sum by ({by}) (rate({attempts}{{status="failure"}}[{w}])) '
            f"/ (sum by ({by}) (rate({attempts}[{w}])) > 0) > {th.scheduling_failure_ratio}",
            t.error_for,
            "warning",
            "The endpoint picker fails to schedule requests.",
            "{{ $value | humanizePercentage }} of the scheduling attempts of " + _POOL + " "
            f"failed over the last {w} (threshold {th.scheduling_failure_ratio:.0%}): no "
            "endpoint passed the scheduler's filters.",
        ),
        alert(
            DATALAYER,
            f"sum by ({by}, source_type) (rate({_r('datalayer_poll_errors_total')}[{w}])) "
            f"> {th.datalayer_poll_errors_per_second}",
            t.error_for,
            "warning",
            "The endpoint picker cannot poll its endpoints.",
            "The " + _POOL + " endpoint picker's {{ $labels.source_type }} data source fails "
            "{{ $value | humanize }} polls per second: it routes on stale or missing queue "
            "and KV-cache readings (blind to its endpoints).",
        ),
    ]


def _pool_alerts(cfg: BundleConfig, t: Timing, by: str) -> list[dict[str, Any]]:
    th = cfg.pool.thresholds
    w = t.rate_window
    return [
        alert(
            NO_READY,
            f"max by ({by}) ({_r('ready_endpoints')}) == 0",
            t.target_down_for,
            "critical",
            "The inference pool has no ready endpoints.",
            "The endpoint picker of " + _POOL + " sees no ready model server: every request "
            "to the pool fails (503) or waits in flow control.",
        ),
        alert(
            SATURATED,
            f'max by ({by}) ({_r("flow_control_pool_saturation")}{{stage=~"effective|"}}) '
            f"> {th.saturation}",
            t.saturation_for,
            "warning",
            "The inference pool is saturated.",
            "Flow-control saturation of " + _POOL + " is {{ $value | humanize }} (threshold "
            f"{th.saturation:g}; 1.0 is where dispatch stops): requests queue in the router.",
        ),
        alert(
            BACKLOG,
            f"sum by ({by}) ({_r('flow_control_queue_size')}) > {th.flow_control_queue}",
            t.saturation_for,
            "warning",
            "Requests pile up in the inference pool's flow-control queue.",
            "{{ $value | humanize }} requests wait in the flow-control queue of " + _POOL + " "
            f"(threshold {th.flow_control_queue}).",
        ),
        alert(
            TTFT,
            f"histogram_quantile(0.99, sum by ({by}, model_name, le) "
            f"(rate({_r('request_ttft_seconds')}_bucket[{w}]))) > {th.ttft_p99_seconds}",
            t.latency_for,
            "warning",
            "Router-side time to first token is high.",
            "p99 time to first token of {{ $labels.model_name }} through " + _POOL + " is "
            "{{ $value | humanizeDuration }} (threshold "
            f"{th.ttft_p99_seconds:g}s), queueing in the router included.",
        ),
    ]


def _disagg_alerts(cfg: BundleConfig, t: Timing, sc: Scope, by: str) -> list[dict[str, Any]]:
    th = cfg.pool.thresholds
    w = t.rate_window
    d = _r("disagg_decision_total")
    model_by = sc.by(sc.model)
    return [
        alert(
            DISAGG,
            f'1 - sum by ({by}, model_name) (rate({d}{{decision_type="decode-only"}}[{w}])) '
            f"/ (sum by ({by}, model_name) (rate({d}[{w}])) > 0) < {th.disagg_min_ratio}",
            t.error_for,
            "warning",
            "Prefill/decode disaggregation has collapsed.",
            "Only {{ $value | humanizePercentage }} of the requests for "
            "{{ $labels.model_name }} through " + _POOL + " were split into prefill and "
            f"decode over the last {w} (threshold {th.disagg_min_ratio:.0%}): the prefill "
            "workers are gone or the decider no longer selects them.",
        ),
        alert(
            NIXL,
            f"sum by ({model_by}) (rate({NIXL_FAILED}[{w}])) > 0",
            t.error_for,
            "warning",
            "NIXL KV-cache transfers fail.",
            "vLLM serving {{ $labels.model_name }} in namespace {{ $labels.namespace }} "
            "fails {{ $value | humanize }} NIXL KV-cache transfers per second: "
            "disaggregated requests recompute their prefill or fail.",
        ),
    ]


def group(cfg: BundleConfig, t: Timing, sc: Scope) -> dict[str, Any]:
    if not cfg.pool.enabled:
        return {"name": GROUP, "rules": []}
    by = sc.by(pool_scope(sc))
    rules = [
        *mapping_rules(sc),
        *_epp_down(cfg, t, by),
        *_pool_alerts(cfg, t, by),
        *_ratio_alerts(cfg, t, by),
    ]
    if cfg.pool.disaggregation:
        rules += _disagg_alerts(cfg, t, sc, by)
    return {"name": GROUP, "rules": rules}
