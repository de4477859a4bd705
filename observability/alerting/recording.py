"""Recording rules that unify vLLM generations, and their names for dashboards to reuse.

Names follow `level:metric:operation`. `namespace_model` rules keep (cluster,) namespace
and model_name; `namespace_pod_model` rules also keep pod. Each rule already picks the
newest series name and falls back to the vLLM 0.7.3 one, so a panel or alert that reads a
recorded series works on every supported version. The names embed the 5m window of the
standard profile and do not change under the fast profile.

Each component's recordings live in that component's rule group, ahead of its alerts, so
an alert reads the value recorded in the same evaluation.

The `vllm.recording` group (`dashboard_rules`) records what the single pane reads at a 1m
window: with the 15s scrape and evaluation intervals a 1m window holds 4 samples, the
minimum Grafana uses for `$__rate_interval` (4 x scrape), so a panel over a recorded rate
looks like the raw one at the finest useful resolution. Alerts keep their own 5m rules: a
5m rate is not the mean of 1m rates (extrapolation, counter resets), and promtool tests pin
the alert values. `namespace_model_name` recordings keep (cluster,) namespace, model_name
and the metric's own `le`/`finished_reason`; `namespace_pod_model_name` ones also keep pod.

The quantiles the dashboards draw per model are recorded too (`QUANTILE_RATE1M`,
`RESIDENCY_QUANTILE_RATE1M`), from the 1m bucket-rate recordings, one name per histogram
with the quantile in a `quantile` label (as kubernetes-mixin's
`cluster_quantile:...:histogram_quantile`). A panel then selects a few series per model
instead of aggregating every bucket at every step of the range: on Prometheus 2.42 the
`sum by (le, ...)` under `histogram_quantile` costs more than reading the buckets.
Filtering a per-model quantile by namespace and model_name selects the same values the
panel computed from the buckets before.
"""

from __future__ import annotations

from typing import Any

from observability.metrics.names import VLLM, Signal
from observability.metrics.promql import DASHBOARD_WINDOW, divide
from observability.rulebase import Scope, le_text, record

__all__ = [
    "BUCKET_RATE1M",
    "COUNT_RATE1M",
    "DASHBOARD_RECORDINGS",
    "DASHBOARD_WINDOW",
    "E2E_BUCKET_RATE5M",
    "ERROR_RATIO_RATE5M",
    "GENERATION_TOKENS_RATE1M",
    "ITL_BUCKET_RATE5M",
    "KV_CACHE_USAGE_MAX",
    "POD_FAILED_RATE1M",
    "POD_REQUESTS_RATE1M",
    "PREEMPTIONS_RATE5M",
    "PROMPT_TOKENS_BY_SOURCE_RATE1M",
    "PROMPT_TOKENS_RATE1M",
    "QUANTILES",
    "QUANTILE_RATE1M",
    "QUEUE_TIME_BUCKET_RATE5M",
    "RECORDING_RULES",
    "REQUESTS_RATE1M",
    "RESIDENCY",
    "RESIDENCY_BUCKET_RATE1M",
    "RESIDENCY_QUANTILES",
    "RESIDENCY_QUANTILE_RATE1M",
    "SUM_RATE1M",
    "TTFT_BUCKET_RATE5M",
    "VERSION_LIMITED",
    "WAITING_SUM",
    "dashboard_rules",
    "error_rules",
    "latency_rules",
    "saturation_rules",
    "slo_error_ratio",
    "slo_rules",
]

RATE_WINDOW = "5m"
_STATUS_5XX = ', status="5xx"'

TTFT_BUCKET_RATE5M = "namespace_model:vllm_time_to_first_token_seconds_bucket:rate5m"
ITL_BUCKET_RATE5M = "namespace_model:vllm_inter_token_latency_seconds_bucket:rate5m"
E2E_BUCKET_RATE5M = "namespace_model:vllm_e2e_request_latency_seconds_bucket:rate5m"
QUEUE_TIME_BUCKET_RATE5M = "namespace_model:vllm_request_queue_time_seconds_bucket:rate5m"
KV_CACHE_USAGE_MAX = "namespace_pod_model:vllm_kv_cache_usage:max"
WAITING_SUM = "namespace_model:vllm_num_requests_waiting:sum"
PREEMPTIONS_RATE5M = "namespace_model:vllm_num_preemptions:rate5m"
ERROR_RATIO_RATE5M = "namespace_model:vllm_request_errors:ratio_rate5m"


_M = "namespace_model_name"
_P = "namespace_pod_model_name"

# Histogram bucket rates per (cluster,) namespace, model_name, le; keyed by signal key.
# Families only newer versions expose are recorded only where the raw query is costly;
# they are listed in VERSION_LIMITED (the metric contract's one exception, dashboard-only).
BUCKET_RATE1M: dict[str, str] = {
    VLLM.TTFT.key: f"{_M}:vllm_time_to_first_token_seconds_bucket:rate1m",
    VLLM.ITL.key: f"{_M}:vllm_inter_token_latency_seconds_bucket:rate1m",
    VLLM.E2E.key: f"{_M}:vllm_e2e_request_latency_seconds_bucket:rate1m",
    VLLM.QUEUE_TIME.key: f"{_M}:vllm_request_queue_time_seconds_bucket:rate1m",
    VLLM.REQUEST_TPOT.key: f"{_M}:vllm_request_time_per_output_token_seconds_bucket:rate1m",
    VLLM.ITERATION_TOKENS.key: f"{_M}:vllm_iteration_tokens_total_bucket:rate1m",
    VLLM.PROMPT_LEN.key: f"{_M}:vllm_request_prompt_tokens_bucket:rate1m",
    VLLM.GENERATION_LEN.key: f"{_M}:vllm_request_generation_tokens_bucket:rate1m",
}
# Histogram _sum and _count rates (means of a phase over any selection: sum / count).
_PHASES = (VLLM.QUEUE_TIME, VLLM.PREFILL_TIME, VLLM.DECODE_TIME)
SUM_RATE1M: dict[str, str] = {
    s.key: f"{_M}:{s.v1.replace('vllm:', 'vllm_')}_sum:rate1m" for s in _PHASES if s.v1
}
COUNT_RATE1M: dict[str, str] = {
    s.key: f"{_M}:{s.v1.replace('vllm:', 'vllm_')}_count:rate1m" for s in _PHASES if s.v1
}
PROMPT_TOKENS_BY_SOURCE_RATE1M = f"{_M}:vllm_prompt_tokens_by_source:rate1m"  # keeps source


def _quantile_name(bucket_rate: str) -> str:
    """`X_bucket:rate1m` -> `X:quantile_rate1m` (same level; the quantile is a label)."""
    return bucket_rate.replace("_bucket:rate1m", ":quantile_rate1m")


# The single pane's p50/p95/p99 per model of every histogram it draws as lines.
QUANTILES = (0.5, 0.95, 0.99)
QUANTILE_RATE1M: dict[str, str] = {k: _quantile_name(n) for k, n in BUCKET_RATE1M.items()}
# KV block residency (vLLM >= 0.26 with --kv-cache-metrics): the KV-cache companion's
# p50/p99 per model. One name in every version that has them, so no fallback.
RESIDENCY = (
    "vllm:kv_block_lifetime_seconds",
    "vllm:kv_block_idle_before_evict_seconds",
    "vllm:kv_block_reuse_gap_seconds",
)
RESIDENCY_QUANTILES = (0.5, 0.99)
RESIDENCY_BUCKET_RATE1M: dict[str, str] = {
    f: f"{_M}:{f.replace('vllm:', 'vllm_')}_bucket:rate1m" for f in RESIDENCY
}
RESIDENCY_QUANTILE_RATE1M: dict[str, str] = {
    f: _quantile_name(n) for f, n in RESIDENCY_BUCKET_RATE1M.items()
}
# Dashboard recordings over families vLLM 0.7.3 / 0.10.1 do not expose: empty there, and
# their panels say so; no alert may read them (lint's metric contract).
VERSION_LIMITED = frozenset(
    {
        BUCKET_RATE1M[VLLM.REQUEST_TPOT.key],
        QUANTILE_RATE1M[VLLM.REQUEST_TPOT.key],
        PROMPT_TOKENS_BY_SOURCE_RATE1M,
        *RESIDENCY_BUCKET_RATE1M.values(),
        *RESIDENCY_QUANTILE_RATE1M.values(),
    }
)
REQUESTS_RATE1M = f"{_M}:vllm_request_success:rate1m"  # keeps finished_reason
PROMPT_TOKENS_RATE1M = f"{_M}:vllm_prompt_tokens:rate1m"
GENERATION_TOKENS_RATE1M = f"{_M}:vllm_generation_tokens:rate1m"
POD_REQUESTS_RATE1M = f"{_P}:vllm_requests:rate1m"
POD_FAILED_RATE1M = f"{_P}:vllm_requests_failed:rate1m"

DASHBOARD_RECORDINGS = (
    *BUCKET_RATE1M.values(),
    *QUANTILE_RATE1M.values(),
    *RESIDENCY_BUCKET_RATE1M.values(),
    *RESIDENCY_QUANTILE_RATE1M.values(),
    PROMPT_TOKENS_BY_SOURCE_RATE1M,
    *SUM_RATE1M.values(),
    *COUNT_RATE1M.values(),
    REQUESTS_RATE1M,
    PROMPT_TOKENS_RATE1M,
    GENERATION_TOKENS_RATE1M,
    POD_REQUESTS_RATE1M,
    POD_FAILED_RATE1M,
)
"""Every name `dashboard_rules` records (group `vllm.recording`)."""


def slo_error_ratio(window: str) -> str:
    """Share of requests whose TTFT exceeded the SLO threshold over `window`."""
    return f"namespace_model:vllm_ttft_slo_errors:ratio_rate{window}"


# Histogram recordings: recorded name -> the signal it unifies.
HISTOGRAMS: dict[str, Signal] = {
    TTFT_BUCKET_RATE5M: VLLM.TTFT,
    ITL_BUCKET_RATE5M: VLLM.ITL,
    E2E_BUCKET_RATE5M: VLLM.E2E,
    QUEUE_TIME_BUCKET_RATE5M: VLLM.QUEUE_TIME,
}

RECORDING_RULES = (
    *HISTOGRAMS,
    *DASHBOARD_RECORDINGS,
    KV_CACHE_USAGE_MAX,
    WAITING_SUM,
    PREEMPTIONS_RATE5M,
    ERROR_RATIO_RATE5M,
)
"""Every fixed recorded name (the SLO ones come from `slo_error_ratio`)."""


def latency_rules(sc: Scope, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """`sum by (le, ...) (rate(X_bucket[5m]))`, newest name first (`or` keeps the left side
    where vLLM 0.10.2-0.14 expose both ITL names)."""
    q = sc.promql(sc.model, RATE_WINDOW)
    return [record(n, q.bucket_rate(HISTOGRAMS[n])) for n in names]


def saturation_rules(sc: Scope) -> list[dict[str, Any]]:
    pod = sc.promql(sc.pod, RATE_WINDOW)
    model = sc.promql(sc.model, RATE_WINDOW)
    return [
        # max, never sum: one series per engine (DP rank) and, in 0.9.2-0.11, per API pid.
        record(KV_CACHE_USAGE_MAX, pod.gauge(VLLM.KV_CACHE_USAGE, "max")),
        record(WAITING_SUM, model.gauge(VLLM.WAITING, "sum")),
        record(PREEMPTIONS_RATE5M, model.rate(VLLM.PREEMPTIONS)),
    ]


def _http_by_model(sc: Scope, matchers: str) -> str:
    """HTTP request rate per model. `http_requests_total` has no model_name, so the pod's
    model comes from its own engine gauge; /metrics and /health scrapes are excluded
    (they would dilute the ratio on a quiet model)."""
    return f"sum by ({sc.by(sc.model)}) ({_http_by_pod(sc, matchers, RATE_WINDOW)})"


def error_rules(sc: Scope, runtime_sources: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Failed share of requests, the worse of the sources:
    - engine: `request_success_total{finished_reason="error"}` (vLLM >= 0.16);
    - HTTP: 5xx share of `/v1/*` responses (vLLM >= 0.8.3; none in 0.7.3);
    - `runtime_sources` (`source` label -> ratio per model): a runtime's own proxy
      where it answers HTTP in vLLM's place (Runtime.error_ratios; Ray Serve's).
    Each uses `num / (den > 0)` so an idle model records nothing instead of NaN."""
    q = sc.promql(sc.model, RATE_WINDOW)
    engine = divide(
        q.rate(VLLM.REQUEST_SUCCESS, extra_matchers='finished_reason="error"'),
        q.rate(VLLM.REQUEST_SUCCESS),
    )
    http_total = _http_by_model(sc, "")
    # A 5xx series appears only after the first 5xx; `or total * 0` makes it 0 before that.
    http_errors = f"({_http_by_model(sc, _STATUS_5XX)} or {http_total} * 0)"
    http = divide(http_errors, http_total)
    sources = {"engine": engine, "http": http, **(runtime_sources or {})}
    worst = " or ".join(f'label_replace({e}, "source", "{s}", "", "")' for s, e in sources.items())
    return [record(ERROR_RATIO_RATE5M, f"max by ({sc.by(sc.model)}) ({worst})")]


def slo_rules(sc: Scope, le: float, windows: tuple[str, ...]) -> list[dict[str, Any]]:
    """TTFT SLI error ratio per window: (all - at or under `le`) / all."""
    out = []
    for w in windows:
        q = sc.promql(sc.model, w)
        total = q.rate(VLLM.TTFT, suffix="_count")
        good = q.rate(VLLM.TTFT, suffix="_bucket", extra_matchers=f'le="{le_text(le)}"')
        out.append(record(slo_error_ratio(w), divide(f"{total} - {good}", total)))
    return out


def _http_by_pod(sc: Scope, matchers: str, window: str) -> str:
    """HTTP `/v1/*` request rate per pod, labelled with the model its engine serves."""
    pod_keys = (*((sc.cluster,) if sc.cluster else ()), "namespace", "pod")
    sel = f'{VLLM.HTTP_REQUESTS.v1}{{handler=~"/v1/.*"{matchers}}}'
    return (
        f"sum by ({sc.by(pod_keys)}) (rate({sel}[{window}])) "
        f"* {sc.on(pod_keys)} group_left (model_name) "
        f"group by ({sc.by(sc.pod)}) ({VLLM.RUNNING.v1})"
    )


def dashboard_rules(sc: Scope) -> list[dict[str, Any]]:
    """What the single pane reads, pre-aggregated at `DASHBOARD_WINDOW` with the 0.7.3
    fallbacks inside, so panels read a handful of series and carry no `or`.

    Failed/total requests per pod: the HTTP `/v1/*` 5xx share where the API server exposes
    HTTP metrics (vLLM >= 0.8.3), else (0.7.3) requests finished with reason error/abort
    (which V0 never counts: no error reason, and aborts leave the scheduler uncounted).
    Numerator and denominator are recorded, not the ratio, so any selection of pods or
    models divides correctly. A 5xx (or error/abort) series appears only after the first
    failure: `or total * 0` records 0 until then."""
    w = DASHBOARD_WINDOW
    model = sc.promql(sc.model, w)
    pod = sc.promql(sc.pod, w)
    rules = [record(BUCKET_RATE1M[s.key], model.bucket_rate(s)) for s in _DASHBOARD_HISTOGRAMS]
    rules += [
        _quantile(QUANTILE_RATE1M[s.key], BUCKET_RATE1M[s.key], p)
        for s in _DASHBOARD_HISTOGRAMS
        for p in QUANTILES
    ]
    for family in RESIDENCY:
        bucket = RESIDENCY_BUCKET_RATE1M[family]
        rules.append(
            record(bucket, f"sum by ({sc.by((*sc.model, 'le'))}) (rate({family}_bucket[{w}]))")
        )
        rules += [
            _quantile(RESIDENCY_QUANTILE_RATE1M[family], bucket, p) for p in RESIDENCY_QUANTILES
        ]
    for s in _PHASES:
        rules += [
            record(SUM_RATE1M[s.key], model.rate(s, suffix="_sum")),
            record(COUNT_RATE1M[s.key], model.rate(s, suffix="_count")),
        ]
    rules.append(
        record(
            PROMPT_TOKENS_BY_SOURCE_RATE1M,
            model.rate(VLLM.PROMPT_TOKENS_BY_SOURCE, extra_by=("source",)),
        )
    )
    rules += [
        record(REQUESTS_RATE1M, model.rate(VLLM.REQUEST_SUCCESS, extra_by=("finished_reason",))),
        record(PROMPT_TOKENS_RATE1M, model.rate(VLLM.PROMPT_TOKENS)),
        record(GENERATION_TOKENS_RATE1M, model.rate(VLLM.GENERATION_TOKENS)),
    ]
    http_total = _http_by_pod(sc, "", w)
    engine_total = pod.rate(VLLM.REQUEST_SUCCESS)
    engine_failed = pod.rate(VLLM.REQUEST_SUCCESS, extra_matchers='finished_reason=~"error|abort"')
    rules += [
        record(POD_REQUESTS_RATE1M, f"({http_total})\nor\n({engine_total})"),
        record(
            POD_FAILED_RATE1M,
            f"({_http_by_pod(sc, _STATUS_5XX, w)}\nor\n{http_total} * 0)\nor\n"
            f"({engine_failed}\nor\n{engine_total} * 0)",
        ),
    ]
    return rules


def _quantile(name: str, bucket_rate: str, q: float) -> dict[str, Any]:
    """`histogram_quantile(q, <bucket-rate recording>)`, labelled `quantile="q"`. It reads
    a recording of the same group, evaluated before it in the same round (rules of a group
    run in order), so it is never a round behind."""
    rule = record(name, f"histogram_quantile({q}, {bucket_rate})")
    rule["labels"] = {"quantile": str(q)}
    return rule


_DASHBOARD_HISTOGRAMS = (
    VLLM.TTFT,
    VLLM.ITL,
    VLLM.E2E,
    VLLM.QUEUE_TIME,
    VLLM.REQUEST_TPOT,
    VLLM.ITERATION_TOKENS,
    VLLM.PROMPT_LEN,
    VLLM.GENERATION_LEN,
)
